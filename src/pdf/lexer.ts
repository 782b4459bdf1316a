import { PdfLimitError, PdfSyntaxError } from './errors.js';

/** Thrown (internally) when a token runs past the end of the window while the file goes on. */
export class NeedMoreData extends Error {
  override name = 'NeedMoreData';
}

export type Token =
  | { type: 'int' | 'real'; start: number; end: number; value: number; text: string }
  | { type: 'name'; start: number; end: number; value: string }
  | { type: 'string' | 'hexstring'; start: number; end: number; bytes: Buffer }
  | { type: 'punct'; start: number; end: number; value: '[' | ']' | '<<' | '>>' | '{' | '}' }
  | { type: 'keyword'; start: number; end: number; value: string }
  | { type: 'eof'; start: number; end: number };

const WHITESPACE = new Uint8Array(256);
for (const c of [0, 9, 10, 12, 13, 32]) WHITESPACE[c] = 1;
const DELIMITER = new Uint8Array(256);
for (const c of '()<>[]{}/%') DELIMITER[c.charCodeAt(0)] = 1;

export function isWhitespace(c: number): boolean {
  return WHITESPACE[c] === 1;
}
export function isRegular(c: number): boolean {
  return WHITESPACE[c] !== 1 && DELIMITER[c] !== 1;
}

const MAX_TOKEN_CHARS = 256;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Tokenizer (ISO 32000-2 §7.2) over a window of the file. `base` is the file offset of `buf[0]`; token
 * positions are file offsets. When a token would run past the window and `atEof` is false, it throws
 * `NeedMoreData` so the caller can retry with a larger window.
 */
