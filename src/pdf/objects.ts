/**
 * The PDF object model (ISO 32000-2 §7.3). Every parsed object remembers its byte range in the file
 * (`range`, end exclusive) — offsets inside a decoded object stream are not file offsets, so objects
 * read from object streams have no range. Reals keep their original token text so that a writer can
 * reproduce them exactly.
 */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export class PdfNull {
  readonly kind = 'null';
  constructor(readonly range?: ByteRange) {}
}

export class PdfBoolean {
  readonly kind = 'boolean';
  constructor(
    readonly value: boolean,
    readonly range?: ByteRange,
  ) {}
}

export class PdfNumber {
  readonly kind = 'number';
  /**
   * @param text the token as written (e.g. "0.50", "-.5"); for integers built in code, String(value).
   */
  constructor(
    readonly value: number,
    readonly isInteger: boolean,
    readonly text: string = String(value),
    readonly range?: ByteRange,
  ) {}
  static int(value: number): PdfNumber {
    return new PdfNumber(value, true);
  }
}

/** A string's bytes, after unescaping (and after decryption when the document is encrypted). */
export class PdfString {
  readonly kind = 'string';
  constructor(
    readonly bytes: Buffer,
    readonly isHex = false,
    readonly range?: ByteRange,
  ) {}
  /** Text string per §7.9.2.2: UTF-16BE with BOM, UTF-8 with BOM, else PDFDocEncoding (≈ Latin-1). */
  toText(): string {
    const b = this.bytes;
    if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) {
      const body = Buffer.from(b.subarray(2, 2 + ((b.length - 2) & ~1)));
      return body.swap16().toString('utf16le');
    }
    if (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf)
      return b.subarray(3).toString('utf8');
    return b.toString('latin1');
  }
}

/** A name, decoded from #xx escapes; bytes are kept one-to-one as Latin-1 characters. */
export class PdfName {
  readonly kind = 'name';
  constructor(
    readonly value: string,
    readonly range?: ByteRange,
  ) {}
}

export class PdfArray {
  readonly kind = 'array';
  constructor(
    readonly items: PdfObject[],
    readonly range?: ByteRange,
  ) {}
  get length(): number {
    return this.items.length;
  }
  get(i: number): PdfObject | undefined {
    return this.items[i];
  }
}

/** A dictionary; keys are names without the slash, in file order. */
export class PdfDict {
  readonly kind = 'dict';
  constructor(
    readonly entries: Map<string, PdfObject> = new Map(),
    readonly range?: ByteRange,
  ) {}
  get(key: string): PdfObject | undefined {
    return this.entries.get(key);
  }
  has(key: string): boolean {
    return this.entries.has(key);
  }
  keys(): string[] {
    return [...this.entries.keys()];
  }
  /** The value if it is a direct name, else undefined. */
  getName(key: string): string | undefined {
    const v = this.entries.get(key);
    return v?.kind === 'name' ? v.value : undefined;
  }
  /** The value if it is a direct number, else undefined. */
  getNumber(key: string): number | undefined {
    const v = this.entries.get(key);
    return v?.kind === 'number' ? v.value : undefined;
  }
}

/** Where a stream's (still encoded, possibly encrypted) data lies. */
export type StreamData =
  | { readonly kind: 'file'; readonly offset: number; readonly length: number }
  | { readonly kind: 'memory'; readonly bytes: Buffer };

/**
 * A stream: its dictionary and where its raw data is. Data is read and decoded only on demand
 * (`PdfDocument.streamBytes` / `decodeStream`). `owner` is the indirect object that holds it, which
 * the security handler needs to derive the object key.
 */
export class PdfStream {
  readonly kind = 'stream';
  constructor(
    readonly dict: PdfDict,
    readonly data: StreamData,
    readonly owner?: { readonly num: number; readonly gen: number },
    readonly range?: ByteRange,
  ) {}
}

export class PdfRef {
  readonly kind = 'ref';
  constructor(
    readonly num: number,
    readonly gen: number,
    readonly range?: ByteRange,
  ) {}
  toString(): string {
    return `${this.num} ${this.gen} R`;
  }
  equals(other: PdfRef): boolean {
    return this.num === other.num && this.gen === other.gen;
  }
}

export type PdfObject =
  PdfNull | PdfBoolean | PdfNumber | PdfString | PdfName | PdfArray | PdfDict | PdfStream | PdfRef;

/** Where an indirect object was found. */
export type ObjectLocation =
  | { readonly kind: 'offset'; readonly offset: number }
  | { readonly kind: 'compressed'; readonly streamNum: number; readonly index: number };

/** An indirect object as read: `n g obj … endobj`. `range` covers from `n` through `endobj`. */
export interface IndirectObject {
  readonly ref: PdfRef;
  readonly value: PdfObject;
  readonly location: ObjectLocation;
  readonly range?: ByteRange;
}
