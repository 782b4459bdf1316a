/**
 * Header sections (RFC 5322 §2.2), parameterised fields (RFC 2045 §5.1 with RFC 2231 extensions) and
 * encoded words (RFC 2047). Every scanner here is a single forward pass: no backtracking on input.
 */
import { isAscii } from 'node:buffer';
import { MimeLimitError } from './errors.js';

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;
const COLON = 0x3a;

export interface ByteRange {
  start: number;
  end: number;
}

export interface HeaderField {
  /** Field name as written (compare case-insensitively). */
  name: string;
  /** Value unfolded (RFC 5322 §2.2.3) and trimmed; raw bytes, UTF-8 if valid else Latin-1. */
  value: string;
  /** The field's bytes in the source buffer, its final line break included. */
  range: ByteRange;
}

export interface HeaderSection {
  fields: HeaderField[];
  /** From the first field to the end of the last field's line break (the blank line excluded). */
  range: ByteRange;
  /** Where the body starts: after the blank line, or at `end` when there is none. */
  bodyStart: number;
  warnings: string[];
}

export interface HeaderLimits {
  maxHeaderCount: number;
  maxHeaderLineBytes: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes of a header as text: UTF-8 when valid (RFC 6532), otherwise Latin-1 so no byte is lost. */
export function headerBytesToString(bytes: Uint8Array): string {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isAscii(view)) return view.toString('latin1');
  try {
    return utf8.decode(view);
  } catch {
    return view.toString('latin1');
  }
}

/** Finds the end of the line starting at `pos`: content end (before CR?LF) and the next line start. */
export function lineAt(raw: Uint8Array, pos: number, end: number): { contentEnd: number; next: number } {
  // Search only inside [pos, end): an unbounded search from every part would be quadratic.
  const found = raw.subarray(pos, end).indexOf(LF);
  if (found === -1) return { contentEnd: end, next: end };
  const lf = pos + found;
  return { contentEnd: lf > pos && raw[lf - 1] === CR ? lf - 1 : lf, next: lf + 1 };
}

/**
 * Parses the header section of the entity in raw[start, end). A line that is neither a field nor a
 * continuation ends the section early (the line becomes body), as Python's email package and most
 * readers do; that is recorded as a warning.
 */
export function parseHeaderSection(
  raw: Uint8Array,
  start: number,
  end: number,
  limits: HeaderLimits,
): HeaderSection {
  const fields: HeaderField[] = [];
  const warnings: string[] = [];
  // Segments of the field being read: [start, contentEnd) of each physical line.
  let current: FieldInProgress | undefined;
  let pos = start;
  let sectionEnd = start;
  let bodyStart = end;

  while (pos < end) {
    const { contentEnd, next } = lineAt(raw, pos, end);
    if (contentEnd === pos) {
      bodyStart = next;
      break;
    }
    const first = raw[pos];
    if (first === SPACE || first === TAB) {
      if (current) {
        current.segments.push(pos, contentEnd);
        current.end = next;
        checkFieldSize(current.end - current.start, limits);
      } else {
        warnings.push(`header line at byte ${pos} starts with whitespace but continues no field; ignored`);
      }
      sectionEnd = next;
      pos = next;
      continue;
    }
    const colon = indexOfBefore(raw, COLON, pos, contentEnd);
    if (colon <= pos || !isFieldName(raw, pos, colon)) {
      warnings.push(`line at byte ${pos} is not a header field; the header section ends there`);
      bodyStart = pos;
      break;
    }
    if (current) fields.push(finishField(raw, current));
    if (fields.length >= limits.maxHeaderCount) {
      throw new MimeLimitError(
        'maxHeaderCount',
        limits.maxHeaderCount,
        `MIME part has more than ${limits.maxHeaderCount} header fields; raise limits.maxHeaderCount if this mail is legitimate`,
      );
    }
    current = { nameEnd: colon, segments: [colon + 1, contentEnd], start: pos, end: next };
    checkFieldSize(next - pos, limits);
    sectionEnd = next;
    pos = next;
  }
  if (current) fields.push(finishField(raw, current));
  return { fields, range: { start, end: sectionEnd }, bodyStart: Math.max(bodyStart, sectionEnd), warnings };
}

