/**
 * Bounded BER reader for CMS input. OpenSSL (`-stream`), NSS and Outlook write EnvelopedData with indefinite
 * lengths and constructed OCTET STRINGs (X.690 §8.1.3.6, §8.7.3), which the DER reader in ../der.ts rightly
 * refuses; this reader accepts them, bounds nesting depth, and turns every malformation into an Asn1Error.
 */
import { Asn1Error } from '../errors.js';
import { ElementCursor } from '../element-cursor.js';
import { decodeOid } from '../der-fields.js';

export interface BerNode {
  tag: number;
  constructed: boolean;
  /** Offset of the tag byte. */
  start: number;
  contentStart: number;
  /** End of the contents (for indefinite lengths: the offset of the end-of-contents octets). */
  contentEnd: number;
  /** Offset just past the element, end-of-contents octets included. */
  end: number;
}

/** Deeper than any CMS structure we read; bounds the recursion that finds the end of indefinite lengths. */
export const MAX_BER_DEPTH = 40;

/** Read one element at `offset`, not past `limit`. Indefinite lengths are resolved by walking the children. */
export function readBer(buf: Uint8Array, offset: number, limit: number, where: string, depth = 0): BerNode {
  if (depth > MAX_BER_DEPTH) throw new Asn1Error(`${where}: nesting deeper than ${MAX_BER_DEPTH} levels`);
  if (offset >= limit) throw new Asn1Error(`${where}: unexpected end of data at byte ${offset}`);
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f)
    throw new Asn1Error(`${where}: high tag number at byte ${offset} is not used in CMS`);
  const constructed = (tag & 0x20) !== 0;
  let p = offset + 1;
  if (p >= limit) throw new Asn1Error(`${where}: truncated length at byte ${p}`);
  const first = buf[p++] as number;
  if (first === 0x80) {
    if (!constructed)
      throw new Asn1Error(`${where}: primitive element at byte ${offset} has indefinite length`);
    for (let q = p; ;) {
      if (q + 1 < limit && buf[q] === 0 && buf[q + 1] === 0) {
        return { tag, constructed, start: offset, contentStart: p, contentEnd: q, end: q + 2 };
      }
      q = readBer(buf, q, limit, where, depth + 1).end;
    }
  }
  let length = first;
  if (first > 0x80) {
    const count = first & 0x7f;
    if (count > 4) throw new Asn1Error(`${where}: length of ${count} bytes at byte ${p - 1} is too large`);
    if (p + count > limit) throw new Asn1Error(`${where}: truncated length at byte ${p}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (buf[p++] as number);
  }
  if (length > limit - p) {
    throw new Asn1Error(
      `${where}: element at byte ${offset} claims ${length} bytes but only ${limit - p} remain`,
    );
  }
  return { tag, constructed, start: offset, contentStart: p, contentEnd: p + length, end: p + length };
}

/** The direct children of a constructed element. */
/**
 * Children per element. Enough for a 64 MiB constructed OCTET STRING in 256-byte segments (streamed
 * content), small enough that a flood of tiny elements (e.g. 64 MiB of `05 00`) fails fast instead
 * of building tens of millions of nodes.
 */
export const MAX_BER_CHILDREN = 262_144;

export function berChildren(buf: Uint8Array, parent: BerNode, where: string, depth = 0): BerNode[] {
  if (!parent.constructed) throw new Asn1Error(`${where}: expected a constructed element`);
  const out: BerNode[] = [];
  for (let p = parent.contentStart; p < parent.contentEnd;) {
    if (out.length >= MAX_BER_CHILDREN) {
      throw new Asn1Error(`${where}: more than ${MAX_BER_CHILDREN} elements in one constructed element`);
    }
    const child = readBer(buf, p, parent.contentEnd, where, depth + 1);
    out.push(child);
    p = child.end;
  }
  return out;
}

/** Parse a whole input: exactly one element, nothing after it. */
export function readBerRoot(buf: Uint8Array, where: string): BerNode {
  if (buf.length === 0) throw new Asn1Error(`${where}: empty input`);
  const root = readBer(buf, 0, buf.length, where);
  if (root.end !== buf.length) throw new Asn1Error(`${where}: ${buf.length - root.end} trailing bytes`);
  return root;
}

/** Walks the children of one constructed element in order, like DerCursor but over BER. */
export class BerCursor extends ElementCursor<BerNode> {
  constructor(
    readonly buf: Buffer,
    parent: BerNode,
    where: string,
  ) {
    super(berChildren(buf, parent, where), where);
  }

  into(node: BerNode, where = this.where): BerCursor {
    return new BerCursor(this.buf, node, where);
  }

  /** The element's encoding as received (for DER inputs: its DER). */
  bytes(node: BerNode): Buffer {
    return this.buf.subarray(node.start, node.end);
  }

  content(node: BerNode): Buffer {
    if (node.constructed)
      throw new Asn1Error(`${this.where}: expected a primitive element at byte ${node.start}`);
    return this.buf.subarray(node.contentStart, node.contentEnd);
  }

  oid(node: BerNode, what: string): string {
    if (node.tag !== 0x06) throw new Asn1Error(`${this.where}: ${what} is not an OBJECT IDENTIFIER`);
    return decodeOid(this.content(node), () => `${this.where}: ${what}`);
  }

  smallInteger(node: BerNode, what: string): number {
    const c = node.tag === 0x02 ? this.content(node) : undefined;
    if (!c || c.length === 0 || c.length > 4 || ((c[0] as number) & 0x80) !== 0) {
      throw new Asn1Error(`${this.where}: ${what} is not a small non-negative INTEGER`);
    }
    return c.reduce((n, b) => n * 256 + b, 0);
  }

  /** OCTET STRING contents (any tag class), joining the segments of a constructed string. */
  octets(node: BerNode, what: string, maxBytes: number): Buffer {
    return joinSegments(this.buf, node, `${this.where}: ${what}`, maxBytes);
  }
}

/** The contents of a primitive or constructed string (X.690 §8.7.3: segments may themselves be constructed). */
export function joinSegments(buf: Buffer, node: BerNode, where: string, maxBytes: number): Buffer {
  if (!node.constructed) {
    if (node.contentEnd - node.contentStart > maxBytes)
      throw new Asn1Error(`${where}: longer than ${maxBytes} bytes`);
    return buf.subarray(node.contentStart, node.contentEnd);
  }
  const parts: Buffer[] = [];
  let total = 0;
  // Depth-first, left to right, iteratively.
  const stack: { node: BerNode; depth: number }[] = [{ node, depth: 0 }];
  while (stack.length > 0) {
    const { node: n, depth } = stack.pop() as { node: BerNode; depth: number };
    if (!n.constructed) {
      if (n !== node && n.tag !== 0x04)
        throw new Asn1Error(`${where}: a string segment is not an OCTET STRING`);
      const seg = buf.subarray(n.contentStart, n.contentEnd);
      total += seg.length;
      if (total > maxBytes) throw new Asn1Error(`${where}: longer than ${maxBytes} bytes`);
      parts.push(seg);
      continue;
    }
    if (depth > 4) throw new Asn1Error(`${where}: constructed string nested too deeply`);
    if (n !== node && n.tag !== 0x24)
      throw new Asn1Error(`${where}: a string segment is not an OCTET STRING`);
    const kids = berChildren(buf, n, where, depth);
    for (let i = kids.length - 1; i >= 0; i--) stack.push({ node: kids[i] as BerNode, depth: depth + 1 });
  }
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total);
}
