/**
 * TEST-ONLY: a minimal incremental writer and PDF signer for the validator's tests, written before the real
 * writer and signer (src/pdf/writer, src/pdf/sign) land. It appends revisions with a classic xref table and
 * signs with src/pkix's signData / TimeStampSigner. Do not use it outside tests: it knows only what the tests need.
 */
import { createHash } from 'node:crypto';
import { PdfDocument, BufferSource } from '../../src/pdf/index.js';
import type { PdfDict, PdfObject, PdfRef } from '../../src/pdf/index.js';
import { signData } from '../../src/pkix/cms/signed-data.js';
import { TimeStampSigner, parseTimeStampResponse } from '../../src/pkix/tsp.js';
import type { KeyHandle } from '../../src/crypto/key-handle.js';

export interface NewObject {
  num: number;
  gen?: number;
  /** The object's body (what goes between "n g obj" and "endobj"). */
  body: string | Buffer;
}

/** Serialise a direct object the reader produced (streams are not supported here). */
export function ser(o: PdfObject): string {
  switch (o.kind) {
    case 'null':
      return 'null';
    case 'boolean':
      return String(o.value);
    case 'number':
      return o.text;
    case 'string':
      return `<${o.bytes.toString('hex')}>`;
    case 'name':
      return `/${o.value.replace(/[^A-Za-z0-9._+-]/g, (c) => `#${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;
    case 'array':
      return `[${o.items.map(ser).join(' ')}]`;
    case 'dict':
      return `<<${[...o.entries].map(([k, v]) => `/${k} ${ser(v)}`).join(' ')}>>`;
    case 'ref':
      return `${o.num} ${o.gen} R`;
    case 'stream':
      throw new Error('ser: streams are not supported by the test helper');
  }
}

/** A dict with some entries replaced or added (values already serialised). */
export function withEntries(d: PdfDict, set: Record<string, string | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of d.entries) if (!(k in set)) parts.push(`/${k} ${ser(v)}`);
  for (const [k, v] of Object.entries(set)) if (v !== undefined) parts.push(`/${k} ${v}`);
  return `<<${parts.join(' ')}>>`;
}

export function streamBody(dict: string, data: Buffer | string): Buffer {
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1');
  const d = dict.replace(/>>\s*$/, ` /Length ${bytes.length}>>`);
  return Buffer.concat([
    Buffer.from(`${d}\nstream\n`, 'latin1'),
    bytes,
    Buffer.from('\nendstream', 'latin1'),
  ]);
}

export async function openBytes(bytes: Buffer): Promise<PdfDocument> {
  return PdfDocument.open(new BufferSource(bytes));
}

/** Append one revision with `objects` and a classic xref table; returns the new file. */
export async function appendRevision(
  bytes: Buffer,
  objects: NewObject[],
  opts: {
    trailer?: Record<string, string>;
    freed?: number[];
    /** Written into the body but left out of the xref (for the hide-and-replace and hidden-object tests). */
    unlisted?: NewObject[];
    /** Xref entries pointing at offsets already in the file. */
    pointAt?: { num: number; offset: number }[];
  } = {},
): Promise<Buffer> {
  const doc = await openBytes(bytes);
  const prev = doc.revisions.at(-1)!;
  const trailer = doc.trailer;
  const size = Math.max(trailer.getNumber('Size') ?? 0, ...objects.map((o) => o.num + 1));
  const parts: Buffer[] = [bytes];
  let offset = bytes.length;
  if (bytes[bytes.length - 1] !== 0x0a) {
    parts.push(Buffer.from('\n'));
    offset++;
  }
  const offsets = new Map<number, { off: number; gen: number }>();
  for (const o of [...objects, ...(opts.unlisted ?? [])]) {
    const body = Buffer.isBuffer(o.body) ? o.body : Buffer.from(o.body, 'latin1');
    const chunk = Buffer.concat([
      Buffer.from(`${o.num} ${o.gen ?? 0} obj\n`),
      body,
      Buffer.from('\nendobj\n'),
    ]);
    if (objects.includes(o)) offsets.set(o.num, { off: offset, gen: o.gen ?? 0 });
    parts.push(chunk);
    offset += chunk.length;
  }
  for (const pa of opts.pointAt ?? []) offsets.set(pa.num, { off: pa.offset, gen: 0 });
  const nums = [...offsets.keys(), ...(opts.freed ?? [])].sort((a, b) => a - b);
  let xref = 'xref\n';
  for (const n of nums) {
    const e = offsets.get(n);
    xref += `${n} 1\n${e ? `${String(e.off).padStart(10, '0')} ${String(e.gen).padStart(5, '0')} n` : '0000000000 00001 f'}\r\n`;
  }
  const keep = ['Root', 'Info', 'ID', 'Encrypt'];
  const t: Record<string, string> = {};
  for (const k of keep) {
    const v = trailer.get(k);
    if (v) t[k] = ser(v);
  }
  Object.assign(t, opts.trailer ?? {}, { Size: String(size), Prev: String(prev.startxref) });
  xref += `trailer\n<<${Object.entries(t)
    .map(([k, v]) => `/${k} ${v}`)
    .join(' ')}>>\nstartxref\n${offset}\n%%EOF\n`;
  parts.push(Buffer.from(xref, 'latin1'));
  await doc.close();
  return Buffer.concat(parts);
}

