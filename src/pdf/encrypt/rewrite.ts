/**
 * Full rewrite of a document's current revision, changing its encryption: encrypt a plain file
 * (encrypt/index.ts), decrypt an encrypted one (decrypt/index.ts), or both (re-encrypt). A full rewrite
 * is right here and only here: encryption changes every string and stream, and the input is unsigned
 * ("encrypt first, then sign"; signing later appends incrementally).
 *
 * What is and is not encrypted (ISO 32000-2 §7.6.2, §7.6.3): strings and streams of every object with
 * the object's key; not the /Encrypt dictionary, not the cross-reference stream, not a signature
 * dictionary's /Contents, not the XMP metadata stream when EncryptMetadata is false. Objects inside an
 * object stream are never encrypted one by one: the object stream is encrypted as a whole, and its
 * compressed entries keep pointing into it.
 *
 * Memory: objects are read one at a time and stream data passes through in 1 MiB chunks.
 */
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import type { PdfDocument } from '../document.js';
import { PdfSyntaxError, PdfXrefError } from '../errors.js';
import { PdfArray, PdfDict, PdfName, PdfNumber, PdfRef, PdfString } from '../objects.js';
import type { PdfObject, PdfStream } from '../objects.js';
import { filterSpecs } from '../xref.js';
import { FileKeySecurityHandler } from '../crypt/security-handler.js';
import type { CryptMethod, EncryptionInfo, SecurityHandler } from '../crypt/security-handler.js';
import {
  PdfRaw,
  WritableArray,
  WritableDict,
  serializeObject,
  type ObjectCrypt,
  type WritableObject,
} from '../writer/serialize.js';
import type { PdfSink } from './output.js';
import { canStream, encryptedLength, openDecryptingReader, streamEncryptor } from './stream-cipher.js';

/** The encryption of the output; absent = a plain (decrypted) copy. */
export interface RewriteTarget {
  info: EncryptionInfo;
  /** Written as an indirect object, never encrypted. */
  encryptDict: PdfDict;
}

export interface RewriteResult {
  /** Indirect objects written (the new /Encrypt and cross-reference stream included). */
  objects: number;
  bytes: number;
  /** The header version written. */
  version: string;
}

type XrefRow = { type: 1; offset: number; gen: number } | { type: 2; stream: number; index: number };

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** §7.6.2: a signature dictionary's /Contents is never encrypted. The reader left it as stored. */
function isSignatureDict(d: PdfDict): boolean {
  return d.has('ByteRange') && d.has('Contents');
}

/** Turn a reader object into a writable one in which signature /Contents are verbatim bytes. */
function exemptSignatureContents(obj: PdfObject, depth = 0): WritableObject {
  if (depth > 64) return obj;
  if (obj.kind === 'array' && obj.items.some((x) => x.kind === 'array' || x.kind === 'dict'))
    return new WritableArray(obj.items.map((x) => exemptSignatureContents(x, depth + 1)));
  if (obj.kind !== 'dict') return obj;
  const out = new WritableDict();
  const sig = isSignatureDict(obj);
  for (const [k, v] of obj.entries) {
    if (sig && k === 'Contents' && v.kind === 'string')
      out.set(k, PdfRaw.text(`<${v.bytes.toString('hex')}>`));
    else out.set(k, exemptSignatureContents(v, depth + 1));
  }
  return out;
}

/** Header version: AES-256 needs PDF 2.0 or 1.7 with Adobe extension level 8; AES-128 needs 1.6. */
function outputVersion(input: string, target: RewriteTarget | undefined): string {
  const v = Number(input);
  if (target?.info.v === 5 && v < 1.7) return '1.7';
  if (target?.info.v === 4 && v < 1.6) return '1.6';
  return input;
}

