/**
 * Integrity of a signature's /ByteRange and /Contents (ISO 32000-2 §12.8.1) and the streamed reading of the
 * signed bytes. The only acceptable shape is [0, a, b, c] where a is the offset of the /Contents '<', b the
 * offset just after its '>', and b + c the end of the revision that added the signature. Anything else leaves
 * bytes that are read by a viewer but not signed — the "signature wrapping" class of Mladenov et al.,
 * "1 Trillion Dollar Refund" (NDSS 2019) — and an empty or malformed /Contents or /ByteRange is their
 * "universal signature forgery".
 */
import type { PdfDocument, PdfRevisionView, Revision } from '../document.js';
import type { PdfDict } from '../objects.js';
import { BufferPool } from '../buffer-pool.js';
import { BufferSource, type ByteSource } from '../source.js';

export interface ByteRangeFacts {
  ok: boolean;
  problems: string[];
  /** Present when /ByteRange is four integers. */
  ranges?: [number, number, number, number];
  /** The CMS (or timestamp token) DER, without the zero padding; present when /Contents is usable. */
  cms?: Buffer;
  /** The decoded /Contents with its padding (the VRI key is computed over these bytes). */
  contents?: Buffer;
  /** Index of the revision whose end the ByteRange reaches; -1 when none. */
  coveredRevision: number;
  coveredEnd: number;
}

const HEX_STRING = /^<[0-9A-Fa-f]*>$/;
const MAX_CONTENTS_BYTES = 16 * 1024 * 1024;

export async function checkByteRange(
  doc: PdfDocument,
  view: PdfRevisionView,
  sig: PdfDict,
): Promise<ByteRangeFacts> {
  const problems: string[] = [];
  const facts: ByteRangeFacts = { ok: false, problems, coveredRevision: -1, coveredEnd: 0 };
  const size = doc.source.size;
  const numbers = await view.resolveNumbers(sig.get('ByteRange'));
  const contents = await view.resolve(sig.get('Contents'));
  if (!numbers || numbers.length !== 4 || !numbers.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    problems.push(
      'the /ByteRange is missing or is not four non-negative integers (universal signature forgery)',
    );
  }
  if (contents?.kind !== 'string' || !contents.isHex) {
    problems.push('the /Contents is missing or is not a hex string (universal signature forgery)');
  } else if (contents.bytes.length === 0 || contents.bytes.every((b) => b === 0)) {
    problems.push('the /Contents is empty: there is no signature (universal signature forgery)');
  }
  if (problems.length || !numbers || contents?.kind !== 'string') return facts;
  const [start, a, b, c] = numbers as [number, number, number, number];
  facts.ranges = [start, a, b, c];
  facts.coveredEnd = b + c;
  facts.contents = contents.bytes;
  const where = contents.range;
  if (!where) {
    problems.push(
      'the signature dictionary is inside an object stream, so its /Contents has no position the /ByteRange can name',
    );
    return facts;
  }
  const gap = `/ByteRange [${numbers.join(' ')}]`;
  if (start !== 0) problems.push(`${gap} does not start at byte 0: the file's first bytes are not signed`);
  if (a !== where.start || b !== where.end) {
    problems.push(
      `${gap} does not exclude exactly the /Contents hex string (bytes ${where.start}–${where.end}): ` +
        'bytes outside the signed ranges are read by viewers (signature wrapping)',
    );
  }
  if (!(a < b) || b + c > size) problems.push(`${gap} overlaps itself or reaches past the end of the file`);
  if (problems.length) return facts;

  if (b - a > 2 * MAX_CONTENTS_BYTES + 2) {
    problems.push(`the /Contents is larger than ${MAX_CONTENTS_BYTES} bytes`);
    return facts;
  }
  const raw = (await doc.source.read(a, b - a)).toString('latin1');
  if (!HEX_STRING.test(raw))
    problems.push('the /Contents holds characters other than hex digits (signature wrapping)');
  else if ((raw.length - 2) % 2 !== 0) problems.push('the /Contents has an odd number of hex digits');

  const k = await revisionEndingAt(doc, b + c);
  if (k < 0) {
    problems.push(
      `the signed bytes end at ${b + c}, which is not the end (%%EOF) of any revision of the file`,
    );
  } else {
    facts.coveredRevision = k;
    const from = k > 0 ? (doc.revisions[k - 1] as Revision).endOffset : 0;
    if (a < from) {
      problems.push(
        `the signature dictionary lies in an earlier revision than the one its /ByteRange ends at (revision ${k + 1})`,
      );
    }
  }
  const cms = trimPadding(contents.bytes);
  if (!cms) problems.push('the /Contents does not hold one DER structure followed only by zero padding');
  else facts.cms = cms;
  facts.ok = problems.length === 0;
  return facts;
}

/** The revision whose end is `end`, allowing for the end-of-line after "%%EOF" (and only that) to be left out. */
async function revisionEndingAt(doc: PdfDocument, end: number): Promise<number> {
  const k = doc.revisions.findIndex((r) => end <= r.endOffset && end >= r.endOffset - 2 && end > r.startxref);
  if (k < 0) return -1;
  const rest = await doc.source.read(end, doc.revisions[k]!.endOffset - end);
  return rest.every((x) => x === 0x0a || x === 0x0d) ? k : -1;
}

/** The DER element at the start of `bytes`, when everything after it is zero padding. */
export function trimPadding(bytes: Buffer): Buffer | undefined {
  if (bytes.length < 2 || bytes[0] !== 0x30) return undefined;
  const first = bytes[1] as number;
  let len: number;
  let header: number;
  if (first < 0x80) {
    len = first;
    header = 2;
  } else {
    const n = first & 0x7f;
    if (n === 0) return bytes; // BER indefinite length: the CMS reader finds the end itself
    if (n > 4 || bytes.length < 2 + n) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (bytes[2 + i] as number);
    header = 2 + n;
  }
  const total = header + len;
  if (total > bytes.length) return undefined;
  for (let i = total; i < bytes.length; i++) if (bytes[i] !== 0) return undefined;
  return bytes.subarray(0, total);
}

const CHUNK = 1024 * 1024;
const chunks = new BufferPool(CHUNK, 4);

/**
 * The signed bytes, streamed in 1 MiB chunks: memory stays flat whatever the file's size. Each chunk is
 * valid until the next one is asked for (consumers hash it, or copy what they keep).
 */
export async function* signedBytes(
  source: ByteSource,
  ranges: readonly [number, number, number, number],
): AsyncGenerator<Uint8Array> {
  const [s1, l1, s2, l2] = ranges;
  // A file is read straight into a pooled buffer; memory is handed out as views; any other source's
  // reads are copied, since it may reuse its buffers.
  const buffer = source.readInto ? chunks.take() : undefined;
  try {
    for (const [start, length] of [
      [s1, l1],
      [s2, l2],
    ] as const) {
      for (let off = start; off < start + length; off += CHUNK) {
        const want = Math.min(CHUNK, start + length - off);
        let chunk: Buffer;
        if (buffer && source.readInto)
          chunk = buffer.subarray(0, await source.readInto(buffer.subarray(0, want), off));
        else if (source instanceof BufferSource) chunk = await source.read(off, want);
        else chunk = Buffer.from(await source.read(off, want));
        if (chunk.length === 0) return;
        yield chunk;
      }
    }
  } finally {
    if (buffer) chunks.give(buffer);
  }
}
