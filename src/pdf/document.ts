import {
  PdfEncryptionError,
  PdfError,
  PdfLimitError,
  PdfLoopError,
  PdfSyntaxError,
  PdfUnsupportedError,
  PdfXrefError,
} from './errors.js';
import { decodeFilters } from './filters.js';
import type { DecodeResult } from './filters.js';
import { resolveLimits } from './limits.js';
import type { PdfLimits } from './limits.js';
import { objectFromStream, parseObjectStream } from './object-streams.js';
import type { ObjectStream } from './object-streams.js';
import { PdfArray, PdfDict, PdfNull, PdfRef, PdfStream, PdfString } from './objects.js';
import type { IndirectObject, ObjectLocation, PdfObject } from './objects.js';
import { readIndirectObject, scanFor } from './parser.js';
import { FileSource } from './source.js';
import type { ByteSource } from './source.js';
import { filterSpecs, findStartxref, lookupInSection, readXrefChain, rebuildXrefByScanning } from './xref.js';
import type { XrefEntry, XrefSection } from './xref.js';
import { openStandardSecurityHandler } from './crypt/standard-handler.js';
import type { EncryptionInfo, SecurityHandler } from './crypt/security-handler.js';

/** One revision: the original file or one incremental update (ISO 32000-2 §7.5.6). */
export interface Revision {
  /** 0 = the original document; revisions[revisions.length - 1] is the current one. */
  readonly index: number;
  /**
   * Its xref sections, as found on the /Prev chain: one, or two for a linearized file's first revision
   * (the first-page section, whose /Prev points forward to the main section).
   */
  readonly sections: readonly XrefSection[];
  /** The trailer of the section that startxref (or the next revision's /Prev) points at. */
  readonly trailer: PdfDict;
  /** That section's offset. */
  readonly startxref: number;
  /** Offset just past this revision's "%%EOF" and its end-of-line; the file size if none is found. */
  readonly endOffset: number;
}

/** Lets another module (issue 5: /Adobe.PubSec) open encryption the standard handler does not know. */
export type SecurityHandlerFactory = (
  encrypt: PdfDict,
  context: { filter: string; firstId?: Buffer },
) => SecurityHandler | Promise<SecurityHandler> | undefined;

export interface OpenOptions {
  /** User or owner password; without it the empty user password is tried. */
  password?: string;
  /** Rebuild a broken cross-reference by scanning for "n g obj". Never use it when validating signatures. */
  recover?: boolean;
  limits?: Partial<PdfLimits>;
  /** Consulted before the built-in standard handler. */
  securityHandlers?: SecurityHandlerFactory[];
}

/** A page with its inheritable attributes resolved (§7.7.3.4). */
export interface PdfPage {
  readonly index: number;
  readonly ref: PdfRef;
  readonly dict: PdfDict;
  readonly mediaBox: number[];
  readonly cropBox: number[];
  readonly rotate: number;
  readonly resources?: PdfDict;
  /** The page's content streams, in order. */
  readonly contents: PdfStream[];
}

/** A widget annotation of a form field. */
export interface PdfWidget {
  readonly ref?: PdfRef;
  readonly dict: PdfDict;
  readonly rect?: number[];
  /** /P, the page the widget is on (when the writer recorded it). */
  readonly page?: PdfRef;
}

/** A terminal AcroForm field (§12.7.4) with inherited /FT, /V, /Ff. */
export interface PdfField {
  /** Fully qualified name: the /T of every ancestor joined with "." */
  readonly name: string;
  readonly ref?: PdfRef;
  readonly dict: PdfDict;
  /** /FT: "Btn", "Tx", "Ch", "Sig". */
  readonly type?: string;
  /** /V resolved (for a signature field: its signature dictionary). */
  readonly value?: PdfObject;
  readonly valueRef?: PdfRef;
  readonly flags: number;
  readonly widgets: PdfWidget[];
}

const OBJSTM_CACHE_SIZE = 8;

function locationKey(entry: XrefEntry): string {
  return entry.type === 'offset'
    ? `o${entry.offset}`
    : entry.type === 'compressed'
      ? `c${entry.streamNum}:${entry.index}`
      : 'free';
}