/** Catalog with /Extensions /ADBE level 8 (AES-256, ISO 32000-1 extension) for a 1.x header. */
function withAdobeExtension(catalog: PdfDict): PdfDict {
  const existing = catalog.get('Extensions');
  if (existing !== undefined && existing.kind !== 'dict') return catalog;
  const ext = new Map(existing?.entries ?? []);
  ext.set(
    'ADBE',
    new PdfDict(
      new Map<string, PdfObject>([
        ['BaseVersion', new PdfName('1.7')],
        ['ExtensionLevel', PdfNumber.int(8)],
      ]),
    ),
  );
  const m = new Map(catalog.entries);
  m.set('Extensions', new PdfDict(ext));
  return new PdfDict(m);
}

export class PdfRewriter {
  private readonly rows = new Map<number, XrefRow>();
  private readonly out?: SecurityHandler;
  private readonly version: string;

  constructor(
    private readonly doc: PdfDocument,
    private readonly sink: PdfSink,
    private readonly target?: RewriteTarget,
  ) {
    this.out = target ? new FileKeySecurityHandler(target.info) : undefined;
    this.version = outputVersion(doc.version, target);
  }

  async run(): Promise<RewriteResult> {
    const { doc } = this;
    const view = doc.latest;
    // The second line marks the file as binary (§7.5.2).
    await this.sink.write(latin1(`%PDF-${this.version}\n%\xe2\xe3\xcf\xd3\n`));
    const root = doc.trailer.get('Root');
    const rootNum = root?.kind === 'ref' ? root.num : -1;
    let maxNum = 0;
    for (const num of view.objectNumbers()) {
      maxNum = Math.max(maxNum, num);
      const entry = view.entry(num);
      if (!entry || entry.type === 'free') continue;
      if (entry.type === 'compressed') {
        this.rows.set(num, { type: 2, stream: entry.streamNum, index: entry.index });
        continue;
      }
      if (doc.encryptRef?.num === num) continue;
      const obj = await view.getIndirect(num);
      if (!obj) continue;
      const value = obj.value;
      if (value.kind === 'stream' && value.dict.getName('Type') === 'XRef') continue;
      // A linearization dictionary would describe a layout this file no longer has.
      if (value.kind === 'dict' && value.has('Linearized')) continue;
      const gen = obj.ref.gen;
      this.rows.set(num, { type: 1, offset: this.sink.position, gen });
      await this.sink.write(latin1(`${num} ${gen} obj\n`));
      if (value.kind === 'stream') await this.writeStream(num, gen, value);
      else {
        const v =
          num === rootNum && value.kind === 'dict' && this.target?.info.v === 5 && this.version === '1.7'
            ? withAdobeExtension(value)
            : value;
        await this.sink.write(serializeObject(exemptSignatureContents(v), this.crypt(num, gen)));
      }
      await this.sink.write(latin1('\nendobj\n'));
    }
    for (const [num, row] of this.rows)
      if (row.type === 2 && this.rows.get(row.stream)?.type !== 1)
        throw new PdfXrefError(`object ${num} lies in object stream ${row.stream}, which is not in the file`);
    let next = maxNum + 1;
    let encryptRef: PdfRef | undefined;
    if (this.target) {
      const num = next++;
      encryptRef = new PdfRef(num, 0);
      this.rows.set(num, { type: 1, offset: this.sink.position, gen: 0 });
      await this.sink.write(
        Buffer.concat([
          latin1(`${num} 0 obj\n`),
          serializeObject(this.target.encryptDict),
          latin1('\nendobj\n'),
        ]),
      );
    }
    const trailer = this.trailer(encryptRef);
    const usesObjectStreams = [...this.rows.values()].some((r) => r.type === 2);
    const startxref = this.sink.position;
    if (usesObjectStreams) await this.writeXrefStream(next, trailer, startxref);
    else await this.writeXrefTable(next, trailer);
    await this.sink.write(latin1(`startxref\n${startxref}\n%%EOF\n`));
    return {
      objects: [...this.rows.values()].filter((r) => r.type === 1).length,
      bytes: this.sink.position,
      version: this.version,
    };
  }

