/**
 * The incremental update writer (ISO 32000-2 §7.5.6): new and changed objects only, appended after the
 * existing bytes, which are never touched. The cross-reference section takes the form of the previous
 * one (classic table after a table or a hybrid file, xref stream after an xref stream), /Prev points at
 * the previous startxref, and the trailer carries /Root, /Info, /Encrypt and /ID (second element renewed,
 * §14.4). New strings and streams are encrypted through the document's security handler.
 */
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import type { PdfDocument } from '../document.js';
import type { ByteRange, PdfObject } from '../objects.js';
import { PdfArray, PdfName, PdfNumber, PdfRef, PdfString } from '../objects.js';
import { PdfWriteError } from './errors.js';
import {
  PdfNewStream,
  WritableDict,
  serializeObject,
  serializeStream,
  type ObjectCrypt,
  type WritableObject,
} from './serialize.js';

/** The appended bytes and where each written object lies in them (offsets relative to `bytes`). */
export interface BuiltUpdate {
  bytes: Buffer;
  /** Offset in the output file at which `bytes` begins. */
  baseOffset: number;
  objects: Map<number, ByteRange>;
  /** Offset (in the output file) of the new xref section. */
  startxref: number;
}

/** Never encrypted, whatever the handler (§7.6.2, §7.6.3.1). */
function exemptFromEncryption(value: WritableObject, encryptMetadata: boolean): boolean {
  if (value.kind !== 'new-stream') return false;
  const type = value.dict.entries.get('Type');
  const name = type?.kind === 'name' ? type.value : undefined;
  return name === 'XRef' || (name === 'Metadata' && !encryptMetadata);
}

export class IncrementalUpdate {
  private readonly objects = new Map<number, { gen: number; value: WritableObject }>();
  private nextNum: number;

  constructor(readonly doc: PdfDocument) {
    const size = doc.trailer.getNumber('Size') ?? 0;
    const used = doc.latest.objectNumbers();
    this.nextNum = Math.max(size, (used.at(-1) ?? 0) + 1);
  }

  /** A fresh object number for a new object. */
  allocate(): PdfRef {
    return new PdfRef(this.nextNum++, 0);
  }

  /** Add a new object and return its reference. */
  add(value: WritableObject): PdfRef {
    const ref = this.allocate();
    this.set(ref, value);
    return ref;
  }

  /** Write (or replace) object `ref`: a new object, or a changed version of an existing one. */
  set(ref: PdfRef, value: WritableObject): void {
    if (ref.num <= 0 || ref.num >= this.nextNum)
      throw new PdfWriteError(`object ${ref.num} was neither allocated nor read from the document`);
    this.objects.set(ref.num, { gen: ref.gen, value });
  }

  has(ref: PdfRef): boolean {
    return this.objects.has(ref.num);
  }

  /** The value this update writes for `ref`, if any (so that several edits to one object compose). */
  pending(ref: PdfRef): WritableObject | undefined {
    return this.objects.get(ref.num)?.value;
  }

  get isEmpty(): boolean {
    return this.objects.size === 0;
  }

  /**
   * Serialise the update for a file whose existing bytes end at `inputSize`; `lastByte` is the input's
   * final byte (an end-of-line is inserted when it is not one, so "n g obj" starts a line).
   */
  build(inputSize: number, lastByte: number | undefined): BuiltUpdate {
    if (this.isEmpty) throw new PdfWriteError('nothing to write: the update has no objects');
    const lead = lastByte === 0x0a || lastByte === 0x0d ? '' : '\n';
    const parts: Buffer[] = [Buffer.from(lead, 'latin1')];
    let length = lead.length;
    const push = (b: Buffer): void => {
      parts.push(b);
      length += b.length;
    };
    const handler = this.doc.securityHandler;
    const encryptMetadata = handler?.info.encryptMetadata ?? true;
    const offsets = new Map<number, { offset: number; gen: number }>();
    const ranges = new Map<number, ByteRange>();
    const ordered = [...this.objects.entries()].sort((a, b) => a[0] - b[0]);
    for (const [num, { gen, value }] of ordered) {
      const crypt: ObjectCrypt | undefined =
        handler && !exemptFromEncryption(value, encryptMetadata) ? { handler, num, gen } : undefined;
      const start = length;
      offsets.set(num, { offset: inputSize + start, gen });
      push(Buffer.from(`${num} ${gen} obj\n`, 'latin1'));
      push(value.kind === 'new-stream' ? serializeStream(value, crypt) : serializeObject(value, crypt));
      push(Buffer.from('\nendobj\n', 'latin1'));
      ranges.set(num, { start, end: length });
    }
    const last = this.doc.revisions.at(-1);
    const prev = last?.startxref;
    const form = last?.sections[0]?.kind === 'stream' ? 'stream' : 'table';
    const trailer = this.trailerEntries(prev);
    const startxref = inputSize + length;
    if (form === 'table') {
      push(Buffer.from(xrefTable(offsets), 'latin1'));
      trailer.set('Size', PdfNumber.int(this.nextNum));
      push(Buffer.concat([Buffer.from('trailer\n'), serializeObject(trailer), Buffer.from('\n')]));
    } else {
      const xrefNum = this.nextNum; // not allocated: build() may be called again
      offsets.set(xrefNum, { offset: startxref, gen: 0 });
      const start = length;
      push(Buffer.from(`${xrefNum} 0 obj\n`, 'latin1'));
      push(serializeStream(xrefStream(offsets, trailer, xrefNum + 1)));
      push(Buffer.from('\nendobj\n', 'latin1'));
      ranges.set(xrefNum, { start, end: length });
    }
    push(Buffer.from(`startxref\n${startxref}\n%%EOF\n`, 'latin1'));
    return { bytes: Buffer.concat(parts, length), baseOffset: inputSize, objects: ranges, startxref };
  }