/**
 * A PDF opened for reading. Its object view is that of the current revision; `atRevision(i)` gives the
 * view as of an earlier one. Objects are read lazily and cached; the file is never read whole.
 */
export class PdfDocument {
  readonly limits: PdfLimits;
  readonly revisions: readonly Revision[];
  /** "1.7", "2.0", … from the %PDF- header. */
  readonly version: string;
  /** True when the xref was rebuilt by scanning ({ recover: true } on a damaged file). */
  readonly recovered: boolean;
  readonly securityHandler?: SecurityHandler;
  /** Reference of the /Encrypt dictionary, when it is indirect (its strings are never encrypted). */
  readonly encryptRef?: PdfRef;
  private readonly views: PdfRevisionView[];
  private readonly objectCache = new Map<string, PdfObject>();
  private readonly objStmCache = new Map<number, ObjectStream>();

  private constructor(
    readonly source: ByteSource,
    init: {
      limits: PdfLimits;
      revisions: Revision[];
      version: string;
      recovered: boolean;
    },
    private readonly recover: boolean,
  ) {
    this.limits = init.limits;
    this.revisions = init.revisions;
    this.version = init.version;
    this.recovered = init.recovered;
    this.views = this.revisions.map((r) => new PdfRevisionView(this, r));
  }

  /** Open a PDF from any byte source. */
  static async open(source: ByteSource, opts: OpenOptions = {}): Promise<PdfDocument> {
    const limits = resolveLimits(opts.limits);
    const version = await readVersion(source, !!opts.recover);
    let revisions: Revision[];
    let recovered = false;
    try {
      revisions = await readRevisions(source, limits, !!opts.recover);
    } catch (e) {
      if (!opts.recover || !(e instanceof PdfError)) throw e;
      const section = await rebuildXrefByScanning(source, limits);
      revisions = [
        {
          index: 0,
          sections: [section],
          trailer: section.trailer,
          startxref: section.offset,
          endOffset: source.size,
        },
      ];
      recovered = true;
    }
    const doc = new PdfDocument(source, { limits, revisions, version, recovered }, !!opts.recover);
    await doc.setUpEncryption(opts);
    return doc;
  }

