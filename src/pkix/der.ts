/**
 * Minimal DER writer and bounded reader. The writer builds the hot-path structures (TBSCertificate, TBSCertList,
 * PKCS#12) directly; the reader checks untrusted input before it reaches @peculiar/asn1-schema, so that depth,
 * length and trailing bytes are bounded and every failure is an Asn1Error (X.690 §8.1, §10).
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { Asn1Error } from './errors.js';

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

// ---------------------------------------------------------------- writer

export function encodeLength(length: number): Buffer {
  const out = Buffer.allocUnsafe(lengthOfLength(length));
  writeLength(out, 0, length);
  return out;
}

/** Bytes the DER length field of `length` takes (X.690 §8.1.3: short form below 128, else 0x8n + n bytes). */
function lengthOfLength(length: number): number {
  let n = 1;
  if (length >= 0x80) for (let v = length; v > 0; v = Math.floor(v / 256)) n++;
  return n;
}

function writeLength(out: Buffer, at: number, length: number): number {
  if (length < 0x80) {
    out[at] = length;
    return at + 1;
  }
  const count = lengthOfLength(length) - 1;
  out[at] = 0x80 | count;
  for (let i = count, v = length; i > 0; i--, v = Math.floor(v / 256)) out[at + i] = v & 0xff;
  return at + 1 + count;
}

/** One element, assembled in a single allocation (this runs for every field on the TSA and OCSP hot paths). */
export function tlv(tag: number, ...contents: Uint8Array[]): Buffer {
  let bodyLength = 0;
  for (const c of contents) bodyLength += c.length;
  const out = Buffer.allocUnsafe(1 + lengthOfLength(bodyLength) + bodyLength);
  out[0] = tag;
  let at = writeLength(out, 1, bodyLength);
  for (const c of contents) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export const sequence = (...items: Uint8Array[]): Buffer => tlv(TAG.SEQUENCE, ...items);

/** SET OF: DER requires the encodings sorted as octet strings (X.690 §11.6). */
export function setOf(...items: Uint8Array[]): Buffer {
  const sorted = items.map((i) => Buffer.from(i)).sort(Buffer.compare);
  return tlv(TAG.SET, ...sorted);
}

/** [n] EXPLICIT (constructed context tag around a complete encoding). */
export const explicit = (n: number, ...items: Uint8Array[]): Buffer => tlv(0xa0 | n, ...items);

export const octetString = (bytes: Uint8Array): Buffer => tlv(TAG.OCTET_STRING, bytes);
export const bitString = (bytes: Uint8Array): Buffer => tlv(TAG.BIT_STRING, Buffer.from([0]), bytes);
export const derNull = (): Buffer => Buffer.from([TAG.NULL, 0]);
export const derBoolean = (value: boolean): Buffer => Buffer.from([TAG.BOOLEAN, 1, value ? 0xff : 0]);
export const utf8String = (s: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));
export const ia5String = (s: string): Buffer => tlv(TAG.IA5_STRING, Buffer.from(s, 'latin1'));
export const printableString = (s: string): Buffer => tlv(TAG.PRINTABLE_STRING, Buffer.from(s, 'latin1'));
export const bmpString = (s: string): Buffer => tlv(TAG.BMP_STRING, utf16be(s));

export function utf16be(s: string): Buffer {
  const le = Buffer.from(s, 'utf16le');
  for (let i = 0; i + 1 < le.length; i += 2) {
    const t = le[i] as number;
    le[i] = le[i + 1] as number;
    le[i + 1] = t;
  }
  return le;
}

/** INTEGER from unsigned big-endian magnitude bytes: minimal, with a 0x00 sign byte when the top bit is set. */
export function integerFromUnsigned(magnitude: Uint8Array): Buffer {
  return tlv(TAG.INTEGER, minimalUnsigned(magnitude));
}

