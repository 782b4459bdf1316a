/**
 * Content-Transfer-Encoding codecs (RFC 2045 §6). Decoders are tolerant (what mail readers accept);
 * encoders produce strictly 7-bit, 76-column output with CRLF line breaks so relays leave it alone.
 */

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;
const EQUALS = 0x3d;

const BASE64_VALUE = new Int8Array(256).fill(-1);
for (const [index, char] of [
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
].entries()) {
  BASE64_VALUE[char.charCodeAt(0)] = index;
}

/** Base64 alphabet in CRLF lines, "=" pads only at the very end: what every encoder writes. */
function isWellFormedBase64(text: string): boolean {
  // Searches for one bad character, not anchored patterns: linear, with no backtracking over large bodies.
  if (/[^A-Za-z0-9+/=\r\n]/.test(text)) return false;
  const pad = text.indexOf('=');
  return pad === -1 || !/[^=\r\n]/.test(text.slice(pad));
}

/**
 * Decodes base64, skipping whitespace and any other byte outside the alphabet (RFC 2045 §6.8: such
 * characters "are to be ignored"), and stopping at the first '=' pad.
 */
export function decodeBase64(input: Uint8Array): Buffer {
  // Well-formed bodies (alphabet and line breaks, pads only at the end) go to node's native decoder, which
  // gives the same bytes for them; anything else takes the tolerant byte-by-byte path below.
  const text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
  if (isWellFormedBase64(text)) return Buffer.from(text, 'base64');
  const out = Buffer.allocUnsafe(Math.floor((input.length * 3) / 4) + 3);
  let written = 0;
  let accumulator = 0;
  let bits = 0;
  for (const byte of input) {
    if (byte === EQUALS) break;
    const value = BASE64_VALUE[byte] as number;
    if (value < 0) continue;
    accumulator = ((accumulator << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[written++] = (accumulator >> bits) & 0xff;
    }
  }
  return out.subarray(0, written);
}

/**
 * decodeBase64 over a stream of chunks, with the same tolerance (bytes outside the alphabet skipped, the first
 * '=' ends the data); holds at most three characters between chunks.
 */
export async function* decodeBase64Chunks(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  let carry = '';
  for await (const chunk of chunks) {
    const clean = Buffer.allocUnsafe(chunk.length);
    let n = 0;
    let padded = false;
    for (const byte of chunk) {
      if (byte === EQUALS) {
        padded = true;
        break;
      }
      if ((BASE64_VALUE[byte] as number) >= 0) clean[n++] = byte;
    }
    const text = carry + clean.toString('latin1', 0, n);
    const whole = padded ? text.length : text.length - (text.length % 4);
    if (whole > 0) yield Buffer.from(text.slice(0, whole), 'base64');
    carry = text.slice(whole);
    if (padded) return;
  }
  if (carry.length) yield decodeBase64(Buffer.from(carry, 'latin1'));
}

/** Base64 input bytes per output line: 57 bytes make 76 characters (RFC 2045 §6.8). */
export const BASE64_LINE_BYTES = 57;

/** Every 12-bit value as its two base64 characters, low byte first (a little-endian Uint16 store writes both). */
const BASE64_PAIR = new Uint16Array(4096);
{
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < 4096; i++)
    BASE64_PAIR[i] = alphabet.charCodeAt(i >> 6) | (alphabet.charCodeAt(i & 63) << 8);
}
/** CR then LF as one little-endian Uint16. */
const CRLF_PAIR = CR | (LF << 8);

/** Length of encodeBase64Lines(data) for `length` input bytes. */
export function base64LinesLength(length: number): number {
  return Math.ceil(length / 3) * 4 + Math.ceil(length / BASE64_LINE_BYTES) * 2;
}

/**
 * Base64 in lines of 76 characters, each ended by CRLF (RFC 2045 §6.8), written in one pass into one
 * allocation: no intermediate string of the whole body (which costs a copy and garbage collection on large
 * messages) and no per-line slicing.
 */
export function encodeBase64Lines(input: Uint8Array): Buffer {
  // A plain Uint8Array view whatever the caller passed (Buffer, subarray): keeps the loop's element loads monomorphic.
  const data = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const length = data.length;
  const outLength = base64LinesLength(length);
  // A fresh ArrayBuffer starts at offset 0, so the Uint16 view is aligned; every full line is 78 bytes.
  const out = Buffer.from(new ArrayBuffer(outLength + (outLength & 1)), 0, outLength);
  const pairs = new Uint16Array(out.buffer);
  const wholeLines = length - (length % BASE64_LINE_BYTES);
  let read = 0;
  let written = 0; // in Uint16 units: two characters each
  while (read < wholeLines) {
    const lineEnd = read + BASE64_LINE_BYTES;
    for (; read < lineEnd; read += 3) {
      const triple = (data[read]! << 16) | (data[read + 1]! << 8) | data[read + 2]!;
      pairs[written++] = BASE64_PAIR[triple >>> 12]!;
      pairs[written++] = BASE64_PAIR[triple & 0xfff]!;
    }
    pairs[written++] = CRLF_PAIR;
  }
  if (read < length) {
    // The last, shorter line (with its "=" pads): node's encoder, on at most 56 bytes.
    const tail = Buffer.from(data.buffer, data.byteOffset + read, length - read).toString('base64');
    out.write(tail, written * 2, 'latin1');
    out[outLength - 2] = CR;
    out[outLength - 1] = LF;
  }
  return out;
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
}