  /** Open a file by path; the file stays open until `close()`. */
  static async openFile(path: string, opts: OpenOptions = {}): Promise<PdfDocument> {
    const source = await FileSource.open(path);
    try {
      return await PdfDocument.open(source, opts);
    } catch (e) {
      await source.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.source.close?.();
  }

  /** Encryption parameters and the file key, when the document is encrypted. */
  get encryption(): EncryptionInfo | undefined {
    return this.securityHandler?.info;
  }

  /** The current revision's view. */
  get latest(): PdfRevisionView {
    return this.views[this.views.length - 1]!;
  }

  /** The object view as of revision `i` (0 = original). */
  atRevision(i: number): PdfRevisionView {
    const v = this.views[i];
    if (!v) throw new PdfError(`revision ${i} does not exist (the document has ${this.views.length})`);
    return v;
  }

  get trailer(): PdfDict {
    return this.latest.trailer;
  }
  getObject(ref: PdfRef): Promise<PdfObject> {
    return this.latest.getObject(ref);
  }
  getIndirect(ref: PdfRef): Promise<IndirectObject | undefined> {
    return this.latest.getIndirect(ref);
  }
  resolve(obj: PdfObject | undefined): Promise<PdfObject | undefined> {
    return this.latest.resolve(obj);
  }
  catalog(): Promise<PdfDict> {
    return this.latest.catalog();
  }
  pages(): Promise<PdfPage[]> {
    return this.latest.pages();
  }
  fields(): Promise<PdfField[]> {
    return this.latest.fields();
  }
  resolveDict(obj: PdfObject | undefined): Promise<PdfDict | undefined> {
    return this.latest.resolveDict(obj);
  }

  private async setUpEncryption(opts: OpenOptions): Promise<void> {
    const enc = this.trailer.get('Encrypt');
    if (enc === undefined) return;
    const self = this as { -readonly [K in 'encryptRef' | 'securityHandler']: PdfDocument[K] };
    if (enc.kind === 'ref') self.encryptRef = enc;
    const dict = await this.latest.resolve(enc);
    if (dict?.kind !== 'dict') throw new PdfEncryptionError('trailer /Encrypt is not a dictionary');
    const resolved = (await this.latest.resolveDeep(dict, 4)) as PdfDict;
    const filter = resolved.getName('Filter') ?? '';
    const idArr = this.trailer.get('ID');
    const first = idArr?.kind === 'array' ? idArr.items[0] : undefined;
    const firstId = first?.kind === 'string' ? first.bytes : undefined;
    for (const factory of opts.securityHandlers ?? []) {
      const h = await factory(resolved, { filter, firstId });
      if (h) {
        self.securityHandler = h;
        return;
      }
    }
    if (filter !== 'Standard')
      throw new PdfUnsupportedError(
        `security handler /${filter} is not supported by this reader; pass a securityHandlers factory for it`,
      );
    self.securityHandler = openStandardSecurityHandler(resolved, firstId, opts.password);
  }

  // ---- object loading (shared by all revision views; keyed by location, so revisions share it) ----

  /** @internal Load the object an xref entry points at; `chain` holds objects being loaded (loop guard). */
  async loadEntry(
    view: PdfRevisionView,
    num: number,
    entry: XrefEntry,
    chain: ReadonlySet<number>,
  ): Promise<IndirectObject | undefined> {
    if (entry.type === 'free') return undefined;
    if (chain.has(num)) throw new PdfLoopError(`object ${num} needs itself to be read (reference loop)`);
    if (chain.size > this.limits.maxReferenceChain * 4)
      throw new PdfLimitError(
        `objects nest more than ${this.limits.maxReferenceChain * 4} levels while loading object ${num}`,
      );
    const next = new Set(chain).add(num);
    const key = locationKey(entry);
    const cached = this.objectCache.get(key);
    if (entry.type === 'offset') {
      const expectGen = entry.gen;
      if (cached)
        return {
          ref: new PdfRef(num, expectGen),
          value: cached,
          location: { kind: 'offset', offset: entry.offset },
          range: rangeOfCached(cached),
        };
      const obj = await readIndirectObject(this.source, entry.offset, {
        limits: this.limits,
        recover: this.recover,
        expect: { num, gen: expectGen },
        resolveLength: async (ref) => {
          const v = await view.resolveWith(ref, next);
          return v?.kind === 'number' ? v.value : undefined;
        },
      }).catch((e: unknown) => {
        if (e instanceof PdfSyntaxError && /no "n g obj"|xref says/.test(e.message))
          throw new PdfXrefError(
            `xref entry for object ${num} ${expectGen} (byte ${entry.offset}) is wrong: ${e.message}`,
          );
        throw e;
      });
      const value = this.decryptObject(obj.ref, obj.value);
      this.remember(key, value);
      const result = { ...obj, value };
      objectRanges.set(value, obj.range);
      return result;
    }
    const location: ObjectLocation = { kind: 'compressed', streamNum: entry.streamNum, index: entry.index };
    if (cached) return { ref: new PdfRef(num, 0), value: cached, location };
    const os = await this.objectStream(view, entry.streamNum, next);
    const value = objectFromStream(os, num, entry.index, this.limits);
    this.remember(key, value);
    return { ref: new PdfRef(num, 0), value, location };
  }

  private remember(key: string, value: PdfObject): void {
    this.objectCache.set(key, value);
    if (this.objectCache.size > this.limits.objectCacheSize) {
      const oldest = this.objectCache.keys().next().value;
      if (oldest !== undefined) this.objectCache.delete(oldest);
    }
  }

  private async objectStream(
    view: PdfRevisionView,
    streamNum: number,
    chain: ReadonlySet<number>,
  ): Promise<ObjectStream> {
    const hit = this.objStmCache.get(streamNum);
    if (hit) return hit;
    const entry = view.entry(streamNum);
    if (!entry || entry.type === 'free')
      throw new PdfXrefError(`object stream ${streamNum} is not in the xref`);
    if (entry.type === 'compressed')
      throw new PdfXrefError(`object stream ${streamNum} is itself inside an object stream`);
    const obj = await this.loadEntry(view, streamNum, entry, chain);
    if (obj?.value.kind !== 'stream')
      throw new PdfXrefError(`object ${streamNum} named by the xref as an object stream is not a stream`);
    const decoded = await this.decodeStream(obj.value);
    if (decoded.undecoded.length) throw new PdfXrefError(`object stream ${streamNum} uses an image filter`);
    const os = parseObjectStream(streamNum, obj.value, decoded.data, this.limits);
    this.objStmCache.set(streamNum, os);
    if (this.objStmCache.size > OBJSTM_CACHE_SIZE)
      this.objStmCache.delete(this.objStmCache.keys().next().value!);
    return os;
  }

  // ---- decryption (§7.6.2: what is and is not encrypted) ----

  private decryptObject(ref: PdfRef, value: PdfObject): PdfObject {
    const h = this.securityHandler;
    if (!h || (this.encryptRef && ref.equals(this.encryptRef))) return value;
    if (value.kind === 'stream') {
      if (value.dict.getName('Type') === 'XRef') return value; // xref streams are never encrypted
      return new PdfStream(
        this.decryptStrings(h, ref, value.dict, 0) as PdfDict,
        value.data,
        value.owner,
        value.range,
      );
    }
    return this.decryptStrings(h, ref, value, 0);
  }

  private decryptStrings(h: SecurityHandler, ref: PdfRef, v: PdfObject, depth: number): PdfObject {
    switch (v.kind) {
      case 'string':
        return new PdfString(h.decryptString(ref.num, ref.gen, v.bytes), v.isHex, v.range);
      case 'array':
        return new PdfArray(
          v.items.map((x) => this.decryptStrings(h, ref, x, depth + 1)),
          v.range,
        );
      case 'dict': {
        // A signature dictionary's /Contents is not encrypted (§7.6.2), everything else in it is.
        const isSig = v.has('ByteRange') && v.has('Contents');
        const m = new Map<string, PdfObject>();
        for (const [k, x] of v.entries)
          m.set(k, isSig && k === 'Contents' ? x : this.decryptStrings(h, ref, x, depth + 1));
        return new PdfDict(m, v.range);
      }
      default:
        return v;
    }
  }

  // ---- streams ----

  /** The stream's data as stored, decrypted but not decoded. */
  async streamRaw(stream: PdfStream): Promise<Buffer> {
    const raw =
      stream.data.kind === 'memory'
        ? stream.data.bytes
        : await this.source.read(stream.data.offset, stream.data.length);
    const h = this.securityHandler;
    if (!h || !stream.owner || stream.data.kind === 'memory') return raw;
    const type = stream.dict.getName('Type');
    if (type === 'XRef') return raw;
    if (this.encryptRef && stream.owner.num === this.encryptRef.num) return raw;
    if (type === 'Metadata' && !h.info.encryptMetadata) return raw;
    const specs = filterSpecs(stream.dict);
    let cryptFilter: string | undefined;
    if (specs[0]?.name === 'Crypt') cryptFilter = specs[0].parms?.getName('Name') ?? 'Identity';
    return h.decryptStream(stream.owner.num, stream.owner.gen, raw, cryptFilter);
  }

  /** Decrypt and decode through every filter up to the first image codec (bounded by the limits). */
  async decodeStream(stream: PdfStream): Promise<DecodeResult> {
    const raw = await this.streamRaw(stream);
    const dict = (await this.latest.resolveDeep(stream.dict, 3)) as PdfDict;
    return decodeFilters(raw, filterSpecs(dict), this.limits);
  }

  /** Decoded stream data (image codecs are left encoded). */
  async streamData(stream: PdfStream): Promise<Buffer> {
    return (await this.decodeStream(stream)).data;
  }
}

/** Byte ranges of indirect objects read from the file, by value identity. */
const objectRanges = new WeakMap<PdfObject, IndirectObject['range']>();
function rangeOfCached(value: PdfObject): IndirectObject['range'] {
  return objectRanges.get(value);
}

/** The object view of a document as of one revision. */
export class PdfRevisionView {
  constructor(
    readonly doc: PdfDocument,
    readonly revision: Revision,
  ) {}