export function integer(value: bigint | number): Buffer {
  const v = BigInt(value);
  if (v < 0n) throw new RangeError('negative INTEGER values are not used in these structures');
  return integerFromUnsigned(bigintToBytes(v));
}

export const enumerated = (value: number): Buffer => tlv(TAG.ENUMERATED, Buffer.from([value]));

/** OIDs repeat in every structure we write; their encodings are cached (the set of OIDs used is small). */
const oidCache = new Map<string, Buffer>();

export function oid(dotted: string): Buffer {
  let der = oidCache.get(dotted);
  if (!der) {
    der = encodeOid(dotted);
    if (oidCache.size < 1024) oidCache.set(dotted, der);
  }
  return der;
}

function encodeOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs.length < 2) throw new RangeError(`invalid OID ${dotted}`);
  const bytes: number[] = [];
  const push = (arc: bigint): void => {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let rest = arc >> 7n; rest > 0n; rest >>= 7n) chunk.unshift(Number(rest & 0x7fn) | 0x80);
    bytes.push(...chunk);
  };
  push((arcs[0] as bigint) * 40n + (arcs[1] as bigint));
  for (const arc of arcs.slice(2)) push(arc);
  return tlv(TAG.OID, Buffer.from(bytes));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; both with seconds, no fraction, "Z". */
export function time(date: Date): Buffer {
  const iso = new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString(); // 2024-01-02T03:04:05.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z'; // 20240102030405Z
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(TAG.UTC_TIME, Buffer.from(digits.slice(2), 'latin1'));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(digits, 'latin1'));
}

export function minimalUnsigned(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const body = Buffer.from(magnitude.subarray(i));
  if (body.length === 0) return Buffer.from([0]);
  return (body[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), body]) : body;
}

export function bigintToBytes(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return Buffer.from(hex, 'hex');
}

/** Lowercase hex of an INTEGER's magnitude (sign byte and leading zeros dropped): how serials are keyed. */
export function unsignedHex(integerContent: Uint8Array): string {
  let i = 0;
  while (i < integerContent.length - 1 && integerContent[i] === 0) i++;
  return Buffer.from(integerContent.subarray(i)).toString('hex');
}

export function serialize(obj: unknown): Buffer {
  return Buffer.from(AsnConvert.serialize(obj));
}

// ---------------------------------------------------------------- reader

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  contentStart: number;
  contentEnd: number;
  constructed: boolean;
}