interface FieldInProgress {
  nameEnd: number;
  segments: number[];
  start: number;
  end: number;
}

/** The field read so far as a HeaderField: name, unfolded value, exact range. */
function finishField(raw: Uint8Array, field: FieldInProgress): HeaderField {
  const segs = field.segments;
  // Most fields are one line: its bytes are read in place; folded ones are unfolded into one buffer.
  const valueBytes =
    segs.length === 2
      ? raw.subarray(segs[0], segs[1])
      : Buffer.concat(
          Array.from({ length: segs.length / 2 }, (_, i) => raw.subarray(segs[2 * i], segs[2 * i + 1])),
        );
  return {
    name: latin1(raw, field.start, field.nameEnd).trim(),
    value: headerBytesToString(valueBytes).trim(),
    range: { start: field.start, end: field.end },
  };
}

/** raw[start, end) as Latin-1 text, read in place. */
function latin1(raw: Uint8Array, start: number, end: number): string {
  return Buffer.from(raw.buffer, raw.byteOffset + start, end - start).toString('latin1');
}

function checkFieldSize(size: number, limits: HeaderLimits): void {
  if (size > limits.maxHeaderLineBytes) {
    throw new MimeLimitError(
      'maxHeaderLineBytes',
      limits.maxHeaderLineBytes,
      `a header field is longer than ${limits.maxHeaderLineBytes} bytes; raise limits.maxHeaderLineBytes if this mail is legitimate`,
    );
  }
}

function indexOfBefore(raw: Uint8Array, byte: number, from: number, to: number): number {
  const at = raw.subarray(from, to).indexOf(byte);
  return at === -1 ? -1 : from + at;
}

/** RFC 5322 §3.6.8 ftext: printable US-ASCII except colon (trailing WSP before the colon tolerated). */
function isFieldName(raw: Uint8Array, start: number, colon: number): boolean {
  let end = colon;
  while (end > start && (raw[end - 1] === SPACE || raw[end - 1] === TAB)) end--;
  if (end === start) return false;
  for (let i = start; i < end; i++) {
    const byte = raw[i] as number;
    if (byte < 0x21 || byte > 0x7e) return false;
  }
  return true;
}

/** First value of a field by case-insensitive name, or undefined. */
export function findHeader(fields: readonly HeaderField[], name: string): string | undefined {
  const wanted = name.toLowerCase();
  return fields.find((field) => field.name.toLowerCase() === wanted)?.value;
}

// ---------------------------------------------------------------------------------------------
// Parameterised fields: Content-Type, Content-Disposition (RFC 2045 §5.1, RFC 2183, RFC 2231)

export interface ParameterizedValue {
  /** Lower-cased main value, e.g. "multipart/signed" or "attachment". */
  value: string;
  /** Lower-cased parameter names; RFC 2231 continuations joined and charsets decoded. */
  params: Record<string, string>;
}

const TSPECIALS = new Set([...'()<>@,;:\\"/[]?=']);

/** Single-pass tokenizer over a parameterised header value. */
class ParamScanner {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  /** Skips whitespace and (nested) comments. */
  skipCfws(): void {
    let depth = 0;
    while (this.pos < this.text.length) {
      const char = this.text[this.pos] as string;
      if (depth > 0) {
        if (char === '\\') this.pos++;
        else if (char === '(') depth++;
        else if (char === ')') depth--;
        this.pos++;
      } else if (char === '(') {
        depth = 1;
        this.pos++;
      } else if (char === ' ' || char === '\t' || char === '\r' || char === '\n') {
        this.pos++;
      } else {
        return;
      }
    }
  }