  get index(): number {
    return this.revision.index;
  }
  get trailer(): PdfDict {
    return this.revision.trailer;
  }

  /** The xref entry in force for object `num` as of this revision. */
  entry(num: number): XrefEntry | undefined {
    const revs = this.doc.revisions;
    for (let r = this.revision.index; r >= 0; r--) {
      for (const section of revs[r]!.sections) {
        const e = lookupInSection(section, num);
        if (e) return e;
      }
    }
    return undefined;
  }

  /** Every object number in use as of this revision, ascending. */
  objectNumbers(): number[] {
    const seen = new Map<number, boolean>();
    const revs = this.doc.revisions;
    for (let r = this.revision.index; r >= 0; r--)
      for (const section of revs[r]!.sections)
        for (const s of section.hybrid ? [section, section.hybrid] : [section])
          for (const num of s.entries.keys())
            if (!seen.has(num)) seen.set(num, lookupInSection(section, num)?.type !== 'free');
    return [...seen]
      .filter(([, used]) => used)
      .map(([n]) => n)
      .sort((a, b) => a - b);
  }

  /** The indirect object with its location and byte range; undefined when free or absent. */
  async getIndirect(ref: PdfRef | number): Promise<IndirectObject | undefined> {
    const num = typeof ref === 'number' ? ref : ref.num;
    const e = this.entry(num);
    if (!e) return undefined;
    if (typeof ref !== 'number' && e.type !== 'compressed' && e.gen !== ref.gen) return undefined;
    return this.doc.loadEntry(this, num, e, new Set());
  }