  private crypt(num: number, gen: number): ObjectCrypt | undefined {
    return this.out ? { handler: this.out, num, gen } : undefined;
  }

  /** The method the input stream is encrypted with, as the reader decides (document.ts streamRaw). */
  private inputMethod(num: number, stream: PdfStream): CryptMethod {
    const h = this.doc.securityHandler;
    const type = stream.dict.getName('Type');
    if (!h || type === 'XRef' || (type === 'Metadata' && !h.info.encryptMetadata)) return 'Identity';
    const first = filterSpecs(stream.dict)[0];
    if (first?.name !== 'Crypt') return h.info.streamMethod;
    const name = first.parms?.getName('Name') ?? 'Identity';
    const method = h.info.cryptFilters[name];
    if (!method)
      throw new PdfSyntaxError(`stream ${num} names crypt filter /${name}, which /CF does not define`);
    return method;
  }

  private outputMethod(stream: PdfStream): CryptMethod {
    const info = this.target?.info;
    if (!info || (stream.dict.getName('Type') === 'Metadata' && !info.encryptMetadata)) return 'Identity';
    return info.streamMethod;
  }

  private async writeStream(num: number, gen: number, stream: PdfStream): Promise<void> {
    if (stream.data.kind !== 'file') throw new PdfSyntaxError(`stream object ${num} has no data in the file`);
    const { offset, length } = stream.data;
    const inMethod = this.inputMethod(num, stream);
    let plainLength: number;
    let chunks: AsyncIterable<Buffer> | Iterable<Buffer>;
    if (canStream(inMethod)) {
      const r = await openDecryptingReader(
        this.doc.source,
        offset,
        length,
        this.doc.encryption,
        inMethod,
        num,
        gen,
      );
      plainLength = r.plainLength;
      chunks = r.chunks();
    } else {
      const whole = await this.doc.streamRaw(stream); // RC4 input: small and rare, read whole
      plainLength = whole.length;
      chunks = [whole];
    }
    const outMethod = this.outputMethod(stream);
    const dict = new WritableDict();
    for (const [k, v] of stream.dict.entries) dict.set(k, v);
    dropCryptFilter(stream.dict, dict);
    dict.set('Length', PdfNumber.int(encryptedLength(outMethod, plainLength)));
    await this.sink.write(serializeObject(dict, this.crypt(num, gen)));
    await this.sink.write(latin1('\nstream\n'));
    const enc = streamEncryptor(this.target?.info, outMethod, num, gen);
    if (enc.header.length) await this.sink.write(enc.header);
    let seen = 0;
    for await (const chunk of chunks) {
      seen += chunk.length;
      await this.sink.write(enc.update(chunk));
    }
    if (seen !== plainLength)
      throw new PdfSyntaxError(
        `the data of stream object ${num} is truncated (${seen} of ${plainLength} bytes); the file is damaged`,
      );
    await this.sink.write(enc.final());
    await this.sink.write(latin1('\nendstream'));
  }

  private trailer(encryptRef: PdfRef | undefined): WritableDict {
    const old = this.doc.trailer;
    const t = new WritableDict();
    for (const key of ['Root', 'Info'] as const) {
      const v = old.get(key);
      if (v?.kind === 'ref') t.set(key, v);
    }
    if (encryptRef) t.set('Encrypt', encryptRef);
    // §14.4: keep the permanent identifier; the second one changes with the content.
    const id = old.get('ID');
    const first =
      id?.kind === 'array' && id.items[0]?.kind === 'string' ? id.items[0].bytes : randomBytes(16);
    t.set('ID', new PdfArray([new PdfString(first, true), new PdfString(randomBytes(16), true)]));
    return t;
  }