  private trailerEntries(prev: number | undefined): WritableDict {
    const old = this.doc.trailer;
    const t = new WritableDict();
    for (const key of ['Root', 'Info', 'Encrypt'] as const) {
      const v = old.get(key);
      if (v) t.set(key, v);
    }
    // §14.4: the first identifier stays, the second changes with every update.
    const id = old.get('ID');
    const first = id?.kind === 'array' && id.items[0]?.kind === 'string' ? id.items[0].bytes : undefined;
    const fresh = randomBytes(16);
    t.set('ID', new PdfArray([new PdfString(first ?? fresh, true), new PdfString(fresh, true)]));
    if (prev !== undefined) t.set('Prev', PdfNumber.int(prev));
    return t;
  }
}

/** A classic xref table with one subsection per run of consecutive numbers (§7.5.4). */
function xrefTable(offsets: Map<number, { offset: number; gen: number }>): string {
  const nums = [...offsets.keys()].sort((a, b) => a - b);
  let out = 'xref\n';
  for (let i = 0; i < nums.length;) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    out += `${nums[i]} ${j - i + 1}\n`;
    for (let k = i; k <= j; k++) {
      const e = offsets.get(nums[k]!)!;
      out += `${String(e.offset).padStart(10, '0')} ${String(e.gen).padStart(5, '0')} n\r\n`;
    }
    i = j + 1;
  }
  return out;
}

/** An xref stream (§7.5.8) holding the new entries, itself included; never encrypted. */
function xrefStream(
  offsets: Map<number, { offset: number; gen: number }>,
  trailer: WritableDict,
  size: number,
): PdfNewStream {
  const nums = [...offsets.keys()].sort((a, b) => a - b);
  const maxOffset = Math.max(...[...offsets.values()].map((e) => e.offset));
  let w2 = 1;
  while (maxOffset >= 2 ** (8 * w2)) w2++;
  const maxGen = Math.max(...[...offsets.values()].map((e) => e.gen));
  const w3 = maxGen > 0xff ? 2 : 1;
  const row = 1 + w2 + w3;
  const data = Buffer.alloc(nums.length * row);
  const index: PdfObject[] = [];
  nums.forEach((num, i) => {
    const e = offsets.get(num)!;
    const at = i * row;
    data[at] = 1;
    data.writeUIntBE(e.offset, at + 1, w2);
    data.writeUIntBE(e.gen, at + 1 + w2, w3);
    const lastStart = index.length >= 2 ? (index.at(-2) as PdfNumber).value : -2;
    const lastCount = index.length >= 2 ? (index.at(-1) as PdfNumber).value : 0;
    if (lastStart + lastCount === num) index[index.length - 1] = PdfNumber.int(lastCount + 1);
    else index.push(PdfNumber.int(num), PdfNumber.int(1));
  });
  const dict = new WritableDict()
    .set('Type', new PdfName('XRef'))
    .set('Size', PdfNumber.int(size))
    .set('Index', new PdfArray(index))
    .set('W', new PdfArray([PdfNumber.int(1), PdfNumber.int(w2), PdfNumber.int(w3)]))
    .set('Filter', new PdfName('FlateDecode'));
  for (const [k, v] of trailer.entries) dict.set(k, v);
  return new PdfNewStream(dict, deflateSync(data));
}