  token(): string {
    const start = this.pos;
    while (this.pos < this.text.length) {
      const char = this.text[this.pos] as string;
      if (char <= ' ' || TSPECIALS.has(char)) break;
      this.pos++;
    }
    return this.text.slice(start, this.pos);
  }

  quoted(): string {
    let out = '';
    this.pos++; // opening quote
    while (this.pos < this.text.length) {
      const char = this.text[this.pos++] as string;
      if (char === '"') return out;
      if (char === '\\' && this.pos < this.text.length) out += this.text[this.pos++];
      else out += char;
    }
    return out; // unterminated: take what there is, as readers do
  }

  /** A parameter value: quoted-string or token; lenient about stray bytes up to the next ';'. */
  value(): string {
    if (this.text[this.pos] === '"') return this.quoted();
    const start = this.pos;
    while (this.pos < this.text.length && this.text[this.pos] !== ';') this.pos++;
    return this.text.slice(start, this.pos).trim();
  }

  skipTo(char: string): void {
    const at = this.text.indexOf(char, this.pos);
    this.pos = at === -1 ? this.text.length : at;
  }
}

interface RawParam {
  section: number;
  extended: boolean;
  value: string;
}

/** Parses `value; a=b; c="d"; e*0*=utf-8''%C3%A9; e*1=f` into its value and parameters. */
export function parseParameterized(text: string): ParameterizedValue {
  const scan = new ParamScanner(text);
  scan.skipCfws();
  const start = scan.pos;
  scan.skipTo(';');
  let main = text.slice(start, scan.pos);
  if (main.includes('(')) main = main.replace(/\([^()]*\)/g, '');
  main = main.replace(/\s+/g, '').toLowerCase();
  const collected = new Map<string, RawParam[]>();
  while (!scan.done) {
    scan.pos++; // ';'
    scan.skipCfws();
    const name = scan.token().toLowerCase();
    scan.skipCfws();
    if (name === '' || text[scan.pos] !== '=') {
      scan.skipTo(';');
      continue;
    }
    scan.pos++; // '='
    scan.skipCfws();
    const value = scan.value();
    scan.skipTo(';');
    const split = /^([^*]+)(?:\*(\d+))?(\*)?$/.exec(name);
    if (!split) continue;
    const base = split[1] as string;
    const list = collected.get(base) ?? [];
    list.push({ section: split[2] === undefined ? 0 : Number(split[2]), extended: split[3] === '*', value });
    collected.set(base, list);
  }
  const params: Record<string, string> = {};
  for (const [name, sections] of collected) params[name] = joinRfc2231(sections);
  return { value: main, params };
}

