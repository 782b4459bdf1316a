import { PdfLimitError, PdfLoopError, PdfSyntaxError, PdfXrefError } from './errors.js';
import { decodeFilters } from './filters.js';
import type { FilterSpec } from './filters.js';
import { Lexer, NeedMoreData } from './lexer.js';
import type { PdfLimits } from './limits.js';
import { PdfDict, PdfNumber, PdfRef } from './objects.js';
import type { PdfObject, PdfStream } from './objects.js';
import { parseObjectStream } from './object-streams.js';
import { ObjectParser, readIndirectObject } from './parser.js';
import type { ByteSource } from './source.js';

/** One cross-reference entry (ISO 32000-2 §7.5.4, §7.5.8.3). */
export type XrefEntry =
  | { readonly type: 'free'; readonly gen: number; readonly next: number }
  | { readonly type: 'offset'; readonly offset: number; readonly gen: number }
  | { readonly type: 'compressed'; readonly streamNum: number; readonly index: number };

/** One xref section as written: a classic table + trailer, or an xref stream. */
export interface XrefSection {
  readonly kind: 'table' | 'stream' | 'recovered';
  /** Offset of the "xref" keyword or of the xref stream object. */
  readonly offset: number;
  /** Offset just past the trailer dictionary / the xref stream's "endobj". */
  readonly end: number;
  readonly entries: ReadonlyMap<number, XrefEntry>;
  /** The trailer dictionary, or the xref stream's dictionary. */
  readonly trailer: PdfDict;
  /** The xref stream object itself (kind 'stream'). */
  readonly streamRef?: PdfRef;
  /** A hybrid-reference file's /XRefStm section (§7.5.8.4), consulted after this table. */
  readonly hybrid?: XrefSection;
  /** /Prev, the previous section's offset. */
  readonly prev?: number;
}

export interface XrefReadOptions {
  limits: PdfLimits;
  recover?: boolean;
  resolveLength: (ref: PdfRef) => Promise<number | undefined>;
}

const TAIL_WINDOW = 1024;
const MAX_TAIL_WINDOW = 64 * 1024;

/** The offset after the last "startxref" near the end of the file (§7.5.5). */
export async function findStartxref(source: ByteSource): Promise<number> {
  for (let window = TAIL_WINDOW; ; window *= 8) {
    const from = Math.max(0, source.size - window);
    const tail = await source.read(from, source.size - from);
    const at = tail.lastIndexOf('startxref');
    if (at >= 0) {
      const m = /^startxref[\s]*(\d{1,15})/.exec(tail.toString('latin1', at, at + 40));
      if (!m) throw new PdfXrefError(`"startxref" at byte ${from + at} is not followed by an offset`);
      const offset = Number(m[1]);
      if (offset >= source.size)
        throw new PdfXrefError(
          `startxref offset ${offset} is beyond the end of the file (size ${source.size})`,
        );
      return offset;
    }
    if (from === 0 || window >= MAX_TAIL_WINDOW)
      throw new PdfXrefError(
        `no "startxref" in the last ${Math.min(window, source.size)} bytes: the file is truncated or not a PDF`,
      );
  }
}

/** Read the xref section at `offset`: a table if "xref" is there, else an xref stream object. */
export async function readXrefSection(
  source: ByteSource,
  offset: number,
  opts: XrefReadOptions,
): Promise<XrefSection> {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= source.size)
    throw new PdfXrefError(`xref offset ${offset} is outside the file (size ${source.size})`);
  const head = (await source.read(offset, 32)).toString('latin1');
  if (/^\s*xref/.test(head)) {
    const table = await readXrefTable(source, offset, opts);
    const stm = table.trailer.getNumber('XRefStm');
    if (stm === undefined) return table;
    const hybrid = await readXrefStream(source, stm, opts);
    return { ...table, hybrid };
  }
  if (/^\s*\d+\s+\d+\s+obj/.test(head)) return readXrefStream(source, offset, opts);
  throw new PdfXrefError(`xref offset ${offset} does not point at an xref table or stream`);
}

async function readXrefTable(
  source: ByteSource,
  offset: number,
  opts: XrefReadOptions,
): Promise<XrefSection> {
  for (let window = 64 * 1024; ; window = Math.min(window * 8, opts.limits.maxObjectBytes)) {
    const buf = await source.read(offset, window);
    const lex = new Lexer(buf, offset, offset + buf.length >= source.size, opts.limits.maxStringBytes);
    try {
      return parseXrefTable(lex, offset, opts);
    } catch (e) {
      if (!(e instanceof NeedMoreData)) throw e;
      if (window >= opts.limits.maxObjectBytes)
        throw new PdfLimitError(
          `xref table at byte ${offset} is larger than ${opts.limits.maxObjectBytes} bytes`,
        );
    }
  }
}