/**
 * Decodes quoted-printable (RFC 2045 §6.7). Hard line breaks (CRLF or bare LF) come out as CRLF,
 * the canonical form; trailing whitespace added in transport is dropped (rule 3); a malformed '='
 * sequence is kept literally, as mail readers do. Soft breaks are removed before escapes are
 * decoded, so an escape split by one still decodes (mailparser does the same).
 */
export function decodeQuotedPrintable(input: Uint8Array): Buffer {
  const joined = joinQuotedPrintableLines(input);
  const out = Buffer.allocUnsafe(joined.length);
  let written = 0;
  for (let i = 0; i < joined.length; i++) {
    const byte = joined[i] as number;
    const high = byte === EQUALS ? hexValue(joined[i + 1]) : -1;
    const low = high >= 0 ? hexValue(joined[i + 2]) : -1;
    if (low >= 0) {
      out[written++] = (high << 4) | low;
      i += 2;
    } else {
      out[written++] = byte;
    }
  }
  return out.subarray(0, written);
}

/** Pass 1: strip transport whitespace at line ends, drop soft breaks, make hard breaks CRLF. */
function joinQuotedPrintableLines(input: Uint8Array): Buffer {
  let lineBreaks = 0;
  for (let at = input.indexOf(LF); at !== -1; at = input.indexOf(LF, at + 1)) lineBreaks++;
  // Each bare LF may grow into CRLF.
  const out = Buffer.allocUnsafe(input.length + lineBreaks);
  let written = 0;
  let lineStart = 0;
  while (lineStart < input.length) {
    let lineEnd = input.indexOf(LF, lineStart);
    const hasBreak = lineEnd !== -1;
    if (!hasBreak) lineEnd = input.length;
    let contentEnd = lineEnd;
    if (hasBreak && contentEnd > lineStart && input[contentEnd - 1] === CR) contentEnd--;
    while (contentEnd > lineStart && (input[contentEnd - 1] === SPACE || input[contentEnd - 1] === TAB))
      contentEnd--;
    const softBreak = contentEnd > lineStart && input[contentEnd - 1] === EQUALS;
    out.set(input.subarray(lineStart, softBreak ? contentEnd - 1 : contentEnd), written);
    written += contentEnd - lineStart - (softBreak ? 1 : 0);
    if (hasBreak && !softBreak) {
      out[written++] = CR;
      out[written++] = LF;
    }
    lineStart = lineEnd + 1;
  }
  return out.subarray(0, written);
}

const QP_MAX_LINE = 76;

/**
 * Encodes quoted-printable with CRLF treated as a hard line break. Besides what RFC 2045 requires,
 * it encodes whitespace before a line break, an "F" starting "From " and a leading "." so that no
 * relay (trailing-space stripping, mbox "From " quoting, SMTP dot handling) can alter signed text
 * (RFC 8551 §3.1.2, RFC 3676 §4.4).
 */
export function encodeQuotedPrintable(data: Uint8Array): Buffer {
  const out: string[] = [];
  let line = '';
  const flushSoft = (): void => {
    out.push(line + '=\r\n');
    line = '';
  };
  const append = (token: string): void => {
    if (line.length + token.length > QP_MAX_LINE - 1) flushSoft();
    line += token;
  };
  const escaped = (byte: number): string => '=' + byte.toString(16).toUpperCase().padStart(2, '0');
  for (let i = 0; i < data.length; i++) {
    const byte = data[i] as number;
    if (byte === CR && data[i + 1] === LF) {
      out.push(line + '\r\n');
      line = '';
      i++;
      continue;
    }
    const atLineStart = line.length === 0;
    const next = data[i + 1];
    const beforeBreak = next === undefined || (next === CR && data[i + 2] === LF);
    let token: string;
    if ((byte === SPACE || byte === TAB) && beforeBreak) token = escaped(byte);
    else if (byte === SPACE || byte === TAB) token = String.fromCharCode(byte);
    else if (byte < 0x21 || byte > 0x7e || byte === EQUALS) token = escaped(byte);
    else if (atLineStart && byte === 0x2e) token = escaped(byte);
    else if (atLineStart && byte === 0x46 && startsWithFromSpace(data, i)) token = escaped(byte);
    else token = String.fromCharCode(byte);
    append(token);
  }
  if (line.length > 0) out.push(line);
  return Buffer.from(out.join(''), 'latin1');
}

function startsWithFromSpace(data: Uint8Array, index: number): boolean {
  return (
    data[index + 1] === 0x72 &&
    data[index + 2] === 0x6f &&
    data[index + 3] === 0x6d &&
    data[index + 4] === SPACE
  );
}

/** The Content-Transfer-Encoding values we decode; anything else is passed through unchanged. */
export type TransferEncoding = '7bit' | '8bit' | 'binary' | 'base64' | 'quoted-printable';

/** Decodes a body by its Content-Transfer-Encoding (unknown encodings are returned as they are). */
export function decodeTransferEncoding(body: Uint8Array, encoding: string): Buffer {
  switch (encoding.trim().toLowerCase()) {
    case 'base64':
      return decodeBase64(body);
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  }
}