  /** The object a reference points at; the null object when it is free or absent (§7.3.10). */
  async getObject(ref: PdfRef): Promise<PdfObject> {
    return (await this.getIndirect(ref))?.value ?? new PdfNull();
  }

  /** Follow references until a direct object. */
  resolve(obj: PdfObject | undefined): Promise<PdfObject | undefined> {
    return this.resolveWith(obj, new Set());
  }

  /** @internal */
  async resolveWith(obj: PdfObject | undefined, chain: ReadonlySet<number>): Promise<PdfObject | undefined> {
    let cur = obj;
    for (let hops = 0; cur?.kind === 'ref'; hops++) {
      if (hops >= this.doc.limits.maxReferenceChain)
        throw new PdfLoopError(`reference chain from ${obj?.toString()} is too long or loops`);
      const e = this.entry(cur.num);
      if (!e) return new PdfNull();
      if (e.type !== 'compressed' && e.gen !== cur.gen) return new PdfNull();
      cur = (await this.doc.loadEntry(this, cur.num, e, chain))?.value ?? new PdfNull();
    }
    return cur;
  }

  /** Resolve `obj` and require a dictionary (a stream's dictionary counts); else undefined. */
  async resolveDict(obj: PdfObject | undefined): Promise<PdfDict | undefined> {
    const v = await this.resolve(obj);
    return v?.kind === 'dict' ? v : v?.kind === 'stream' ? v.dict : undefined;
  }

  async resolveArray(obj: PdfObject | undefined): Promise<PdfArray | undefined> {
    const v = await this.resolve(obj);
    return v?.kind === 'array' ? v : undefined;
  }

  async resolveNumbers(obj: PdfObject | undefined): Promise<number[] | undefined> {
    const arr = await this.resolveArray(obj);
    if (!arr) return undefined;
    const out: number[] = [];
    for (const x of arr.items) {
      const v = await this.resolve(x);
      if (v?.kind !== 'number') return undefined;
      out.push(v.value);
    }
    return out;
  }

  /** A copy with references resolved down to `depth` levels (streams keep their dictionaries). */
  async resolveDeep(obj: PdfObject, depth: number): Promise<PdfObject> {
    const v = (await this.resolve(obj)) ?? new PdfNull();
    if (depth <= 0) return v;
    if (v.kind === 'array')
      return new PdfArray(await Promise.all(v.items.map((x) => this.resolveDeep(x, depth - 1))), v.range);
    if (v.kind === 'dict') {
      const m = new Map<string, PdfObject>();
      for (const [k, x] of v.entries) m.set(k, await this.resolveDeep(x, depth - 1));
      return new PdfDict(m, v.range);
    }
    return v;
  }

  async catalog(): Promise<PdfDict> {
    const root = await this.resolveDict(this.trailer.get('Root'));
    if (!root) throw new PdfSyntaxError('the trailer has no /Root catalog dictionary');
    return root;
  }