function isEntryAhead(lex: Lexer): boolean {
  const save = lex.pos;
  try {
    const a = lex.next();
    const b = lex.next();
    const c = lex.next();
    return (
      a.type === 'int' && b.type === 'int' && c.type === 'keyword' && (c.value === 'n' || c.value === 'f')
    );
  } finally {
    lex.pos = save;
  }
}

/**
 * Classic table (§7.5.4). Entries are read as tokens, so 19-, 20- and 21-byte entries all parse. A
 * subsection with fewer entries than announced ends at the next header or "trailer"; extra entries
 * (three tokens ending in n/f, which cannot be a header) continue the subsection. A table starting at
 * object 1 whose first entry is the free-list head "0000000000 65535 f" is read as starting at 0.
 */
function parseXrefTable(lex: Lexer, offset: number, opts: XrefReadOptions): XrefSection {
  const kw = lex.next();
  if (kw.type !== 'keyword' || kw.value !== 'xref')
    throw new PdfXrefError(`xref offset ${offset} does not point at an xref table or stream`);
  const entries = new Map<number, XrefEntry>();
  let first = true;
  for (;;) {
    const t = lex.next();
    if (t.type === 'keyword' && t.value === 'trailer') break;
    const t2 = lex.next();
    if (t.type !== 'int' || t2.type !== 'int' || t.value < 0 || t2.value < 0)
      throw new PdfXrefError(
        `xref table at byte ${offset}: expected a subsection header or "trailer" at byte ${t.start}`,
      );
    let num = t.value;
    if (num + t2.value > opts.limits.maxObjectNumber + 1)
      throw new PdfLimitError(
        `xref subsection ${num} ${t2.value} at byte ${t.start} exceeds the object number limit`,
      );
    // Read entries while they look like entries, whatever the header's count says (see above).
    for (let i = 0; isEntryAhead(lex); i++) {
      const o = lex.next() as { value: number; start: number };
      const g = lex.next() as { value: number };
      const k = lex.next() as { value: string };
      if (first && i === 0 && num === 1 && k.value === 'f' && o.value === 0 && g.value === 65535) num = 0;
      if (num + i > opts.limits.maxObjectNumber)
        throw new PdfLimitError(`xref entry for object ${num + i} exceeds the object number limit`);
      if (g.value > 65535)
        throw new PdfXrefError(`xref entry at byte ${o.start} has generation ${g.value} > 65535`);
      const entry: XrefEntry =
        k.value === 'n' && o.value > 0
          ? { type: 'offset', offset: o.value, gen: g.value }
          : { type: 'free', gen: g.value, next: o.value };
      if (!entries.has(num + i)) entries.set(num + i, entry);
    }
    first = false;
  }
  const parser = new ObjectParser(lex, opts.limits);
  const trailer = parser.parseValue(0);
  if (trailer.kind !== 'dict')
    throw new PdfXrefError(`the trailer after the xref table at byte ${offset} is not a dictionary`);
  return { kind: 'table', offset, end: lex.offset, entries, trailer, prev: prevOf(trailer) };
}

function prevOf(trailer: PdfDict): number | undefined {
  const prev = trailer.get('Prev');
  if (prev === undefined) return undefined;
  if (prev.kind !== 'number' || !Number.isSafeInteger(prev.value) || prev.value < 0)
    throw new PdfXrefError('trailer /Prev is not a non-negative integer');
  return prev.value;
}

/** The /Filter and /DecodeParms lists of a stream dictionary as filter specs. */
export function filterSpecs(dict: PdfDict): FilterSpec[] {
  const f = dict.get('Filter');
  const p = dict.get('DecodeParms') ?? dict.get('DP');
  const names: PdfObject[] = f === undefined ? [] : f.kind === 'array' ? f.items : [f];
  const parms: (PdfObject | undefined)[] = p === undefined ? [] : p.kind === 'array' ? p.items : [p];
  return names.map((n, i) => {
    if (n.kind !== 'name') throw new PdfSyntaxError('stream /Filter entries must be names');
    const parm = parms[i];
    return parm?.kind === 'dict' ? { name: n.value, parms: parm } : { name: n.value };
  });
}