  /** Classic table (§7.5.4) over 0 … size-1, free entries linked in order. */
  private async writeXrefTable(size: number, trailer: WritableDict): Promise<void> {
    const free = [...Array(size).keys()].filter((n) => n === 0 || !this.rows.has(n));
    const nextFree = new Map(free.map((n, i) => [n, free[i + 1] ?? 0]));
    const lines: string[] = [`xref\n0 ${size}\n`];
    for (let n = 0; n < size; n++) {
      const row = this.rows.get(n);
      if (n !== 0 && row?.type === 1)
        lines.push(`${String(row.offset).padStart(10, '0')} ${String(row.gen).padStart(5, '0')} n\r\n`);
      else
        lines.push(`${String(nextFree.get(n) ?? 0).padStart(10, '0')} ${n === 0 ? '65535' : '00000'} f\r\n`);
    }
    trailer.set('Size', PdfNumber.int(size));
    await this.sink.write(latin1(lines.join('')));
    await this.sink.write(Buffer.concat([latin1('trailer\n'), serializeObject(trailer), latin1('\n')]));
  }

  /** Cross-reference stream (§7.5.8) over 0 … size, itself included; never encrypted. */
  private async writeXrefStream(num: number, trailer: WritableDict, offset: number): Promise<void> {
    this.rows.set(num, { type: 1, offset, gen: 0 });
    const size = num + 1;
    const widthOf = (max: number): number => {
      let w = 1;
      while (max >= 2 ** (8 * w)) w++;
      return w;
    };
    let max2 = 0;
    let max3 = 0xffff;
    for (const r of this.rows.values()) {
      max2 = Math.max(max2, r.type === 1 ? r.offset : r.stream);
      max3 = Math.max(max3, r.type === 1 ? r.gen : r.index);
    }
    const w2 = widthOf(max2);
    const w3 = widthOf(max3);
    const rowBytes = 1 + w2 + w3;
    const data = Buffer.alloc(size * rowBytes);
    for (let n = 0; n < size; n++) {
      const at = n * rowBytes;
      const r = this.rows.get(n);
      if (!r || n === 0) {
        if (n === 0) data.writeUIntBE(0xffff, at + 1 + w2, w3);
        continue; // type 0 (free)
      }
      data[at] = r.type;
      data.writeUIntBE(r.type === 1 ? r.offset : r.stream, at + 1, w2);
      data.writeUIntBE(r.type === 1 ? r.gen : r.index, at + 1 + w2, w3);
    }
    const body = deflateSync(data);
    const dict = new WritableDict()
      .set('Type', new PdfName('XRef'))
      .set('Size', PdfNumber.int(size))
      .set('W', new PdfArray([PdfNumber.int(1), PdfNumber.int(w2), PdfNumber.int(w3)]))
      .set('Filter', new PdfName('FlateDecode'))
      .set('Length', PdfNumber.int(body.length));
    for (const [k, v] of trailer.entries) dict.set(k, v);
    await this.sink.write(
      Buffer.concat([
        latin1(`${num} 0 obj\n`),
        serializeObject(dict),
        latin1('\nstream\n'),
        body,
        latin1('\nendstream\nendobj\n'),
      ]),
    );
  }
}

/** A /Crypt filter (§7.4.10) belongs to the old encryption: drop it and its parameters. */
function dropCryptFilter(original: PdfDict, out: WritableDict): void {
  const specs = filterSpecs(original);
  if (specs[0]?.name !== 'Crypt') return;
  const rest = (key: string): void => {
    const v = original.get(key);
    if (v?.kind === 'array') out.set(key, v.items.length > 1 ? new PdfArray(v.items.slice(1)) : undefined);
    else out.set(key, undefined);
  };
  rest('Filter');
  if (original.has('DecodeParms')) rest('DecodeParms');
  if (original.has('DP')) rest('DP');
}

/** Rewrite `doc`'s current revision into `sink` with the target's encryption (or none). */
export function rewritePdf(doc: PdfDocument, sink: PdfSink, target?: RewriteTarget): Promise<RewriteResult> {
  return new PdfRewriter(doc, sink, target).run();
}
