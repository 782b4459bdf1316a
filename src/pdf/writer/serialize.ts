/**
 * Object serialisation (ISO 32000-2 §7.3) for the incremental writer. Reals keep their original token
 * text, strings are written literal (escaped) or hex as they were read, names are #-escaped outside the
 * regular-character range (§7.3.5). Strings and streams are encrypted through the document's security
 * handler when the writer passes one (§7.6.2) — except what §7.6.2 exempts (a signature's /Contents,
 * xref streams), which callers write as `PdfRaw`.
 */
import type { SecurityHandler } from '../crypt/security-handler.js';
import type { PdfObject } from '../objects.js';
import { PdfNumber } from '../objects.js';
import type { PdfDict } from '../objects.js';
import { PdfWriteError } from './errors.js';

/** Bytes written verbatim: placeholders the signer patches later, and never encrypted. */
export class PdfRaw {
  readonly kind = 'raw';
  constructor(readonly bytes: Buffer) {}
  static text(s: string): PdfRaw {
    return new PdfRaw(Buffer.from(s, 'latin1'));
  }
}

/** A stream to write: its dictionary (/Length is set here) and its encoded, unencrypted data. */
export class PdfNewStream {
  readonly kind = 'new-stream';
  constructor(
    readonly dict: PdfDict | WritableDict,
    readonly data: Buffer,
  ) {}
}

/** Anything the writer can serialise: a reader object, verbatim bytes, or a stream built in code. */
export type WritableObject = PdfObject | PdfRaw | PdfNewStream | WritableDict | WritableArray;

/** Dictionaries and arrays built in code may hold writer-only values (placeholders, nested raw bytes). */
export class WritableDict {
  readonly kind = 'wdict';
  constructor(readonly entries: Map<string, WritableObject | undefined> = new Map()) {}
  set(key: string, value: WritableObject | undefined): this {
    this.entries.set(key, value);
    return this;
  }
}
export class WritableArray {
  readonly kind = 'warray';
  constructor(readonly items: WritableObject[]) {}
}

/** Encrypts the strings of one indirect object, or nothing. */
export interface ObjectCrypt {
  handler: SecurityHandler;
  num: number;
  gen: number;
}

const MAX_DEPTH = 64;
const DELIMITERS = new Set([...'()<>[]{}/%#'].map((c) => c.charCodeAt(0)));

const PLAIN_NAME = /^[!"$&'*+,\-.0-9:;=?@A-Z\\^_`a-z|~]*$/;

export function serializeName(name: string): string {
  if (PLAIN_NAME.test(name)) return `/${name}`;
  let out = '/';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i) & 0xff;
    out += c <= 0x20 || c >= 0x7f || DELIMITERS.has(c) ? `#${c.toString(16).padStart(2, '0')}` : name[i];
  }
  return out;
}

function literalString(bytes: Buffer): string {
  let out = '(';
  for (const c of bytes) {
    if (c === 0x28 || c === 0x29 || c === 0x5c) out += `\\${String.fromCharCode(c)}`;
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x0a) out += '\\n';
    else out += String.fromCharCode(c);
  }
  return out + ')';
}

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  if (!Number.isFinite(value)) throw new PdfWriteError(`cannot write the number ${value} in a PDF`);
  // §7.3.3: no exponent form; 6 decimals are below any device resolution.
  return value.toFixed(6).replace(/\.?0+$/, '');
}

/**
 * Output of one serialisation: text accumulates in a string and becomes bytes only where verbatim bytes
 * (a placeholder) interrupt it — one Buffer per run of text rather than one per token.
 */
class ByteWriter {
  private readonly parts: Buffer[] = [];
  private pendingText = '';

  text(s: string): void {
    this.pendingText += s;
  }

  bytes(b: Buffer): void {
    this.flush();
    this.parts.push(b);
  }

  finish(): Buffer {
    this.flush();
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
  }

  private flush(): void {
    if (!this.pendingText) return;
    this.parts.push(Buffer.from(this.pendingText, 'latin1'));
    this.pendingText = '';
  }
}

/** Serialise one object (not the "n g obj" wrapper). Strings are encrypted when `crypt` is given. */
export function serializeObject(obj: WritableObject, crypt?: ObjectCrypt, depth = 0): Buffer {
  const out = new ByteWriter();
  write(obj, crypt, depth, out);
  return out.finish();
}

function write(
  obj: WritableObject | undefined,
  crypt: ObjectCrypt | undefined,
  depth: number,
  out: ByteWriter,
): void {
  if (depth > MAX_DEPTH) throw new PdfWriteError(`object nests deeper than ${MAX_DEPTH} levels`);
  if (obj === undefined) return out.text('null');
  switch (obj.kind) {
    case 'null':
      return out.text('null');
    case 'boolean':
      return out.text(obj.value ? 'true' : 'false');
    case 'number':
      return out.text(obj.isInteger ? String(obj.value) : obj.range ? obj.text : formatNumber(obj.value));
    case 'string': {
      const bytes = crypt ? crypt.handler.encryptString(crypt.num, crypt.gen, obj.bytes) : obj.bytes;
      return out.text(obj.isHex || crypt ? `<${bytes.toString('hex')}>` : literalString(bytes));
    }
    case 'name':
      return out.text(serializeName(obj.value));
    case 'ref':
      return out.text(`${obj.num} ${obj.gen} R`);
    case 'raw':
      return out.bytes(obj.bytes);
    case 'array':
    case 'warray': {
      out.text('[');
      for (let i = 0; i < obj.items.length; i++) {
        if (i) out.text(' ');
        write(obj.items[i], crypt, depth + 1, out);
      }
      return out.text(']');
    }
    case 'dict':
    case 'wdict': {
      out.text('<<');
      for (const [k, v] of obj.entries) {
        if (v === undefined) continue;
        out.text(serializeName(k));
        out.text(' ');
        write(v, crypt, depth + 1, out);
      }
      return out.text('>>');
    }
    case 'stream':
      throw new PdfWriteError('an existing stream cannot be re-serialised; copy it as a PdfNewStream');
    case 'new-stream':
      throw new PdfWriteError('a stream must be an indirect object, not nested inside another object');
  }
}

/** Serialise a stream object's body: dictionary with /Length, "stream", data, "endstream". */
export function serializeStream(s: PdfNewStream, crypt?: ObjectCrypt): Buffer {
  const data = crypt ? crypt.handler.encryptStream(crypt.num, crypt.gen, s.data) : s.data;
  const dict = new WritableDict(new Map<string, WritableObject | undefined>(s.dict.entries));
  dict.set('Length', PdfNumber.int(data.length));
  return Buffer.concat([
    serializeObject(dict, crypt),
    Buffer.from('\nstream\n', 'latin1'),
    data,
    Buffer.from('\nendstream', 'latin1'),
  ]);
}