/** Xref stream (§7.5.8); never encrypted (§7.6.2). */
async function readXrefStream(
  source: ByteSource,
  offset: number,
  opts: XrefReadOptions,
): Promise<XrefSection> {
  let obj;
  try {
    obj = await readIndirectObject(source, offset, opts);
  } catch (e) {
    if (e instanceof PdfSyntaxError)
      throw new PdfXrefError(
        `xref offset ${offset} does not point at an xref table or stream (${e.message})`,
      );
    throw e;
  }
  const stream = obj.value;
  if (stream.kind !== 'stream' || stream.dict.getName('Type') !== 'XRef')
    throw new PdfXrefError(
      `xref offset ${offset} does not point at an xref table or stream (object ${obj.ref.num} is not /Type /XRef)`,
    );
  const entries = parseXrefStreamEntries(stream, await rawStreamBytes(source, stream), opts.limits);
  return {
    kind: 'stream',
    offset,
    end: obj.range?.end ?? offset,
    entries,
    trailer: stream.dict,
    streamRef: obj.ref,
    prev: prevOf(stream.dict),
  };
}

async function rawStreamBytes(source: ByteSource, stream: PdfStream): Promise<Buffer> {
  if (stream.data.kind === 'memory') return stream.data.bytes;
  return source.read(stream.data.offset, stream.data.length);
}

function intArray(dict: PdfDict, key: string): number[] | undefined {
  const v = dict.get(key);
  if (v === undefined) return undefined;
  if (
    v.kind !== 'array' ||
    v.items.some((x) => x.kind !== 'number' || !Number.isSafeInteger(x.value) || x.value < 0)
  )
    throw new PdfXrefError(`xref stream /${key} is not an array of non-negative integers`);
  return v.items.map((x) => (x as { value: number }).value);
}

function parseXrefStreamEntries(stream: PdfStream, raw: Buffer, limits: PdfLimits): Map<number, XrefEntry> {
  const dict = stream.dict;
  const size = dict.getNumber('Size');
  if (size === undefined || !Number.isSafeInteger(size) || size < 0 || size > limits.maxObjectNumber + 1)
    throw new PdfXrefError('xref stream /Size is missing or out of range');
  const w = intArray(dict, 'W');
  if (!w || w.length !== 3 || w.some((x) => x > 8))
    throw new PdfXrefError('xref stream /W must be three integers of at most 8');
  const index = intArray(dict, 'Index') ?? [0, size];
  if (index.length % 2 !== 0) throw new PdfXrefError('xref stream /Index has an odd number of entries');
  const { data, undecoded } = decodeFilters(raw, filterSpecs(dict), limits);
  if (undecoded.length) throw new PdfXrefError('xref stream uses an image filter');
  const rowLen = w[0]! + w[1]! + w[2]!;
  if (rowLen === 0) throw new PdfXrefError('xref stream /W sums to zero');
  const entries = new Map<number, XrefEntry>();
  let pos = 0;
  const field = (width: number, dflt: number): number => {
    if (width === 0) return dflt;
    let v = 0;
    for (let i = 0; i < width; i++) v = v * 256 + data[pos++]!;
    return v;
  };
  for (let s = 0; s < index.length; s += 2) {
    const start = index[s]!;
    const count = index[s + 1]!;
    if (start + count > limits.maxObjectNumber + 1)
      throw new PdfLimitError(`xref stream subsection ${start} ${count} exceeds the object number limit`);
    if (pos + count * rowLen > data.length)
      throw new PdfXrefError(`xref stream data is shorter than /Index and /W require (${data.length} bytes)`);
    for (let i = 0; i < count; i++) {
      const type = field(w[0]!, 1);
      const f2 = field(w[1]!, 0);
      const f3 = field(w[2]!, 0);
      const num = start + i;
      if (entries.has(num)) continue;
      if (type === 0) entries.set(num, { type: 'free', next: f2, gen: f3 });
      else if (type === 1) entries.set(num, { type: 'offset', offset: f2, gen: f3 });
      else if (type === 2) entries.set(num, { type: 'compressed', streamNum: f2, index: f3 });
      // other types are reserved: a reference to them is the null object (§7.5.8.3)
    }
  }
  return entries;
}

/** Follow startxref and the /Prev chain; newest section first. Loops and excess length are errors. */
export async function readXrefChain(
  source: ByteSource,
  startxref: number,
  opts: XrefReadOptions,
): Promise<XrefSection[]> {
  const sections: XrefSection[] = [];
  const seen = new Set<number>();
  for (let offset: number | undefined = startxref; offset !== undefined;) {
    if (seen.has(offset))
      throw new PdfLoopError(`the /Prev chain of xref sections loops back to byte ${offset}`);
    if (sections.length >= opts.limits.maxXrefSections)
      throw new PdfLimitError(`more than ${opts.limits.maxXrefSections} xref sections in the /Prev chain`);
    seen.add(offset);
    const section = await readXrefSection(source, offset, opts);
    sections.push(section);
    offset = section.prev;
  }
  return sections;
}