  /** The pages in order, with inherited /Resources, /MediaBox, /CropBox, /Rotate. */
  async pages(): Promise<PdfPage[]> {
    const catalog = await this.catalog();
    const rootRef = catalog.get('Pages');
    const pages: PdfPage[] = [];
    const visited = new Set<number>();
    const limits = this.doc.limits;
    interface Inherited {
      resources?: PdfDict;
      mediaBox?: number[];
      cropBox?: number[];
      rotate?: number;
    }
    const walk = async (node: PdfObject | undefined, inherited: Inherited, depth: number): Promise<void> => {
      if (depth > limits.maxTreeDepth)
        throw new PdfLimitError(`page tree deeper than ${limits.maxTreeDepth} levels`);
      if (node?.kind === 'ref') {
        if (visited.has(node.num))
          throw new PdfLoopError(`page tree node ${node.num} 0 R appears twice (loop)`);
        visited.add(node.num);
      }
      const dict = await this.resolveDict(node);
      if (!dict)
        throw new PdfSyntaxError(
          `page tree node ${node?.kind === 'ref' ? node.toString() : ''} is not a dictionary`,
        );
      const here: Inherited = {
        resources: (await this.resolveDict(dict.get('Resources'))) ?? inherited.resources,
        mediaBox: (await this.resolveNumbers(dict.get('MediaBox'))) ?? inherited.mediaBox,
        cropBox: (await this.resolveNumbers(dict.get('CropBox'))) ?? inherited.cropBox,
        rotate:
          ((await this.resolve(dict.get('Rotate'))) as { value?: number } | undefined)?.value ??
          inherited.rotate,
      };
      const kids = await this.resolveArray(dict.get('Kids'));
      if (kids && dict.getName('Type') !== 'Page') {
        for (const kid of kids.items) await walk(kid, here, depth + 1);
        return;
      }
      if (node?.kind !== 'ref') throw new PdfSyntaxError('a page is not an indirect object');
      if (pages.length >= limits.maxPages) throw new PdfLimitError(`more than ${limits.maxPages} pages`);
      const mediaBox = here.mediaBox ?? [0, 0, 612, 792];
      pages.push({
        index: pages.length,
        ref: node,
        dict,
        mediaBox,
        cropBox: here.cropBox ?? mediaBox,
        rotate: here.rotate ?? 0,
        resources: here.resources,
        contents: await this.contentStreams(dict),
      });
    };
    await walk(rootRef, {}, 0);
    return pages;
  }

  private async contentStreams(page: PdfDict): Promise<PdfStream[]> {
    const c = await this.resolve(page.get('Contents'));
    const items = c?.kind === 'array' ? c.items : c ? [c] : [];
    const out: PdfStream[] = [];
    for (const item of items) {
      const s = await this.resolve(item);
      if (s?.kind === 'stream') out.push(s);
    }
    return out;
  }

  /** A page's content streams decoded and joined (§7.8.2: they form one stream). */
  async pageContent(page: PdfPage): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (const s of page.contents) parts.push(await this.doc.streamData(s), Buffer.from('\n'));
    return Buffer.concat(parts);
  }

