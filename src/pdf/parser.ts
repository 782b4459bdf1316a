import { NeedMoreData, Lexer } from './lexer.js';
import type { Token } from './lexer.js';
import { PdfLimitError, PdfSyntaxError } from './errors.js';
import type { PdfLimits } from './limits.js';
import {
  PdfArray,
  PdfBoolean,
  PdfDict,
  PdfName,
  PdfNull,
  PdfNumber,
  PdfRef,
  PdfStream,
  PdfString,
} from './objects.js';
import type { ByteRange, IndirectObject, PdfObject } from './objects.js';
import type { ByteSource } from './source.js';

/** Builds objects from tokens (ISO 32000-2 §7.3). */
export class ObjectParser {
  constructor(
    readonly lex: Lexer,
    private readonly limits: PdfLimits,
    /** False for objects inside decoded object streams, whose offsets are not file offsets. */
    private readonly keepRanges = true,
  ) {}

  private range(start: number, end: number): ByteRange | undefined {
    return this.keepRanges ? { start, end } : undefined;
  }

  /** Parse one object; `first` is an already-read token to start from. */
  parseValue(depth = 0, first?: Token): PdfObject {
    const t = first ?? this.lex.next();
    switch (t.type) {
      case 'int': {
        const save = this.lex.pos;
        const t2 = this.lex.next();
        if (t2.type === 'int' && t.value >= 0 && t2.value >= 0) {
          const t3 = this.lex.next();
          if (t3.type === 'keyword' && t3.value === 'R') {
            if (t.value > this.limits.maxObjectNumber || t2.value > 65535)
              throw new PdfSyntaxError(
                `reference ${t.value} ${t2.value} R at byte ${t.start} is out of range`,
              );
            return new PdfRef(t.value, t2.value, this.range(t.start, t3.end));
          }
        }
        this.lex.pos = save;
        return new PdfNumber(t.value, true, t.text, this.range(t.start, t.end));
      }
      case 'real':
        return new PdfNumber(t.value, false, t.text, this.range(t.start, t.end));
      case 'name':
        return new PdfName(t.value, this.range(t.start, t.end));
      case 'string':
      case 'hexstring':
        return new PdfString(t.bytes, t.type === 'hexstring', this.range(t.start, t.end));
      case 'punct':
        if (t.value === '[') return this.parseArray(t.start, depth + 1);
        if (t.value === '<<') return this.parseDict(t.start, depth + 1);
        throw new PdfSyntaxError(`unexpected "${t.value}" at byte ${t.start}`);
      case 'keyword':
        if (t.value === 'true' || t.value === 'false')
          return new PdfBoolean(t.value === 'true', this.range(t.start, t.end));
        if (t.value === 'null') return new PdfNull(this.range(t.start, t.end));
        throw new PdfSyntaxError(`unexpected keyword "${t.value.slice(0, 40)}" at byte ${t.start}`);
      case 'eof':
        throw new PdfSyntaxError(`unexpected end of data at byte ${t.start}`);
    }
  }

  private checkDepth(depth: number, start: number): void {
    if (depth > this.limits.maxNestingDepth)
      throw new PdfLimitError(
        `objects nested deeper than ${this.limits.maxNestingDepth} levels at byte ${start}`,
      );
  }

  private parseArray(start: number, depth: number): PdfArray {
    this.checkDepth(depth, start);
    const items: PdfObject[] = [];
    for (;;) {
      const t = this.lex.next();
      if (t.type === 'punct' && t.value === ']') return new PdfArray(items, this.range(start, t.end));
      if (t.type === 'eof') throw new PdfSyntaxError(`unterminated array starting at byte ${start}`);
      items.push(this.parseValue(depth, t));
    }
  }