/** RFC 2231 §3–4: join numbered sections in order; the first extended one names the charset. */
function joinRfc2231(sections: RawParam[]): string {
  const only = sections.length === 1 ? sections[0] : undefined;
  if (only && !only.extended) return only.value; // the usual case: one plain parameter
  const ordered = [...sections].sort((a, b) => a.section - b.section);
  let charset: string | undefined;
  const bytes: number[] = [];
  let text = '';
  const flush = (): void => {
    if (bytes.length > 0) text += decodeCharset(Uint8Array.from(bytes), charset ?? 'us-ascii');
    bytes.length = 0;
  };
  ordered.forEach((part, index) => {
    if (!part.extended) {
      flush();
      text += part.value;
      return;
    }
    let encoded = part.value;
    if (index === 0) {
      const match = /^([^']*)'[^']*'(.*)$/s.exec(encoded);
      if (match) {
        charset = match[1] || undefined;
        encoded = match[2] as string;
      }
    }
    for (let i = 0; i < encoded.length; i++) {
      const char = encoded[i] as string;
      const hex = char === '%' ? encoded.slice(i + 1, i + 3) : '';
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
      } else {
        for (const byte of Buffer.from(char, 'utf8')) bytes.push(byte);
      }
    }
  });
  flush();
  return text;
}

/** Decodes bytes in a named charset; unknown charsets fall back to Latin-1 so nothing is lost. */
export function decodeCharset(bytes: Uint8Array, charset: string): string {
  const label = charset.trim().toLowerCase();
  if (label === 'us-ascii' || label === 'ascii') return Buffer.from(bytes).toString('latin1');
  try {
    return new TextDecoder(label).decode(bytes);
  } catch {
    return Buffer.from(bytes).toString('latin1');
  }
}

export interface ContentType {
  type: string;
  subtype: string;
  /** "type/subtype", lower case. */
  mediaType: string;
  params: Record<string, string>;
}

/** RFC 2045 §5.2: missing or unparseable Content-Type means text/plain; charset=us-ascii. */
export function parseContentType(value: string | undefined, fallback = 'text/plain'): ContentType {
  const parsed = value === undefined ? undefined : parseParameterized(value);
  const match = parsed ? /^([a-z0-9!#$&^_.+-]+)\/([a-z0-9!#$&^_.+-]+)$/.exec(parsed.value) : null;
  if (!parsed || !match) {
    const [type, subtype] = fallback.split('/') as [string, string];
    const params: Record<string, string> = fallback === 'text/plain' ? { charset: 'us-ascii' } : {};
    return { type, subtype, mediaType: fallback, params };
  }
  return {
    type: match[1] as string,
    subtype: match[2] as string,
    mediaType: parsed.value,
    params: parsed.params,
  };
}

// ---------------------------------------------------------------------------------------------
// RFC 2047 encoded words

// No nested quantifiers and the classes exclude '?', so matching is linear in the input length.
const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

function decodeEncodedText(charset: string, encoding: string, text: string): string {
  const cleanCharset = charset.split('*')[0] as string; // RFC 2231 §5 language suffix
  let bytes: Buffer;
  if (encoding.toLowerCase() === 'b') {
    bytes = Buffer.from(text, 'base64');
  } else {
    const decoded: number[] = [];
    for (let i = 0; i < text.length; i++) {
      const char = text[i] as string;
      const hex = char === '=' ? text.slice(i + 1, i + 3) : '';
      if (char === '_') decoded.push(0x20);
      else if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        decoded.push(parseInt(hex, 16));
        i += 2;
      } else decoded.push(char.charCodeAt(0) & 0xff);
    }
    bytes = Buffer.from(decoded);
  }
  return decodeCharset(bytes, cleanCharset);
}

/**
 * Decodes RFC 2047 encoded words for display. Whitespace between two adjacent encoded words is
 * dropped (§6.2); malformed words are left as written.
 */
export function decodeHeaderWords(value: string): string {
  let out = '';
  let last = 0;
  let previousWasWord = false;
  for (const match of value.matchAll(ENCODED_WORD)) {
    const index = match.index;
    const between = value.slice(last, index);
    if (!(previousWasWord && /^\s*$/.test(between))) out += between;
    out += decodeEncodedText(match[1] as string, match[2] as string, match[3] as string);
    last = index + match[0].length;
    previousWasWord = true;
  }
  return out + value.slice(last);
}

/** Encodes text as RFC 2047 B-encoded UTF-8 words of at most 75 characters each, folded. */
export function encodeHeaderWords(text: string): string {
  const words: string[] = [];
  let chunk = '';
  // 42 bytes → 56 base64 chars, 68 with "=?UTF-8?B?" and "?=": fits a 78-column line after "Subject: "
  const maxPayloadBytes = 42;
  for (const char of text) {
    if (Buffer.byteLength(chunk + char, 'utf8') > maxPayloadBytes) {
      words.push(chunk);
      chunk = '';
    }
    chunk += char;
  }
  if (chunk !== '') words.push(chunk);
  return words.map((word) => `=?UTF-8?B?${Buffer.from(word, 'utf8').toString('base64')}?=`).join('\r\n ');
}
