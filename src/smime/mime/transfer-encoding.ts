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

/**
 * Decodes base64, skipping whitespace and any other byte outside the alphabet (RFC 2045 §6.8: such
 * characters "are to be ignored"), and stopping at the first '=' pad.
 */
export function decodeBase64(input: Uint8Array): Buffer {
  const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  // Node's native decoder has exactly these semantics (skips bytes outside the alphabet, stops at the first
  // pad; fuzzed against the loop below in the tests) except that it also reads the base64url letters '-' and
  // '_', which RFC 2045 says to ignore. Two native scans decide; the loop is only for bodies that have them.
  if (bytes.indexOf(0x2d) !== -1 || bytes.indexOf(0x5f) !== -1) return decodeBase64Tolerant(bytes);
  if (bytes.length <= DECODE_BLOCK_BYTES) return Buffer.from(bytes.toString('latin1'), 'base64');
  return decodeInBlocks(bytes);
}

/** Text decoded per native call (see decodeInBlocks). */
const DECODE_BLOCK_BYTES = 80 * 1024;

/**
 * Large bodies are decoded a block of lines at a time into one output buffer: one string of a whole body would
 * land in V8's large-object space and bring on a major collection every few messages. A block is only taken
 * when it is regular: every line the same length L (a multiple of 4) and ended by CRLF, and its decoded size
 * exactly 3/4 of its text, which proves no character in it was skipped or was a pad, so the next block starts
 * on a 4-character boundary. From the first block that is not regular, the rest is decoded in one call.
 */
function decodeInBlocks(bytes: Buffer): Buffer {
  const out = Buffer.allocUnsafe(Math.floor((bytes.length * 3) / 4) + 3);
  const lineChars = bytes.indexOf(CR);
  const lineBytes = lineChars + 2;
  const linesPerBlock = Math.floor(DECODE_BLOCK_BYTES / lineBytes);
  let read = 0;
  let written = 0;
  if (lineChars > 0 && lineChars % 4 === 0) {
    while (bytes.length - read > linesPerBlock * lineBytes) {
      const end = read + linesPerBlock * lineBytes;
      let regular = true;
      for (let lineEnd = read + lineChars; lineEnd < end; lineEnd += lineBytes) {
        if (bytes[lineEnd] !== CR || bytes[lineEnd + 1] !== LF) regular = false;
      }
      const expected = (linesPerBlock * lineChars * 3) / 4;
      if (!regular || out.write(bytes.toString('latin1', read, end), written, 'base64') !== expected) break;
      read = end;
      written += expected;
    }
  }
  written += out.write(bytes.toString('latin1', read), written, 'base64');
  return out.subarray(0, written);
}

/** decodeBase64 byte by byte: the reference semantics, and the path for bodies with '-' or '_' in them. */
export function decodeBase64Tolerant(input: Uint8Array): Buffer {
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

/** Length of encodeBase64Lines(data) for `length` input bytes. */
export function base64LinesLength(length: number): number {
  return Math.ceil(length / 3) * 4 + Math.ceil(length / BASE64_LINE_BYTES) * 2;
}

/** Base64 characters per full line (RFC 2045 §6.8). */
const BASE64_LINE_CHARS = 76;

/**
 * Input bytes encoded per native call: 1024 lines. Each call's text (78 KB) stays a young-generation string; one
 * string for a whole large body would land in V8's large-object space and bring on a major collection every few
 * messages.
 */
const BLOCK_BYTES = BASE64_LINE_BYTES * 1024;

/** Base64 in lines of 76 characters, each ended by CRLF (RFC 2045 §6.8), in one allocation. */
export function encodeBase64Lines(input: Uint8Array): Buffer {
  const data = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const out = Buffer.allocUnsafe(base64LinesLength(data.length));
  encodeRun(out, 0, data);
  return out;
}

/**
 * Cuts a sequence of pieces into runs of whole base64 lines (57 input bytes each) so that each run encodes on its
 * own into complete lines; only the few bytes that complete a line across two pieces are copied.
 */
export class Base64LineAligner {
  private carry = Buffer.alloc(0);

  /** The runs of whole lines that `piece` completes (none, one or two). */
  push(piece: Uint8Array): Buffer[] {
    let rest = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    const runs: Buffer[] = [];
    if (this.carry.length > 0) {
      const fill = Math.min(BASE64_LINE_BYTES - this.carry.length, rest.length);
      this.carry = Buffer.concat([this.carry, rest.subarray(0, fill)]);
      rest = rest.subarray(fill);
      if (this.carry.length < BASE64_LINE_BYTES) return runs;
      runs.push(this.carry);
    }
    const whole = rest.length - (rest.length % BASE64_LINE_BYTES);
    if (whole > 0) runs.push(rest.subarray(0, whole));
    this.carry = Buffer.from(rest.subarray(whole)); // a copy: the caller may reuse its buffer
    return runs;
  }

  /** The last, shorter line's bytes, if any. */
  end(): Buffer | undefined {
    return this.carry.length > 0 ? this.carry : undefined;
  }
}

/**
 * encodeBase64Lines of the concatenation of `pieces`, written into `target` at `offset` (which must have
 * base64LinesLength(total) bytes free there); returns where it ends.
 */
export function encodeBase64LinesInto(target: Buffer, offset: number, pieces: readonly Uint8Array[]): number {
  const aligner = new Base64LineAligner();
  for (const piece of pieces) for (const run of aligner.push(piece)) offset = encodeRun(target, offset, run);
  const last = aligner.end();
  return last ? encodeBlock(target, offset, last) : offset;
}

/** Encodes `data` into `target` at `offset` a block at a time; returns where it ends. */
function encodeRun(target: Buffer, offset: number, data: Buffer): number {
  for (let start = 0; start < data.length; start += BLOCK_BYTES) {
    offset = encodeBlock(target, offset, data.subarray(start, start + BLOCK_BYTES));
  }
  return offset;
}

/**
 * Encodes `block` (whole lines, but for the last block) into `out` at `offset`; returns where it ends. Node's
 * native encoder writes the text into the tail of the block's region, then each line moves forward into place
 * with copyWithin (a memmove) followed by its CRLF: several times faster than encoding in a JavaScript loop. A line
 * never lands on text not yet moved: line i goes to 78·i, and its text sits at 2·lines + 76·i.
 */
function encodeBlock(out: Buffer, offset: number, block: Buffer): number {
  const regionEnd = offset + base64LinesLength(block.length);
  const textStart = regionEnd - Math.ceil(block.length / 3) * 4;
  out.write(block.toString('base64'), textStart, 'latin1');
  let written = offset;
  for (let read = textStart; read < regionEnd; read += BASE64_LINE_CHARS) {
    const end = Math.min(read + BASE64_LINE_CHARS, regionEnd);
    out.copyWithin(written, read, end);
    written += end - read;
    out[written++] = CR;
    out[written++] = LF;
  }
  return regionEnd;
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
