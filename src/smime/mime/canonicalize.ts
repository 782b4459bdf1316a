/**
 * Preparing an entity for signing: canonical CRLF line endings (RFC 8551 §3.1.1) and a 7-bit safe
 * transfer encoding for every body a relay might otherwise alter (RFC 8551 §3.1.2).
 */
import { isAscii } from 'node:buffer';
import { formatHeaderField } from './builder.js';
import type { HeaderField } from './headers.js';
import { findHeader } from './headers.js';
import type { MimeLimits, MimePart } from './parser.js';
import { parseMime } from './parser.js';
import { decodeTransferEncoding, encodeBase64Lines, encodeQuotedPrintable } from './transfer-encoding.js';

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');

/**
 * Converts every line break (bare LF, bare CR, CRLF) to CRLF. Returns the input itself when it is
 * already canonical, so the common case copies nothing.
 */
export function canonicalize(bytes: Buffer): Buffer {
  if (isCanonical(bytes)) return bytes;
  let extra = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === LF && bytes[i - 1] !== CR) extra++;
    else if (byte === CR && bytes[i + 1] !== LF) extra++;
  }
  const out = Buffer.allocUnsafe(bytes.length + extra);
  let written = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte === CR) {
      out[written++] = CR;
      out[written++] = LF;
      if (bytes[i + 1] === LF) i++;
    } else if (byte === LF) {
      out[written++] = CR;
      out[written++] = LF;
    } else {
      out[written++] = byte;
    }
  }
  return out;
}

/**
 * Is every CR followed by LF and every LF preceded by CR? Jumps from line break to line break with the native
 * indexOf (this runs over every message signed, twice over its body), instead of looking at each byte.
 */
function isCanonical(bytes: Buffer): boolean {
  let from = 0;
  for (;;) {
    const cr = bytes.indexOf(CR, from);
    if (cr === -1) return bytes.indexOf(LF, from) === -1;
    if (bytes[cr + 1] !== LF || bytes.indexOf(LF, from) !== cr + 1) return false;
    from = cr + 2;
  }
}

/** RFC 5322 §2.1.1 line limit: a relay may break longer lines. */
const MAX_LINE = 998;

/** Does this body survive any relay unchanged as it is (7-bit, short lines, no trailing space, no "From ")? */
export function isSevenBitSafe(body: Uint8Array): boolean {
  // Native scans (ASCII, NUL, then line break to line break): this runs over every message signed.
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (!isAscii(bytes) || bytes.indexOf(0) !== -1) return false;
  for (let start = 0; ;) {
    const cr = bytes.indexOf(CR, start);
    const end = cr === -1 ? bytes.length : cr;
    if (end - start > MAX_LINE) return false;
    const lf = bytes.indexOf(LF, start);
    if (lf !== -1 && (cr === -1 || lf !== cr + 1)) return false; // a bare LF
    if (bytes[start] === 0x46 && bytes.toString('latin1', start, start + 5) === 'From ') return false;
    if (cr === -1) break;
    if (bytes[cr + 1] !== LF) return false; // a bare CR
    const previous = cr > 0 ? bytes[cr - 1] : undefined;
    if (previous === 0x20 || previous === 0x09) return false; // trailing whitespace
    start = cr + 2;
  }
  const last = bytes[bytes.length - 1];
  return last !== 0x20 && last !== 0x09;
}

/** Mostly-ASCII text reads better as quoted-printable; anything else goes base64 (RFC 8551 §3.1.2). */
function chooseEncoding(part: MimePart, decoded: Uint8Array): 'quoted-printable' | 'base64' {
  if (part.contentType.type !== 'text') return 'base64';
  let high = 0;
  for (const byte of decoded) if (byte >= 0x80 || byte === 0) high++;
  return high * 6 < decoded.length ? 'quoted-printable' : 'base64';
}

function rewriteHeaders(raw: Buffer, fields: readonly HeaderField[], encoding: string): Buffer {
  const pieces: Buffer[] = [];
  for (const field of fields) {
    if (field.name.toLowerCase() === 'content-transfer-encoding') continue;
    pieces.push(canonicalize(raw.subarray(field.range.start, field.range.end)));
  }
  pieces.push(Buffer.from(formatHeaderField('Content-Transfer-Encoding', encoding), 'latin1'));
  return Buffer.concat(pieces);
}

function ensureTrailingCrlf(bytes: Buffer): Buffer {
  if (bytes.length === 0 || (bytes[bytes.length - 2] === CR && bytes[bytes.length - 1] === LF)) return bytes;
  return Buffer.concat([bytes, Buffer.from('\r\n')]);
}

