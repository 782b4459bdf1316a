/**
 * File-structure tricks that let different readers see different documents (Mladenov et al., CCS 2019, and
 * Mainka et al., NDSS 2021, appendix on "%%EOF" and xref manipulations):
 *   - bytes after the last revision's %%EOF that no xref describes (a reader that repairs or scans the file
 *     may still show objects from them);
 *   - a linearized file whose first-page xref and main xref disagree about where an object is;
 *   - an incremental update that defines objects ("n g obj") its own xref does not point at.
 * Each finding names the revision (0-based) it belongs to; the caller judges it against each signature.
 */
import type { PdfDocument } from '../document.js';

export interface StructureFinding {
  /** 0-based revision index; for trailing data, the last revision. */
  revision: number;
  /** True for data after the last revision (never covered by any signature). */
  trailing?: boolean;
  text: string;
}

const SCAN_CHUNK = 1024 * 1024;
const MAX_SCAN_BYTES = 64 * 1024 * 1024;
const OBJ_HEADER = /(?:^|[\r\n\s])(\d{1,10})\s+(\d{1,5})\s+obj\b/g;

export async function structureFindings(doc: PdfDocument): Promise<StructureFinding[]> {
  const out: StructureFinding[] = [];
  const revs = doc.revisions;
  const last = revs.length - 1;
  const tail = await nonBlankAfter(doc, revs[last]!.endOffset);
  if (tail > 0)
    out.push({
      revision: last,
      trailing: true,
      text: `${tail} bytes after the last %%EOF belong to no revision and are signed by nothing (data appended after %%EOF)`,
    });
  for (const rev of revs) {
    if (rev.sections.length < 2) continue;
    const [first, main] = rev.sections as [(typeof rev.sections)[0], (typeof rev.sections)[0]];
    const disagree: number[] = [];
    for (const [num, e] of first.entries) {
      const m = main.entries.get(num);
      if (!m || m.type === 'free' || e.type === 'free') continue;
      const same =
        e.type === m.type &&
        (e.type === 'offset'
          ? e.offset === (m as typeof e).offset
          : e.streamNum === (m as typeof e).streamNum && e.index === (m as typeof e).index);
      if (!same) disagree.push(num);
    }
    if (disagree.length)
      out.push({
        revision: rev.index,
        text: `the linearized first-page xref and the main xref disagree about objects ${disagree.slice(0, 10).join(', ')} (linearization trick)`,
      });
  }
  for (let k = 1; k <= last; k++) {
    const hidden = await unlistedDefinitions(doc, k);
    if (hidden.length)
      out.push({
        revision: k,
        text: `revision ${k + 1} defines objects its xref does not point at (${hidden.slice(0, 10).join(', ')}): a reader that rebuilds the xref would show them`,
      });
  }
  return out;
}

/** How many bytes after `from` are neither whitespace nor NUL (bounded scan). */
async function nonBlankAfter(doc: PdfDocument, from: number): Promise<number> {
  let count = 0;
  for (let off = from; off < doc.source.size && off - from < MAX_SCAN_BYTES; off += SCAN_CHUNK) {
    const chunk = await doc.source.read(off, SCAN_CHUNK);
    for (const b of chunk)
      if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09 && b !== 0x0c && b !== 0) count++;
  }
  return count;
}

/** Object numbers defined in revision `k`'s body that none of its xref sections lists. */
async function unlistedDefinitions(doc: PdfDocument, k: number): Promise<string[]> {
  const rev = doc.revisions[k]!;
  const start = doc.revisions[k - 1]!.endOffset;
  const end = Math.min(...rev.sections.map((s) => s.offset), rev.endOffset);
  if (end <= start || end - start > MAX_SCAN_BYTES) return [];
  const listed = new Set<number>();
  for (const s of rev.sections) {
    for (const sec of s.hybrid ? [s, s.hybrid] : [s]) for (const n of sec.entries.keys()) listed.add(n);
    if (s.streamRef) listed.add(s.streamRef.num);
  }
  const text = (await doc.source.read(start, end - start)).toString('latin1');
  const hidden: string[] = [];
  for (const m of text.matchAll(OBJ_HEADER)) {
    const num = Number(m[1]);
    if (!listed.has(num)) hidden.push(`${num} ${m[2]} obj`);
  }
  return hidden;
}
