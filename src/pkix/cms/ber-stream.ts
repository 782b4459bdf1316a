/**
 * Incremental BER reading from a stream of chunks, for CMS messages too large to hold: the small leading fields
 * (content type, recipient infos, algorithm) are read whole, a large OCTET STRING is handed on chunk by chunk.
 * The rules are those of ./ber.ts (X.690 §8.1.3: definite and indefinite lengths, no high tag numbers, length
 * fields of at most 4 bytes); every malformation or early end is an Asn1Error.
 */
import { encodeLength } from '../der.js';
import { Asn1Error } from '../errors.js';
import { BerCursor, readBerRoot, MAX_BER_DEPTH, type BerNode } from './ber.js';

export interface BerHeader {
  tag: number;
  constructed: boolean;
  /** Content length; undefined for an indefinite length (ends with end-of-contents octets). */
  length: number | undefined;
  /** Absolute offset of the tag byte. */
  start: number;
  /** Absolute offset of the first content byte. */
  contentStart: number;
}

/** A constructed element entered with BerStreamReader.enter(): where it ends (or that it ends with 00 00). */
export interface OpenElement {
  header: BerHeader;
  where: string;
}

const EMPTY = Buffer.alloc(0);

export class BerStreamReader {
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Absolute offset of buf[0]. */
  private base = 0;
  private ended = false;
  private readonly source: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.source = source[Symbol.asyncIterator]();
  }

  /** Absolute offset of the next unread byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  private get available(): number {
    return this.buf.length - this.pos;
  }

  /** Make at least `n` bytes available; false when the input ends first. */
  private async fill(n: number): Promise<boolean> {
    while (this.available < n) {
      if (this.ended) return false;
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
      const rest = this.buf.subarray(this.pos);
      this.base += this.pos;
      this.pos = 0;
      this.buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    }
    return true;
  }

  private truncated(where: string): Asn1Error {
    return new Asn1Error(`${where}: the data ends early at byte ${this.offset} (truncated message?)`);
  }

  /** True when nothing follows. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  /** Consume end-of-contents octets if they come next. */
  async takeEoc(): Promise<boolean> {
    if (!(await this.fill(2))) return false;
    if (this.buf[this.pos] !== 0 || this.buf[this.pos + 1] !== 0) return false;
    this.pos += 2;
    return true;
  }

  async header(where: string): Promise<BerHeader> {
    if (!(await this.fill(2))) throw this.truncated(where);
    const start = this.offset;
    const tag = this.buf[this.pos] as number;
    if ((tag & 0x1f) === 0x1f)
      throw new Asn1Error(`${where}: high tag number at byte ${start} is not used in CMS`);
    const constructed = (tag & 0x20) !== 0;
    const first = this.buf[this.pos + 1] as number;
    if (first === 0x80) {
      if (!constructed)
        throw new Asn1Error(`${where}: primitive element at byte ${start} has indefinite length`);
      this.pos += 2;
      return { tag, constructed, length: undefined, start, contentStart: this.offset };
    }
    if (first < 0x80) {
      this.pos += 2;
      return { tag, constructed, length: first, start, contentStart: this.offset };
    }
    const count = first & 0x7f;
    if (count > 4)
      throw new Asn1Error(`${where}: length of ${count} bytes at byte ${start + 1} is too large`);
    if (!(await this.fill(2 + count))) throw this.truncated(where);
    let length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (this.buf[this.pos + 2 + i] as number);
    this.pos += 2 + count;
    return { tag, constructed, length, start, contentStart: this.offset };
  }

  /** Exactly `n` bytes (n is bounded by the caller). */
  async bytes(n: number, where: string): Promise<Buffer> {
    if (!(await this.fill(n))) throw this.truncated(where);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** `n` bytes handed on as they arrive, never more than one input chunk held. */
  async *stream(n: number, where: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.available === 0 && !(await this.fill(1))) throw this.truncated(where);
      const take = Math.min(left, this.available);
      const piece = this.buf.subarray(this.pos, this.pos + take);
      this.pos += take;
      left -= take;
      yield piece;
    }
  }

  /**
   * One whole element (its encoding as received, indefinite lengths included), at most `maxBytes`: for the small
   * fields before and after the content.
   */
  async element(where: string, maxBytes: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    await this.collect(where, maxBytes, parts, 0);
    return Buffer.concat(parts);
  }

  private async collect(where: string, maxBytes: number, parts: Buffer[], depth: number): Promise<void> {
    if (depth > MAX_BER_DEPTH) throw new Asn1Error(`${where}: nesting deeper than ${MAX_BER_DEPTH} levels`);
    const start = this.offset;
    const h = await this.header(where);
    const headerBytes = this.headerBytes(h);
    const size = (): number => parts.reduce((n, p) => n + p.length, 0);
    parts.push(headerBytes);
    if (h.length !== undefined) {
      if (size() + h.length > maxBytes) throw new Asn1Error(`${where}: longer than ${maxBytes} bytes`);
      parts.push(Buffer.from(await this.bytes(h.length, where)));
      return;
    }
    while (!(await this.takeEoc())) {
      if (this.offset - start > maxBytes) throw new Asn1Error(`${where}: longer than ${maxBytes} bytes`);
      await this.collect(where, maxBytes, parts, depth + 1);
    }
    parts.push(Buffer.from([0, 0]));
    if (size() > maxBytes) throw new Asn1Error(`${where}: longer than ${maxBytes} bytes`);
  }

  private headerBytes(h: BerHeader): Buffer {
    if (h.length === undefined) return Buffer.from([h.tag, 0x80]);
    return Buffer.concat([Buffer.from([h.tag]), encodeLength(h.length)]);
  }

  /** Read the header of a constructed element with `tag` and step inside it. */
  async enter(tag: number, where: string): Promise<OpenElement> {
    const header = await this.header(where);
    if (header.tag !== tag) {
      throw new Asn1Error(
        `${where}: expected tag 0x${hex2(tag)}, found 0x${hex2(header.tag)} at byte ${header.start}`,
      );
    }
    return { header, where };
  }

  /** True while `open` has content left (consumes its end-of-contents octets when it ends). */
  async inside(open: OpenElement): Promise<boolean> {
    const { length, contentStart } = open.header;
    if (length === undefined) return !(await this.takeEoc());
    if (this.offset > contentStart + length)
      throw new Asn1Error(`${open.where}: an element runs past the end of its parent`);
    return this.offset < contentStart + length;
  }

  /** Step out of `open`: nothing may be left in it. */
  async leave(open: OpenElement): Promise<void> {
    if (await this.inside(open)) throw new Asn1Error(`${open.where}: unexpected data before its end`);
  }
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/**
 * Read whole elements (each a complete encoding) with the Buffer cursor of ./ber.ts, so the existing field
 * readers apply: they are wrapped in one SEQUENCE whose children the cursor walks.
 */
export function cursorOver(elements: Buffer[], where: string): BerCursor {
  const body = Buffer.concat(elements);
  const wrapped = Buffer.concat([Buffer.from([0x30]), encodeLength(body.length), body]);
  const root: BerNode = readBerRoot(wrapped, where);
  return new BerCursor(wrapped, root, where);
}