/** The header section of `part` made canonical, with only the fields `keep` accepts (all by default). */
function headerSection(raw: Buffer, part: MimePart, keep?: (name: string) => boolean): Buffer {
  if (!keep)
    return ensureTrailingCrlf(canonicalize(raw.subarray(part.headerRange.start, part.headerRange.end)));
  const kept = part.headers.filter((field) => keep(field.name));
  return Buffer.concat(
    kept.map((field) => ensureTrailingCrlf(canonicalize(raw.subarray(field.range.start, field.range.end)))),
  );
}

/**
 * Appends the 7-bit safe form of `part` to `out`, as pieces (bodies that are safe already are not copied).
 * `keep` filters the part's own header fields (the root of a whole message keeps only its Content-* fields).
 */
function sevenBitPart(raw: Buffer, part: MimePart, out: Buffer[], keep?: (name: string) => boolean): void {
  const body = raw.subarray(part.bodyRange.start, part.bodyRange.end);
  if (part.children && part.contentType.type === 'multipart') {
    const boundary = part.contentType.params['boundary'] as string;
    out.push(headerSection(raw, part, keep), CRLF);
    if (part.preamble && part.preamble.end > part.preamble.start) {
      out.push(canonicalize(raw.subarray(part.preamble.start, part.preamble.end)), CRLF);
    }
    for (const child of part.children) {
      out.push(Buffer.from(`--${boundary}\r\n`, 'latin1'));
      sevenBitPart(raw, child, out);
      out.push(CRLF);
    }
    out.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
    if (part.epilogue && part.epilogue.end > part.epilogue.start) {
      out.push(canonicalize(raw.subarray(part.epilogue.start, part.epilogue.end)));
    }
    return;
  }
  if (part.children && part.children[0]) {
    // message/rfc822: its own parts are made safe in turn (RFC 2046 §5.2.1 allows only 7bit here).
    out.push(rewriteHeaders(raw, kept(part, keep), '7bit'), CRLF);
    sevenBitPart(raw, part.children[0], out);
    return;
  }
  const encoding = (findHeader(part.headers, 'content-transfer-encoding') ?? '7bit').toLowerCase();
  const isText = part.contentType.type === 'text';
  // A 7-bit safe body has only CRLF line breaks, so canonicalize would return it unchanged: one pass fewer.
  const safeAsIs = isSevenBitSafe(body);
  const canonicalBody =
    !safeAsIs && (isText || encoding === 'base64' || encoding === 'quoted-printable')
      ? canonicalize(body)
      : body;
  if (safeAsIs || (canonicalBody !== body && isSevenBitSafe(canonicalBody))) {
    out.push(headerSection(raw, part, keep), CRLF, canonicalBody);
    return;
  }
  const decoded = decodeTransferEncoding(canonicalBody, encoding);
  const chosen = chooseEncoding(part, decoded);
  const encoded = chosen === 'base64' ? encodeBase64Lines(decoded) : encodeQuotedPrintable(decoded);
  out.push(rewriteHeaders(raw, kept(part, keep), chosen), CRLF, encoded);
}

function kept(part: MimePart, keep: ((name: string) => boolean) | undefined): readonly HeaderField[] {
  return keep ? part.headers.filter((field) => keep(field.name)) : part.headers;
}

/**
 * Returns the entity in canonical CRLF form with every leaf body a relay could alter (8-bit,
 * binary, over-long lines, trailing whitespace, "From " at a line start) re-encoded as
 * quoted-printable (mostly-ASCII text) or base64 (anything else). Call before signing.
 */
export function toSevenBitSafe(entity: Buffer, limits?: Partial<MimeLimits>): Buffer {
  return Buffer.concat(toSevenBitSafePieces(entity, limits));
}

/**
 * toSevenBitSafe as the pieces that make it up, in order: bodies already safe are views into `entity`. With
 * `contentFieldsOnly`, `entity` is a whole message and only its Content-* fields head the result (the entity
 * S/MIME protects, RFC 8551 §3.1), so the caller need not copy the body out of the message first.
 */
export function toSevenBitSafePieces(
  entity: Buffer,
  limits?: Partial<MimeLimits>,
  o: { contentFieldsOnly?: boolean } = {},
): Buffer[] {
  const pieces: Buffer[] = [];
  const keep = o.contentFieldsOnly ? isContentField : undefined;
  sevenBitPart(entity, parseMime(entity, limits), pieces, keep);
  return pieces;
}

function isContentField(name: string): boolean {
  return name.toLowerCase().startsWith('content-');
}