export interface SignParams {
  key: KeyHandle;
  cert: Buffer;
  chain?: Buffer[];
  field?: string;
  subFilter?: 'ETSI.CAdES.detached' | 'adbe.pkcs7.detached';
  /** Certification signature with this DocMDP P. */
  certify?: 1 | 2 | 3;
  /** Signature timestamp (B-T). */
  tsa?: { key: KeyHandle; cert: Buffer };
  /** Make a document timestamp instead of a signature (needs tsa). */
  documentTimestamp?: boolean;
  lock?: { action: 'All' | 'Include' | 'Exclude'; fields?: string[] };
  contentsBytes?: number;
}

function tsaSigner(tsa: { key: KeyHandle; cert: Buffer }): (imprint: Buffer) => Promise<Buffer> {
  const signer = new TimeStampSigner({
    certificate: tsa.cert,
    key: tsa.key,
    hash: 'sha256',
    policy: '1.3.6.1.4.1.55555.1.1',
  });
  let serial = BigInt(Date.now());
  return async (messageImprint) => {
    const resp = await signer.sign({ hash: 'sha256', messageImprint, certReq: true }, serial++, new Date());
    const token = parseTimeStampResponse(resp).token?.token;
    if (!token) throw new Error('no token');
    return token;
  };
}

const PLACEHOLDER_RANGE = '/ByteRange [0 0000000000 0000000000 0000000000]';