export class Lexer {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly base: number,
    readonly atEof: boolean,
    private readonly maxStringBytes: number,
  ) {}

  /** File offset of the current position. */
  get offset(): number {
    return this.base + this.pos;
  }
  set offset(v: number) {
    this.pos = v - this.base;
  }

  private more(): never {
    throw new NeedMoreData();
  }

  private syntax(msg: string, at = this.offset): never {
    throw new PdfSyntaxError(`${msg} at byte ${at}`);
  }

  skipWhitespaceAndComments(): void {
    const b = this.buf;
    for (;;) {
      while (this.pos < b.length && WHITESPACE[b[this.pos]!] === 1) this.pos++;
      if (this.pos < b.length && b[this.pos] === 0x25) {
        while (this.pos < b.length && b[this.pos] !== 0x0a && b[this.pos] !== 0x0d) this.pos++;
        continue;
      }
      break;
    }
    if (this.pos >= b.length && !this.atEof) this.more();
  }

  next(): Token {
    this.skipWhitespaceAndComments();
    const b = this.buf;
    const start = this.pos;
    if (start >= b.length) return { type: 'eof', start: this.offset, end: this.offset };
    const c = b[start]!;
    const fileStart = this.base + start;
    switch (c) {
      case 0x5b: // [
      case 0x5d: // ]
      case 0x7b: // {
      case 0x7d: // }
        this.pos++;
        return {
          type: 'punct',
          start: fileStart,
          end: fileStart + 1,
          value: String.fromCharCode(c) as '[' | ']' | '{' | '}',
        };
      case 0x3c: // <
        if (start + 1 >= b.length && !this.atEof) this.more();
        if (b[start + 1] === 0x3c) {
          this.pos += 2;
          return { type: 'punct', start: fileStart, end: fileStart + 2, value: '<<' };
        }
        return this.hexString();
      case 0x3e: // >
        if (start + 1 >= b.length && !this.atEof) this.more();
        if (b[start + 1] === 0x3e) {
          this.pos += 2;
          return { type: 'punct', start: fileStart, end: fileStart + 2, value: '>>' };
        }
        return this.syntax('unexpected ">"');
      case 0x28: // (
        return this.literalString();
      case 0x2f: // /
        return this.name();
      case 0x29: // )
        return this.syntax('unbalanced ")"');
      default:
        return this.regular();
    }
  }

  /** Peek the next token without consuming it. */
  peek(): Token {
    const save = this.pos;
    try {
      return this.next();
    } finally {
      this.pos = save;
    }
  }

  private regularRun(): number {
    const b = this.buf;
    let p = this.pos;
    while (p < b.length && isRegular(b[p]!)) {
      p++;
      if (p - this.pos > MAX_TOKEN_CHARS) this.syntax('token longer than 256 characters');
    }
    if (p >= b.length && !this.atEof) this.more();
    return p;
  }

  private regular(): Token {
    const start = this.pos;
    const end = this.regularRun();
    this.pos = end;
    const text = this.buf.toString('latin1', start, end);
    const fileStart = this.base + start;
    const fileEnd = this.base + end;
    if (/^[+-]?\d+$/.test(text)) {
      const value = Number(text);
      if (!Number.isSafeInteger(value))
        this.syntax(`integer ${text.slice(0, 40)} is out of range`, fileStart);
      return { type: 'int', start: fileStart, end: fileEnd, value, text };
    }
    if (/^[+-]?(\d+\.\d*|\.\d+)$/.test(text)) {
      const value = Number(text);
      if (!Number.isFinite(value) || Math.abs(value) > 1e38)
        this.syntax(`real number ${text.slice(0, 40)} is out of range`, fileStart);
      return { type: 'real', start: fileStart, end: fileEnd, value, text };
    }
    // Some producers write "--5" or "5-" in content streams; objects never need them: a keyword.
    return { type: 'keyword', start: fileStart, end: fileEnd, value: text };
  }

  private name(): Token {
    const b = this.buf;
    const start = this.pos;
    this.pos++;
    const end = this.regularRun();
    const out: number[] = [];
    for (let p = this.pos; p < end; p++) {
      const c = b[p]!;
      if (c === 0x23 && p + 2 < end + 0 && hexValue(b[p + 1]!) >= 0 && hexValue(b[p + 2]!) >= 0) {
        out.push(hexValue(b[p + 1]!) * 16 + hexValue(b[p + 2]!));
        p += 2;
      } else out.push(c);
    }
    this.pos = end;
    return {
      type: 'name',
      start: this.base + start,
      end: this.base + end,
      value: Buffer.from(out).toString('latin1'),
    };
  }

  private hexString(): Token {
    const b = this.buf;
    const start = this.pos;
    let p = start + 1;
    const out = Buffer.allocUnsafe(Math.min(this.maxStringBytes, (b.length - p + 1) >> 1) + 1);
    let n = 0;
    let high = -1;
    for (;;) {
      if (p >= b.length) {
        if (!this.atEof) this.more();
        this.syntax('unterminated hex string', this.base + start);
      }
      const c = b[p++]!;
      if (c === 0x3e) break;
      if (WHITESPACE[c] === 1) continue;
      const v = hexValue(c);
      if (v < 0) this.syntax(`invalid character 0x${c.toString(16)} in hex string`, this.base + p - 1);
      if (high < 0) high = v;
      else {
        if (n >= this.maxStringBytes)
          throw new PdfLimitError(`hex string at byte ${this.base + start} is too long`);
        out[n++] = high * 16 + v;
        high = -1;
      }
    }
    if (high >= 0) out[n++] = high * 16; // §7.3.4.3: a missing final digit is 0
    this.pos = p;
    return {
      type: 'hexstring',
      start: this.base + start,
      end: this.base + p,
      bytes: Buffer.from(out.subarray(0, n)),
    };
  }

  private literalString(): Token {
    const b = this.buf;
    const start = this.pos;
    let p = start + 1;
    let depth = 1;
    const out: number[] = [];
    const need = (): void => {
      if (p >= b.length) {
        if (!this.atEof) this.more();
        this.syntax('unterminated literal string', this.base + start);
      }
    };
    for (;;) {
      need();
      if (out.length > this.maxStringBytes)
        throw new PdfLimitError(`literal string at byte ${this.base + start} is too long`);
      const c = b[p++]!;
      if (c === 0x28) {
        depth++;
        out.push(c);
      } else if (c === 0x29) {
        if (--depth === 0) break;
        out.push(c);
      } else if (c === 0x5c) {
        need();
        const e = b[p++]!;
        switch (e) {
          case 0x6e: out.push(0x0a); break; // prettier-ignore
          case 0x72: out.push(0x0d); break; // prettier-ignore
          case 0x74: out.push(0x09); break; // prettier-ignore
          case 0x62: out.push(0x08); break; // prettier-ignore
          case 0x66: out.push(0x0c); break; // prettier-ignore
          case 0x0d: // line continuation: backslash + EOL produces nothing
            if (p >= b.length && !this.atEof) this.more();
            if (b[p] === 0x0a) p++;
            break;
          case 0x0a:
            break;
          default:
            if (e >= 0x30 && e <= 0x37) {
              let v = e - 0x30;
              for (let k = 0; k < 2; k++) {
                if (p >= b.length && !this.atEof) this.more();
                const d = b[p];
                if (d === undefined || d < 0x30 || d > 0x37) break;
                v = v * 8 + (d - 0x30);
                p++;
              }
              out.push(v & 0xff);
            } else out.push(e); // \( \) \\ and unknown escapes: the character itself
        }
      } else if (c === 0x0d) {
        // §7.3.4.2: an unescaped EOL (CR, CRLF) in a literal string is read as LF
        if (p >= b.length && !this.atEof) this.more();
        if (b[p] === 0x0a) p++;
        out.push(0x0a);
      } else out.push(c);
    }
    this.pos = p;
    return { type: 'string', start: this.base + start, end: this.base + p, bytes: Buffer.from(out) };
  }
}