export function readTlv(buf: Uint8Array, offset: number, limit = buf.length, where = 'input'): Tlv {
  if (offset >= limit) throw new Asn1Error(`${where}: unexpected end of data at byte ${offset}`);
  const tag = buf[offset] as number;
  let p = offset + 1;
  if ((tag & 0x1f) === 0x1f) {
    // High tag number form (X.690 §8.1.2.4): skip the continuation bytes.
    let n = 0;
    while (p < limit && ((buf[p] as number) & 0x80) !== 0 && n++ < 4) p++;
    p++;
  }
  if (p >= limit) throw new Asn1Error(`${where}: truncated length at byte ${p}`);
  const first = buf[p++] as number;
  let length: number;
  if (first < 0x80) length = first;
  else if (first === 0x80) throw new Asn1Error(`${where}: indefinite length at byte ${p - 1} is not DER`);
  else {
    const count = first & 0x7f;
    if (count > 4) throw new Asn1Error(`${where}: length of ${count} bytes at byte ${p - 1} is too large`);
    if (p + count > limit) throw new Asn1Error(`${where}: truncated length at byte ${p}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (buf[p++] as number);
  }
  if (p + length > limit) {
    throw new Asn1Error(
      `${where}: element at byte ${offset} claims ${length} bytes but only ${limit - p} remain`,
    );
  }
  return { tag, start: offset, contentStart: p, contentEnd: p + length, constructed: (tag & 0x20) !== 0 };
}

/** The direct children of a constructed element. */
export function children(buf: Uint8Array, parent: Tlv, where = 'input'): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.contentStart; p < parent.contentEnd;) {
    const child = readTlv(buf, p, parent.contentEnd, where);
    out.push(child);
    p = child.contentEnd;
  }
  return out;
}

export const tlvBytes = (buf: Uint8Array, t: Tlv): Buffer => Buffer.from(buf.subarray(t.start, t.contentEnd));
export const tlvContent = (buf: Uint8Array, t: Tlv): Buffer =>
  Buffer.from(buf.subarray(t.contentStart, t.contentEnd));

export interface DerLimits {
  maxBytes: number;
  maxDepth?: number;
}

/**
 * Check that `der` is exactly one well-formed definite-length element within the limits, walking every
 * constructed element iteratively so that hostile nesting cannot exhaust the stack.
 */
export function checkDer(der: Uint8Array, what: string, limits: DerLimits): Tlv {
  if (der.length === 0) throw new Asn1Error(`${what}: empty input`);
  if (der.length > limits.maxBytes) {
    throw new Asn1Error(`${what}: ${der.length} bytes exceeds the ${limits.maxBytes}-byte limit`);
  }
  const root = readTlv(der, 0, der.length, what);
  if (root.contentEnd !== der.length) {
    throw new Asn1Error(`${what}: ${der.length - root.contentEnd} trailing bytes after the DER element`);
  }
  const maxDepth = limits.maxDepth ?? 32;
  const stack: { t: Tlv; depth: number }[] = [{ t: root, depth: 1 }];
  while (stack.length > 0) {
    const { t, depth } = stack.pop() as { t: Tlv; depth: number };
    if (!t.constructed) continue;
    if (depth > maxDepth) throw new Asn1Error(`${what}: nesting deeper than ${maxDepth} levels`);
    for (const c of children(der, t, what)) stack.push({ t: c, depth: depth + 1 });
  }
  return root;
}

type Constructor<T> = new () => T;

/** Parse untrusted DER into an asn1-schema class, with structure checks first; every failure is an Asn1Error. */
export function parseDer<T>(der: Uint8Array, type: Constructor<T>, what: string, limits: DerLimits): T {
  checkDer(der, what, limits);
  try {
    return AsnConvert.parse(der, type);
  } catch (e) {
    throw new Asn1Error(
      `${what}: does not match its ASN.1 definition (${(e as Error).message.split('\n')[0]})`,
    );
  }
}

/** Run `fn` on parsed data and turn any stray exception from a decoded-but-inconsistent structure into Asn1Error. */
export function asAsn1Error<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Asn1Error) throw e;
    throw new Asn1Error(`${what}: ${(e as Error).message.split('\n')[0]}`);
  }
}

// ---------------------------------------------------------------- memo

interface DerCacheEntry<T> {
  bytes: Buffer;
  value: T;
}

type DerCacheBuckets<T> = Map<string, DerCacheEntry<T>[]>;

/**
 * Values computed from DER bytes (parsed certificates, public keys), keyed by the bytes themselves so that a
 * caller editing its buffer later cannot alias another entry. Bounded to about `limit` entries in two
 * generations: hits in the young one cost one lookup, a hit in the old one moves the entry back to the young
 * one, and when the young one is full the old one is dropped whole (least recently used first, without
 * bookkeeping on every hit). A computation that throws is not remembered.
 */
export class DerCache<T> {
  /**
   * Entries by a short fingerprint of their bytes (length, head and tail: hashing a short string is cheap, a
   * whole certificate's is not), each bucket holding the full bytes, compared on every hit: a fingerprint
   * collision (even a crafted one) is a miss, never a wrong answer.
   */
  private young: DerCacheBuckets<T> = new Map();
  private old: DerCacheBuckets<T> = new Map();
  private youngSize = 0;
  private readonly generation: number;
  /**
   * The same Buffer objects come back again and again (a certificate passed from one layer to the next): they
   * are recognised by identity, with a private copy of their bytes to notice a caller editing them since.
   */
  private readonly recent = new WeakMap<Uint8Array, DerCacheEntry<T>>();

  constructor(limit: number) {
    this.generation = Math.max(1, Math.floor(limit / 2));
  }

  get(der: Uint8Array, compute: () => T): T {
    const seen = this.recent.get(der);
    if (seen && seen.bytes.equals(der)) return seen.value;
    const bytes = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
    const key = fingerprint(bytes);
    let entry = find(this.young, key, bytes);
    if (!entry) {
      entry = find(this.old, key, bytes) ?? { bytes: Buffer.from(bytes), value: compute() };
      this.admit(key, entry);
    }
    // Small inputs are their own key: the identity shortcut would cost more than it saves.
    if (bytes.length > FINGERPRINT_WHOLE) this.recent.set(der, entry);
    return entry.value;
  }

  private admit(key: string, entry: DerCacheEntry<T>): void {
    if (this.youngSize >= this.generation) {
      this.old = this.young;
      this.young = new Map();
      this.youngSize = 0;
    }
    const bucket = this.young.get(key);
    if (bucket) bucket.push(entry);
    else this.young.set(key, [entry]);
    this.youngSize++;
  }
}

function find<T>(buckets: DerCacheBuckets<T>, key: string, bytes: Buffer): DerCacheEntry<T> | undefined {
  return buckets.get(key)?.find((e) => e.bytes.equals(bytes));
}

/** Inputs up to this size are fingerprinted by all their bytes. */
const FINGERPRINT_WHOLE = 64;

/** Length, first 16 and last 48 bytes (a certificate's tail is its signature: distinct per certificate). */
function fingerprint(bytes: Buffer): string {
  if (bytes.length <= FINGERPRINT_WHOLE) return bytes.toString('latin1');
  return `${bytes.length}:${bytes.toString('latin1', 0, 16)}${bytes.toString('latin1', bytes.length - 48)}`;
}

// ---------------------------------------------------------------- primitive decoders

/** Longest OID content we accept; real OIDs are far shorter and this bounds the arithmetic. */
const MAX_OID_BYTES = 64;

/** Decoded OIDs by their content bytes: a message names the same few dozen OIDs over and over. */
const oidStrings = new Map<string, string>();
const MAX_CACHED_OIDS = 4096;

/** `where` names the field in an error; a function is only called when there is one. */
export function decodeOid(content: Uint8Array, where: string | (() => string) = 'OBJECT IDENTIFIER'): string {
  const key = Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('latin1');
  let text = oidStrings.get(key);
  if (text === undefined) {
    text = decodeOidArcs(content, typeof where === 'string' ? () => where : where);
    if (oidStrings.size >= MAX_CACHED_OIDS) oidStrings.clear();
    oidStrings.set(key, text);
  }
  return text;
}

function decodeOidArcs(content: Uint8Array, where: () => string): string {
  if (content.length === 0 || content.length > MAX_OID_BYTES) {
    throw new Asn1Error(`${where()}: ${content.length} content bytes is not a valid OID length`);
  }
  if (((content[content.length - 1] as number) & 0x80) !== 0)
    throw new Asn1Error(`${where()}: truncated OID arc`);
  const arcs: bigint[] = [];
  let value = 0n;
  for (const byte of content) {
    value = (value << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0n;
    }
  }
  // X.690 §8.19.4: the first subidentifier packs the first two arcs.
  const first = arcs[0] as bigint;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

/** A non-negative INTEGER that fits in a JS number (iteration counts, versions). */
export function decodeSmallInteger(content: Uint8Array, what: string): number {
  if (content.length === 0 || content.length > 6 || ((content[0] as number) & 0x80) !== 0) {
    throw new Asn1Error(`${what}: not a small non-negative INTEGER`);
  }
  return content.reduce((n, b) => n * 256 + b, 0);
}