  /** Terminal AcroForm fields with fully qualified names, their values and widgets. */
  async fields(): Promise<PdfField[]> {
    const catalog = await this.catalog();
    const acroForm = await this.resolveDict(catalog.get('AcroForm'));
    const roots = await this.resolveArray(acroForm?.get('Fields'));
    if (!roots) return [];
    const limits = this.doc.limits;
    const out: PdfField[] = [];
    const visited = new Set<number>();
    interface Inherited {
      name: string;
      type?: string;
      value?: PdfObject;
      flags?: number;
    }
    const walk = async (node: PdfObject, inh: Inherited, depth: number): Promise<void> => {
      if (depth > limits.maxTreeDepth)
        throw new PdfLimitError(`form field tree deeper than ${limits.maxTreeDepth} levels`);
      if (node.kind === 'ref') {
        if (visited.has(node.num)) throw new PdfLoopError(`form field ${node.num} 0 R appears twice (loop)`);
        visited.add(node.num);
      }
      const dict = await this.resolveDict(node);
      if (!dict) return;
      const t = await this.resolve(dict.get('T'));
      const partial = t?.kind === 'string' ? t.toText() : undefined;
      const ft = await this.resolve(dict.get('FT'));
      const ff = await this.resolve(dict.get('Ff'));
      const here: Inherited = {
        name: partial === undefined ? inh.name : inh.name ? `${inh.name}.${partial}` : partial,
        type: ft?.kind === 'name' ? ft.value : inh.type,
        value: dict.get('V') ?? inh.value,
        flags: ff?.kind === 'number' ? ff.value : inh.flags,
      };
      const kids = (await this.resolveArray(dict.get('Kids')))?.items ?? [];
      const fieldKids: PdfObject[] = [];
      const widgets: PdfWidget[] = [];
      for (const kid of kids) {
        const kd = await this.resolveDict(kid);
        if (!kd) continue;
        if (kd.has('T') || (kd.has('Kids') && kd.getName('Subtype') !== 'Widget')) fieldKids.push(kid);
        else widgets.push(await this.widget(kid, kd));
      }
      if (fieldKids.length) {
        for (const kid of fieldKids) await walk(kid, here, depth + 1);
        if (!widgets.length) return;
      }
      if (!widgets.length && (dict.getName('Subtype') === 'Widget' || dict.has('Rect')))
        widgets.push(await this.widget(node, dict));
      if (out.length >= limits.maxFields)
        throw new PdfLimitError(`more than ${limits.maxFields} form fields`);
      out.push({
        name: here.name,
        ref: node.kind === 'ref' ? node : undefined,
        dict,
        type: here.type,
        value: here.value === undefined ? undefined : await this.resolve(here.value),
        valueRef: here.value?.kind === 'ref' ? here.value : undefined,
        flags: here.flags ?? 0,
        widgets,
      });
    };
    for (const root of roots.items) await walk(root, { name: '' }, 0);
    return out;
  }

  private async widget(node: PdfObject, dict: PdfDict): Promise<PdfWidget> {
    const p = dict.get('P');
    return {
      ref: node.kind === 'ref' ? node : undefined,
      dict,
      rect: await this.resolveNumbers(dict.get('Rect')),
      page: p?.kind === 'ref' ? p : undefined,
    };
  }
}

async function readVersion(source: ByteSource, recover: boolean): Promise<string> {
  const head = (await source.read(0, 1024)).toString('latin1');
  const m = /%PDF-(\d\.\d)/.exec(head);
  if (m) return m[1]!;
  if (recover) return '1.0';
  throw new PdfSyntaxError('not a PDF: no "%PDF-" header in the first 1024 bytes');
}

/** Read the /Prev chain and group it into revisions, oldest first. */
async function readRevisions(source: ByteSource, limits: PdfLimits, recover: boolean): Promise<Revision[]> {
  const startxref = await findStartxref(source);
  const sections = await readXrefChain(source, startxref, {
    limits,
    recover,
    resolveLength: async () => {
      throw new PdfXrefError(
        'an xref stream has an indirect /Length, which cannot be resolved before the xref is read',
      );
    },
  });
  // Group: a section whose /Prev points forward is a linearized first-page section; it and the main
  // section it points to form one revision (ISO 32000-2 Annex F.3).
  const groups: XrefSection[][] = [];
  for (let i = 0; i < sections.length; i++) {
    const s = sections[i]!;
    const next = sections[i + 1];
    if (next && s.prev !== undefined && s.prev > s.offset) {
      groups.push([s, next]);
      i++;
    } else groups.push([s]);
  }
  groups.reverse();
  const revisions: Revision[] = [];
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i]!;
    const sectionEnd = Math.max(...group.map((s) => Math.max(s.end, s.hybrid?.end ?? 0)));
    revisions.push({
      index: i,
      sections: group,
      trailer: group[0]!.trailer,
      startxref: group[0]!.offset,
      endOffset: await findEofAfter(source, sectionEnd),
    });
  }
  return revisions;
}

const EOF_MARK = Buffer.from('%%EOF');

async function findEofAfter(source: ByteSource, from: number): Promise<number> {
  const at = await scanFor(source, EOF_MARK, from);
  if (at < 0) return source.size;
  let end = at + EOF_MARK.length;
  const eol = await source.read(end, 2);
  if (eol[0] === 0x0d) end += eol[1] === 0x0a ? 2 : 1;
  else if (eol[0] === 0x0a) end += 1;
  return end;
}