  private parseDict(start: number, depth: number): PdfDict {
    this.checkDepth(depth, start);
    const entries = new Map<string, PdfObject>();
    for (;;) {
      const t = this.lex.next();
      if (t.type === 'punct' && t.value === '>>') return new PdfDict(entries, this.range(start, t.end));
      if (t.type === 'eof') throw new PdfSyntaxError(`unterminated dictionary starting at byte ${start}`);
      if (t.type !== 'name') throw new PdfSyntaxError(`dictionary key at byte ${t.start} is not a name`);
      const value = this.parseValue(depth);
      // §7.3.7: a null value is the same as an absent entry; the first of duplicate keys wins.
      if (value.kind !== 'null' && !entries.has(t.value)) entries.set(t.value, value);
    }
  }
}

export interface ReadObjectOptions {
  limits: PdfLimits;
  /** Resolve an indirect /Length (the caller guards against loops). */
  resolveLength: (ref: PdfRef) => Promise<number | undefined>;
  /** When set, the header must name this object. */
  expect?: { num: number; gen: number };
  /** Tolerate a wrong or missing /Length by scanning for "endstream". */
  recover?: boolean;
}

/**
 * Read `n g obj … endobj` at `offset`, growing the read window until the object fits. Stream data is
 * not read: the returned `PdfStream` records where it is.
 */
export async function readIndirectObject(
  source: ByteSource,
  offset: number,
  opts: ReadObjectOptions,
): Promise<IndirectObject> {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= source.size)
    throw new PdfSyntaxError(`object offset ${offset} is outside the file (size ${source.size})`);
  let window = 4096;
  for (;;) {
    const buf = await source.read(offset, window);
    const lex = new Lexer(buf, offset, offset + buf.length >= source.size, opts.limits.maxStringBytes);
    try {
      return await parseIndirectIn(lex, source, offset, opts);
    } catch (e) {
      if (!(e instanceof NeedMoreData)) throw e;
      if (window >= opts.limits.maxObjectBytes)
        throw new PdfLimitError(
          `object at byte ${offset} is larger than ${opts.limits.maxObjectBytes} bytes`,
        );
      window = Math.min(window * 8, opts.limits.maxObjectBytes);
    }
  }
}

async function parseIndirectIn(
  lex: Lexer,
  source: ByteSource,
  offset: number,
  opts: ReadObjectOptions,
): Promise<IndirectObject> {
  const parser = new ObjectParser(lex, opts.limits);
  const tNum = lex.next();
  const tGen = lex.next();
  const tObj = lex.next();
  if (
    tNum.type !== 'int' ||
    tGen.type !== 'int' ||
    tObj.type !== 'keyword' ||
    tObj.value !== 'obj' ||
    tNum.value < 0 ||
    tGen.value < 0
  )
    throw new PdfSyntaxError(`no "n g obj" header at byte ${offset}`);
  if (opts.expect && (opts.expect.num !== tNum.value || opts.expect.gen !== tGen.value))
    throw new PdfSyntaxError(
      `xref says object ${opts.expect.num} ${opts.expect.gen} is at byte ${offset}, but ${tNum.value} ${tGen.value} obj is there`,
    );
  const ref = new PdfRef(tNum.value, tGen.value);
  const value = parser.parseValue(0);
  const after = lex.next();
  if (after.type === 'keyword' && after.value === 'endobj')
    return { ref, value, location: { kind: 'offset', offset }, range: { start: tNum.start, end: after.end } };
  if (after.type === 'keyword' && after.value === 'stream' && value.kind === 'dict') {
    // §7.3.8.1: "stream" is followed by CRLF or LF (a lone CR is tolerated when not ambiguous).
    let p = lex.pos;
    if (p + 2 > lex.buf.length && !lex.atEof) throw new NeedMoreData();
    if (lex.buf[p] === 0x0d) p++;
    if (lex.buf[p] === 0x0a) p++;
    const dataOffset = lex.base + p;
    const { length, end } = await locateStreamEnd(source, ref, value, dataOffset, opts);
    const stream = new PdfStream(value, { kind: 'file', offset: dataOffset, length }, ref, {
      start: value.range?.start ?? tNum.start,
      end,
    });
    return { ref, value: stream, location: { kind: 'offset', offset }, range: { start: tNum.start, end } };
  }
  if (opts.recover) {
    // Missing "endobj" is common in damaged files; keep the value.
    return {
      ref,
      value,
      location: { kind: 'offset', offset },
      range: { start: tNum.start, end: value.range?.end ?? after.start },
    };
  }
  throw new PdfSyntaxError(`object ${ref.num} ${ref.gen} at byte ${offset} is not followed by "endobj"`);
}

