/**
 * Decoders for the primitive DER values the OCSP/TSP/CMS readers need (OID, INTEGER, BOOLEAN, times) and a
 * cursor that walks the children of a SEQUENCE in order, for hand-written parsers of untrusted input. Built on
 * the bounded reader in der.ts: every failure is an Asn1Error naming what was expected.
 */
import { TAG, children, decodeOid, tlvBytes, tlvContent, type Tlv } from './der.js';
import { Asn1Error } from './errors.js';
import { ElementCursor } from './element-cursor.js';

/** Walks the direct children of one constructed element, front to back. */
export class DerCursor extends ElementCursor<Tlv> {
  constructor(
    readonly buf: Buffer,
    parent: Tlv,
    where: string,
  ) {
    if (!parent.constructed) throw new Asn1Error(`${where}: expected a constructed element`);
    super(children(buf, parent, where), where);
  }

  bytes(t: Tlv): Buffer {
    return tlvBytes(this.buf, t);
  }

  content(t: Tlv): Buffer {
    return tlvContent(this.buf, t);
  }

  /** A cursor over the children of `t` (a child of this cursor's element). */
  into(t: Tlv, where = this.where): DerCursor {
    return new DerCursor(this.buf, t, where);
  }
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

export { decodeOid };

export function readOid(c: DerCursor, what: string): string {
  return decodeOid(c.content(c.take(TAG.OID, what)), () => `${c.where}: ${what}`);
}

/** INTEGER content (two's complement) → bigint. */
export function decodeInteger(content: Uint8Array, where = 'INTEGER'): bigint {
  if (content.length === 0) throw new Asn1Error(`${where}: empty INTEGER`);
  let v = BigInt('0x' + Buffer.from(content).toString('hex'));
  if (((content[0] as number) & 0x80) !== 0) v -= 1n << BigInt(content.length * 8);
  return v;
}

/** A small non-negative INTEGER (versions, status codes), bounded so hostile input cannot make it huge. */
export function readSmallInteger(c: DerCursor, what: string): number {
  const content = c.content(c.take(TAG.INTEGER, what));
  if (content.length === 0 || content.length > 4) throw new Asn1Error(`${c.where}: ${what} is out of range`);
  const v = Number(decodeInteger(content));
  if (v < 0) throw new Asn1Error(`${c.where}: ${what} must not be negative`);
  return v;
}

export function decodeBoolean(content: Uint8Array, where = 'BOOLEAN'): boolean {
  if (content.length !== 1) throw new Asn1Error(`${where}: a BOOLEAN has exactly one content byte`);
  return content[0] !== 0;
}

const GENERALIZED = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?Z$/;
const UTC = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

/** GeneralizedTime (UTC, "Z", optional fraction) or UTCTime (RFC 5280 §4.1.2.5.1 50-year window). */
export function decodeTime(t: Tlv, content: Uint8Array, where = 'time'): Date {
  const text = Buffer.from(content).toString('latin1');
  let parts: string[] | null;
  let year: number;
  let fraction = '';
  if (t.tag === TAG.GENERALIZED_TIME) {
    parts = GENERALIZED.exec(text);
    if (!parts) throw new Asn1Error(`${where}: "${printable(text)}" is not a UTC GeneralizedTime`);
    year = Number(parts[1]);
    fraction = parts[7] ?? '';
  } else if (t.tag === TAG.UTC_TIME) {
    parts = UTC.exec(text);
    if (!parts) throw new Asn1Error(`${where}: "${printable(text)}" is not a UTCTime`);
    const yy = Number(parts[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else {
    throw new Asn1Error(`${where}: expected GeneralizedTime or UTCTime, found tag 0x${hex2(t.tag)}`);
  }
  const [mo, d, h, mi, s] = parts.slice(2, 7).map(Number) as [number, number, number, number, number];
  const ms = fraction ? Number(fraction.slice(0, 3).padEnd(3, '0')) : 0;
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, s, ms));
  date.setUTCFullYear(year); // Date.UTC maps years 0–99 to 1900–1999
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    throw new Asn1Error(`${where}: "${printable(text)}" is not a valid date`);
  }
  return date;
}

export function readTime(c: DerCursor, what: string): Date {
  const t = c.any(what);
  return decodeTime(t, c.content(t), `${c.where}: ${what}`);
}

const printable = (s: string): string => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 40);

/**
 * GeneralizedTime as RFC 5280 §4.1.2.5.2 and RFC 3161 §2.4.2 want it: UTC, "Z", and a fraction only when
 * `millis` is asked for and non-zero, without trailing zeros.
 */
export function generalizedTime(date: Date, millis = false): Buffer {
  const iso = date.toISOString(); // 2024-01-02T03:04:05.678Z (years 0–9999)
  let text =
    iso.slice(0, 4) +
    iso.slice(5, 7) +
    iso.slice(8, 10) +
    iso.slice(11, 13) +
    iso.slice(14, 16) +
    iso.slice(17, 19);
  if (millis) {
    const fraction = iso.slice(20, 23).replace(/0+$/, '');
    if (fraction) text += '.' + fraction;
  }
  text += 'Z';
  const out = Buffer.allocUnsafe(2 + text.length);
  out[0] = TAG.GENERALIZED_TIME;
  out[1] = text.length;
  out.write(text, 2, 'latin1');
  return out;
}