/** Sign `bytes` in a new invisible signature field on page 1; returns the signed file. */
export async function signPdf(bytes: Buffer, p: SignParams): Promise<Buffer> {
  const doc = await openBytes(bytes);
  const rootRef = doc.trailer.get('Root') as PdfRef;
  const catalog = await doc.catalog();
  const page = (await doc.pages())[0]!;
  const sigNum = doc.trailer.getNumber('Size')!;
  const fieldNum = sigNum + 1;
  const objects: NewObject[] = [];
  const contentsLen = p.contentsBytes ?? 16384;
  const isDts = p.documentTimestamp === true;
  const reference = p.certify
    ? `/Reference [<</Type /SigRef /TransformMethod /DocMDP /TransformParams <</Type /TransformParams /P ${p.certify} /V /1.2>>>>]`
    : '';
  const sigDict = isDts
    ? `<</Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161 ${PLACEHOLDER_RANGE} /Contents <${'0'.repeat(contentsLen * 2)}>>>`
    : `<</Type /Sig /Filter /Adobe.PPKLite /SubFilter /${p.subFilter ?? 'ETSI.CAdES.detached'} /M (D:20250101120000Z) ${reference} ${PLACEHOLDER_RANGE} /Contents <${'0'.repeat(contentsLen * 2)}>>>`;
  objects.push({ num: sigNum, body: sigDict });
  const lock = p.lock
    ? `/Lock <</Type /SigFieldLock /Action /${p.lock.action}${p.lock.fields ? ` /Fields [${p.lock.fields.map((f) => `(${f})`).join(' ')}]` : ''}>>`
    : '';
  const name = p.field ?? `Sig${sigNum}`;
  objects.push({
    num: fieldNum,
    body: `<</FT /Sig /T (${name}) /V ${sigNum} 0 R /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /F 132 /P ${page.ref.num} ${page.ref.gen} R ${lock}>>`,
  });
  // Page /Annots
  const annots = page.dict.get('Annots');
  if (annots?.kind === 'ref') {
    const arr = (await doc.latest.resolveArray(annots))!;
    objects.push({ num: annots.num, body: `[${arr.items.map(ser).join(' ')} ${fieldNum} 0 R]` });
  } else {
    const items = annots?.kind === 'array' ? annots.items.map(ser).join(' ') : '';
    objects.push({
      num: page.ref.num,
      gen: page.ref.gen,
      body: withEntries(page.dict, { Annots: `[${items} ${fieldNum} 0 R]` }),
    });
  }
  // AcroForm
  const acroRaw = catalog.get('AcroForm');
  const acro = await doc.latest.resolveDict(acroRaw);
  const fieldsArr = await doc.latest.resolveArray(acro?.get('Fields'));
  const fields = `[${(fieldsArr?.items ?? []).map(ser).join(' ')} ${fieldNum} 0 R]`;
  const newAcro = acro
    ? withEntries(acro, { Fields: fields, SigFlags: '3' })
    : `<</Fields ${fields} /SigFlags 3>>`;
  const catSet: Record<string, string> = {};
  if (acroRaw?.kind === 'ref') objects.push({ num: acroRaw.num, body: newAcro });
  else catSet.AcroForm = newAcro;
  if (p.certify) catSet.Perms = `<</DocMDP ${sigNum} 0 R>>`;
  if (Object.keys(catSet).length)
    objects.push({ num: rootRef.num, gen: rootRef.gen, body: withEntries(catalog, catSet) });
  await doc.close();

  let out = await appendRevision(bytes, objects);
  // Fill in the ByteRange, then the signature.
  const text = out.toString('latin1');
  const at = text.lastIndexOf(PLACEHOLDER_RANGE);
  const cStart = text.indexOf('/Contents <', at) + '/Contents '.length;
  const cEnd = cStart + contentsLen * 2 + 2;
  const range = `/ByteRange [0 ${cStart} ${cEnd} ${out.length - cEnd}]`.padEnd(PLACEHOLDER_RANGE.length, ' ');
  out.write(range, at, 'latin1');
  const signed = Buffer.concat([out.subarray(0, cStart), out.subarray(cEnd)]);
  let der: Buffer;
  if (isDts) {
    der = await tsaSigner(p.tsa!)(createHash('sha256').update(signed).digest());
  } else {
    const ts = p.tsa ? tsaSigner(p.tsa) : undefined;
    der = await signData(signed, {
      signer: p.key,
      certificate: p.cert,
      chain: p.chain ?? [],
      signingTime: false,
      capabilities: [],
      ...(ts ? { timestamp: (sig: Buffer) => ts(createHash('sha256').update(sig).digest()) } : {}),
    });
  }
  if (der.length > contentsLen) throw new Error('signature larger than the /Contents placeholder');
  out.write(der.toString('hex'), cStart + 1, 'latin1');
  out = Buffer.from(out);
  return out;
}

/** Append a DSS with the given certificates, OCSP responses and CRLs (and a VRI entry for `vriKey`). */
export async function addDss(
  bytes: Buffer,
  data: { certs?: Buffer[]; ocsps?: Buffer[]; crls?: Buffer[]; vriKeys?: string[] },
): Promise<Buffer> {
  const doc = await openBytes(bytes);
  const rootRef = doc.trailer.get('Root') as PdfRef;
  const catalog = await doc.catalog();
  let next = doc.trailer.getNumber('Size')!;
  const objects: NewObject[] = [];
  const refs = (list: Buffer[] = []): string =>
    `[${list
      .map((b) => {
        const num = next++;
        objects.push({ num, body: streamBody('<<>>', b) });
        return `${num} 0 R`;
      })
      .join(' ')}]`;
  const certs = refs(data.certs);
  const ocsps = refs(data.ocsps);
  const crls = refs(data.crls);
  const vri = (data.vriKeys ?? []).map((k) => `/${k} <<>>`).join(' ');
  const dssNum = next++;
  objects.push({
    num: dssNum,
    body: `<</Type /DSS /Certs ${certs} /OCSPs ${ocsps} /CRLs ${crls} /VRI <<${vri}>>>>`,
  });
  objects.push({ num: rootRef.num, gen: rootRef.gen, body: withEntries(catalog, { DSS: `${dssNum} 0 R` }) });
  await doc.close();
  return appendRevision(bytes, objects);
}