const ENDSTREAM = Buffer.from('endstream');
const ENDOBJ = Buffer.from('endobj');

/** Check that the data ends with "endstream" where /Length says; return the object's end offset. */
async function locateStreamEnd(
  source: ByteSource,
  ref: PdfRef,
  dict: PdfDict,
  dataOffset: number,
  opts: ReadObjectOptions,
): Promise<{ length: number; end: number }> {
  const lengthObj = dict.get('Length');
  let length: number | undefined;
  if (lengthObj?.kind === 'number') length = lengthObj.value;
  else if (lengthObj?.kind === 'ref') length = await opts.resolveLength(lengthObj);
  const name = `stream ${ref.num} ${ref.gen}`;
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 0))
    throw new PdfSyntaxError(`${name} has an invalid /Length ${length}`);
  if (length !== undefined && dataOffset + length <= source.size) {
    const tail = await source.read(dataOffset + length, 64);
    let p = 0;
    while (p < tail.length && (tail[p] === 0x0d || tail[p] === 0x0a || tail[p] === 0x20)) p++;
    if (tail.subarray(p, p + ENDSTREAM.length).equals(ENDSTREAM)) {
      return {
        length,
        end: dataOffset + length + p + ENDSTREAM.length + endobjAfter(tail, p + ENDSTREAM.length),
      };
    }
  }
  if (!opts.recover) {
    if (length === undefined) throw new PdfSyntaxError(`${name} has no usable /Length`);
    throw new PdfSyntaxError(
      `${name}: /Length ${length} does not end at "endstream" (byte ${dataOffset + length}); open with { recover: true } to scan for it`,
    );
  }
  const found = await scanFor(source, ENDSTREAM, dataOffset);
  if (found < 0) throw new PdfSyntaxError(`${name} has no "endstream"`);
  let dataEnd = found;
  const before = await source.read(Math.max(dataOffset, found - 2), found - Math.max(dataOffset, found - 2));
  if (before.length && before[before.length - 1] === 0x0a) dataEnd--;
  if (before.length > 1 && before[before.length - 2] === 0x0d && before[before.length - 1] === 0x0a)
    dataEnd--;
  const tail = await source.read(found, 64);
  return {
    length: dataEnd - dataOffset,
    end: found + ENDSTREAM.length + endobjAfter(tail, ENDSTREAM.length),
  };
}

/** Bytes from `from` in `tail` through a following "endobj", or 0 when it is not there. */
function endobjAfter(tail: Buffer, from: number): number {
  let p = from;
  while (p < tail.length && (tail[p] === 0x0d || tail[p] === 0x0a || tail[p] === 0x20)) p++;
  return tail.subarray(p, p + ENDOBJ.length).equals(ENDOBJ) ? p + ENDOBJ.length - from : 0;
}

/** First occurrence of `needle` at or after `from`, reading in chunks; -1 if absent. */
export async function scanFor(source: ByteSource, needle: Buffer, from: number): Promise<number> {
  // What is looked for is usually a few bytes ahead (the %%EOF after a trailer): start with a small
  // window and grow it, rather than read a megabyte for every revision.
  let chunk = 4096;
  for (
    let pos = from;
    pos < source.size;
    pos += chunk - needle.length, chunk = Math.min(chunk * 8, 1 << 20)
  ) {
    const buf = await source.read(pos, chunk);
    const i = buf.indexOf(needle);
    if (i >= 0) return pos + i;
    if (pos + buf.length >= source.size) break;
  }
  return -1;
}