/** Look an object up in one section (a hybrid table defers to its /XRefStm for what it lacks). */
export function lookupInSection(section: XrefSection, num: number): XrefEntry | undefined {
  const e = section.entries.get(num);
  if (section.hybrid && (e === undefined || e.type === 'free')) {
    const h = section.hybrid.entries.get(num);
    if (h && h.type !== 'free') return h;
  }
  return e;
}

/**
 * Rebuild a cross-reference by scanning the whole file for "n g obj" (the last definition of a number
 * wins) and adding the members of every object stream found. The trailer is the last "trailer"
 * dictionary or xref stream dictionary with /Root; failing that, one is made from a /Type /Catalog
 * object. Only for { recover: true }: a validator must never read a file this way.
 */
export async function rebuildXrefByScanning(source: ByteSource, limits: PdfLimits): Promise<XrefSection> {
  const entries = new Map<number, XrefEntry>();
  const objStms: { num: number; offset: number }[] = [];
  const trailerOffsets: number[] = [];
  let catalog: PdfRef | undefined;
  const chunk = 1 << 20;
  const overlap = 512;
  const header = /(?<![0-9])(\d{1,10})[ \t\r\n\f\0]+(\d{1,5})[ \t\r\n\f\0]+obj\b|\btrailer\b/g;
  for (let pos = 0; pos < source.size; pos += chunk) {
    const text = (await source.read(pos, chunk + overlap)).toString('latin1');
    header.lastIndex = 0;
    for (let m = header.exec(text); m; m = header.exec(text)) {
      if (m.index >= chunk) break; // the next chunk will see it
      const at = pos + m.index;
      if (m[1] === undefined) {
        trailerOffsets.push(at);
        continue;
      }
      const num = Number(m[1]);
      const gen = Number(m[2]);
      if (num > limits.maxObjectNumber || gen > 65535) continue;
      entries.set(num, { type: 'offset', offset: at, gen });
      const head = text.slice(m.index, m.index + 512).split(/\bstream\b|\bendobj\b/)[0] ?? '';
      if (/\/Type\s*\/ObjStm\b/.test(head)) objStms.push({ num, offset: at });
      if (/\/Type\s*\/XRef\b/.test(head) && /\/Root\b/.test(head)) trailerOffsets.push(at);
      if (/\/Type\s*\/Catalog\b/.test(head)) catalog = new PdfRef(num, gen);
    }
  }
  const opts = { limits, recover: true, resolveLength: async () => undefined };
  for (const { num, offset } of objStms) {
    try {
      const obj = await readIndirectObject(source, offset, opts);
      if (obj.value.kind !== 'stream') continue;
      const { data } = decodeFilters(
        await rawStreamBytes(source, obj.value),
        filterSpecs(obj.value.dict),
        limits,
      );
      const os = parseObjectStream(num, obj.value, data, limits);
      os.numbers.forEach((n, index) => {
        if (!entries.has(n)) entries.set(n, { type: 'compressed', streamNum: num, index });
      });
    } catch {
      // an unreadable object stream only loses its members
    }
  }
  let trailer: PdfDict | undefined;
  for (const offset of trailerOffsets.reverse()) {
    trailer = await readRecoveredTrailer(source, offset, limits).catch(() => undefined);
    if (trailer?.has('Root')) break;
    trailer = undefined;
  }
  if (!trailer) {
    if (!catalog)
      throw new PdfXrefError(
        'the file is damaged beyond recovery: no trailer and no /Type /Catalog object found',
      );
    trailer = new PdfDict(
      new Map<string, PdfObject>([
        ['Root', catalog],
        ['Size', PdfNumber.int(Math.max(0, ...entries.keys()) + 1)],
      ]),
    );
  }
  return { kind: 'recovered', offset: 0, end: source.size, entries, trailer };
}

async function readRecoveredTrailer(
  source: ByteSource,
  offset: number,
  limits: PdfLimits,
): Promise<PdfDict | undefined> {
  const head = (await source.read(offset, 8)).toString('latin1');
  if (!head.startsWith('trailer')) {
    const obj = await readIndirectObject(source, offset, {
      limits,
      recover: true,
      resolveLength: async () => undefined,
    });
    return obj.value.kind === 'stream' ? obj.value.dict : undefined;
  }
  const buf = await source.read(offset, 64 * 1024);
  const lex = new Lexer(buf, offset, true, limits.maxStringBytes);
  lex.next();
  const v = new ObjectParser(lex, limits).parseValue(0);
  return v.kind === 'dict' ? v : undefined;
}
