/**
 * PAdES signing (ETSI EN 319 142-1 baseline levels): B-B is one incremental update with the signature
 * field and an ETSI.CAdES.detached signature; B-T adds a signature timestamp inside the CMS; B-LT adds a
 * DSS update with validation data for the signer's and the TSA's chains; B-LTA adds a document timestamp
 * over all of it and a last DSS update with the validation data of that timestamp.
 */
import { createHash } from 'node:crypto';
import type { HashAlgorithm, KeyHandle } from '../../crypto/key-handle.js';
import { signData } from '../../pkix/cms/signed-data.js';
import type { ParsedTimeStampToken } from '../../pkix/tsp.js';
import { parseCertificate } from '../../pkix/certificate.js';
import { PdfDocument, type OpenOptions } from '../document.js';
import { BufferSource } from '../source.js';
import type { PdfRef } from '../objects.js';
import { catalogRef, editDict } from '../writer/edit.js';
import { WritableDict } from '../writer/serialize.js';
import { copyFile, writeFile } from 'node:fs/promises';
import { loadSmallInput } from './input.js';
import { IncrementalUpdate } from '../writer/incremental.js';
import { appendToFile, type PdfInput } from '../writer/output.js';
import { writeAppearance } from './appearance.js';
import { addToDss, vriKey, type DssAddition } from './dss.js';
import { PdfSignError } from './errors.js';
import { certificatesToCover, listSignatures, type CertificateToCover } from './existing.js';
import { placeSignatureField, type FieldLock, type Placement } from './field.js';
import { gatherValidationData, type LtvOptions } from './ltv.js';
import { writeSignedRevision, type SignedRevisionLayout } from './revision.js';
import {
  documentTimestampDictionary,
  signatureDictionary,
  type DocMdpPermission,
  type SignatureDetails,
} from './signature-dict.js';
import { TIMESTAMP_RESERVE, timestampData, timestampDigest, type TsaOptions } from './tsa.js';

export type PadesLevel = 'B-B' | 'B-T' | 'B-LT' | 'B-LTA';
export const PADES_LEVELS: readonly PadesLevel[] = ['B-B', 'B-T', 'B-LT', 'B-LTA'];

/** Who signs: a key handle (software or PKCS#11) and its certificate, with the chain to embed (no root). */
export interface PdfSigner {
  key: KeyHandle;
  certificate: Buffer;
  chain?: Buffer[];
}

export interface VisibleSignature extends Placement {
  /** Text lines (default: "Digitally signed by <subject CN>", the date, reason and location). */
  lines?: string[];
  /** PNG or JPEG bytes, e.g. a hand-written signature. */
  image?: Buffer;
}

export interface SignPdfOptions {
  input: PdfInput;
  /** Output path; may not be the input path. */
  output: string;
  signer: PdfSigner;
  level?: PadesLevel;
  hash?: HashAlgorithm;
  /** RSA keys: RSASSA-PSS instead of PKCS#1 v1.5. */
  pss?: boolean;
  /** Required for B-T and above. */
  tsa?: TsaOptions;
  /** Required for B-LT and above. */
  ltv?: LtvOptions;
  /** Existing empty signature field to sign, or the name of the new one. */
  field?: string;
  visible?: VisibleSignature;
  /** A certification signature with these DocMDP permissions (must be the document's first signature). */
  certify?: DocMdpPermission;
  lock?: FieldLock;
  details?: SignatureDetails;
  /** Bytes reserved for /Contents (default: estimated from the certificates and the timestamp). */
  contentsSize?: number;
  /** Opening an encrypted input (password or security handler factories). */
  open?: OpenOptions;
}

export interface SignPdfResult {
  output: string;
  level: PadesLevel;
  field: string;
  /** The signature's /ByteRange. */
  byteRange: [number, number, number, number];
  /** genTime of the signature timestamp (B-T and above). */
  signatureTimestamp?: Date;
  /** genTime of the document timestamp (B-LTA). */
  documentTimestamp?: Date;
}

/** Sign `input` into `output` at the requested PAdES level. */
export async function signPdf(o: SignPdfOptions): Promise<SignPdfResult> {
  const level = o.level ?? 'B-B';
  requireLevelOptions(level, o.tsa, o.ltv);
  const loaded = await loadSmallInput(o.input);
  const input = loaded.input;
  let token: ParsedTimeStampToken | undefined;
  let placed: { name: string; layout: SignedRevisionLayout };
  try {
    placed = await signRevision(input, o, level, (t) => (token = t));
  } finally {
    loaded.release();
  }
  const result: SignPdfResult = {
    output: o.output,
    level,
    field: placed.name,
    byteRange: placed.layout.byteRange,
    ...(token ? { signatureTimestamp: token.genTime } : {}),
  };
  if (level === 'B-LT' || level === 'B-LTA') {
    const lta = await raiseLevel(o.output, level, o.tsa, o.ltv!, o.open);
    if (lta.documentTimestamp) result.documentTimestamp = lta.documentTimestamp;
  }
  return result;
}

/** The signed revision itself: signature field and dictionary, the CMS over the covered bytes. */
async function signRevision(
  input: PdfInput,
  o: SignPdfOptions,
  level: PadesLevel,
  onTimestamp: (token: ParsedTimeStampToken) => void,
): Promise<{ name: string; layout: SignedRevisionLayout }> {
  const doc = await openInput(input, o.open);
  try {
    const hash = o.hash ?? 'sha256';
    const contentsBytes = o.contentsSize ?? estimateContentsSize(o.signer, !!o.tsa && level !== 'B-B');
    const { update, sigRef, fieldName } = await prepareSignatureUpdate(doc, o, contentsBytes);
    const layout = await writeSignedRevision(input, o.output, update, sigRef, contentsBytes, (covered) =>
      signData(covered, {
        signer: o.signer.key,
        certificate: o.signer.certificate,
        chain: o.signer.chain ?? [],
        hash,
        ...(o.pss ? { pss: true } : {}),
        signingTime: false, // ETSI EN 319 142-1 §5.2.2: the signing-time attribute shall not be present
        capabilities: [],
        ...(level !== 'B-B' && o.tsa
          ? {
              timestamp: async (signature: Buffer) => {
                const token = await timestampData(o.tsa!, signature);
                onTimestamp(token);
                return token.token;
              },
            }
          : {}),
      }),
    );
    return { name: fieldName, layout };
  } finally {
    await doc.close();
  }
}

/** Build the update holding the signature field, widget, appearance and dictionary (with placeholders). */
export async function prepareSignatureUpdate(
  doc: PdfDocument,
  o: Pick<SignPdfOptions, 'field' | 'visible' | 'certify' | 'lock' | 'details' | 'signer'>,
  contentsBytes: number,
): Promise<{ update: IncrementalUpdate; sigRef: PdfRef; fieldName: string }> {
  await checkPermissions(doc, o.certify);
  const update = new IncrementalUpdate(doc);
  const sigRef = update.allocate();
  const placed = await placeSignatureField(update, sigRef, {
    ...(o.field ? { name: o.field } : {}),
    ...(o.visible ? { placement: o.visible } : {}),
    ...(o.lock ? { lock: o.lock } : {}),
  });
  const details = { ...o.details, signingTime: o.details?.signingTime ?? new Date() };
  update.set(
    sigRef,
    signatureDictionary(contentsBytes, details, {
      ...(o.certify ? { certify: o.certify } : {}),
      ...(placed.lock ? { lock: placed.lock } : {}),
    }),
  );
  if (o.certify)
    await editDict(
      update,
      catalogRef(update),
      (cat) => void cat.set('Perms', new WritableDict().set('DocMDP', sigRef)),
    );
  const [x1 = 0, y1 = 0, x2 = 0, y2 = 0] = placed.rect;
  if (x2 - x1 > 0 && y2 - y1 > 0) {
    const xobject = writeAppearance(update, x2 - x1, y2 - y1, {
      lines: o.visible?.lines ?? defaultLines(o.signer.certificate, details),
      ...(o.visible?.image ? { image: o.visible.image } : {}),
    });
    await placed.setAppearance(xobject);
  }
  return { update, sigRef, fieldName: placed.name };
}

export interface TimestampPdfOptions {
  input: PdfInput;
  output: string;
  tsa: TsaOptions;
  contentsSize?: number;
  open?: OpenOptions;
}

/** Add a document timestamp (/Type /DocTimeStamp, ETSI.RFC3161) covering the whole file. */
export async function timestampPdf(
  o: TimestampPdfOptions,
): Promise<{ output: string; genTime: Date; field: string }> {
  // Appending to the input itself (B-LTA) stays append-only on disk; otherwise small files go in memory.
  const loaded =
    typeof o.input === 'string' && o.input === o.output
      ? { input: o.input, release: () => undefined }
      : await loadSmallInput(o.input);
  const input = loaded.input;
  const doc = await openInput(input, o.open).catch((e: unknown) => {
    loaded.release();
    throw e;
  });
  try {
    const contentsBytes = o.contentsSize ?? TIMESTAMP_RESERVE;
    const update = new IncrementalUpdate(doc);
    const sigRef = update.allocate();
    const placed = await placeSignatureField(update, sigRef, {});
    update.set(sigRef, documentTimestampDictionary(contentsBytes));
    let genTime: Date | undefined;
    await writeSignedRevision(input, o.output, update, sigRef, contentsBytes, async (covered) => {
      const hasher = createHash(o.tsa.hash ?? 'sha256');
      for await (const chunk of covered) hasher.update(chunk);
      const token = await timestampDigest(o.tsa, hasher.digest());
      genTime = token.genTime;
      return token.token;
    });
    return { output: o.output, genTime: genTime!, field: placed.name };
  } finally {
    await doc.close();
    loaded.release();
  }
}

export interface ExtendPdfOptions {
  input: PdfInput;
  output: string;
  level: 'B-LT' | 'B-LTA';
  ltv: LtvOptions;
  /** Required for B-LTA. */
  tsa?: TsaOptions;
  open?: OpenOptions;
}

/**
 * Raise the level of the signatures in a file: validation data for every signature and timestamp not
 * yet covered by a VRI entry (B-LT), then a document timestamp and its own validation data (B-LTA).
 */
export async function extendPdf(o: ExtendPdfOptions): Promise<{ output: string; documentTimestamp?: Date }> {
  requireLevelOptions(o.level, o.tsa, o.ltv, true);
  if (Buffer.isBuffer(o.input)) await writeFile(o.output, o.input);
  else await copyFile(o.input, o.output);
  return raiseLevel(o.output, o.level, o.tsa, o.ltv, o.open);
}

async function raiseLevel(
  path: string,
  level: 'B-LT' | 'B-LTA',
  tsa: TsaOptions | undefined,
  ltv: LtvOptions,
  open: OpenOptions | undefined,
): Promise<{ output: string; documentTimestamp?: Date }> {
  await addValidationData(path, ltv, open);
  if (level === 'B-LT') return { output: path };
  const ts = await timestampPdf({ input: path, output: path, tsa: tsa!, ...(open ? { open } : {}) });
  await addValidationData(path, ltv, open);
  return { output: path, documentTimestamp: ts.genTime };
}

/** Append a DSS update covering every signature and timestamp that has no VRI entry yet. */
export async function addValidationData(path: string, ltv: LtvOptions, open?: OpenOptions): Promise<number> {
  const doc = await PdfDocument.openFile(path, open);
  try {
    const covered = await coveredVriKeys(doc);
    const additions: DssAddition[] = [];
    for (const sig of await listSignatures(doc)) {
      if (covered.has(vriKey(sig.contents))) continue;
      const certs: CertificateToCover[] = certificatesToCover(sig);
      if (!certs.length)
        throw new PdfSignError(`signature "${sig.fieldName}" does not contain its signer certificate`);
      additions.push({ contents: sig.contents, data: await gatherValidationData(certs, ltv) });
    }
    if (!additions.length) return 0;
    const update = new IncrementalUpdate(doc);
    await addToDss(update, additions);
    const last = doc.source.size ? (await doc.source.read(doc.source.size - 1, 1))[0] : undefined;
    await appendToFile(path, doc.source.size, update.build(doc.source.size, last).bytes);
    return additions.length;
  } finally {
    await doc.close();
  }
}

async function coveredVriKeys(doc: PdfDocument): Promise<Set<string>> {
  const dss = await doc.resolveDict((await doc.catalog()).get('DSS'));
  const vri = await doc.resolveDict(dss?.get('VRI'));
  return new Set(vri?.keys() ?? []);
}

async function openInput(input: PdfInput, open: OpenOptions | undefined): Promise<PdfDocument> {
  return Buffer.isBuffer(input)
    ? PdfDocument.open(new BufferSource(input), open)
    : PdfDocument.openFile(input, open);
}

/** What each level needs; extending a B-B signature to B-LT adds no signature timestamp, so no TSA. */
function requireLevelOptions(
  level: PadesLevel,
  tsa: TsaOptions | undefined,
  ltv: LtvOptions | undefined,
  extending = false,
): void {
  if (!PADES_LEVELS.includes(level))
    throw new PdfSignError(`unknown PAdES level "${level}": use ${PADES_LEVELS.join(', ')}`);
  const needsTsa = level === 'B-LTA' || (!extending && level !== 'B-B');
  if (needsTsa && !tsa)
    throw new PdfSignError(`${level} needs a timestamp authority: pass a TSA URL (--tsa)`);
  if ((level === 'B-LT' || level === 'B-LTA') && !ltv)
    throw new PdfSignError(`${level} needs trust anchors to collect validation data (--trust chain.pem)`);
}

/** A certification signature must come first, and a P=1 certification forbids any further signature. */
async function checkPermissions(doc: PdfDocument, certify: DocMdpPermission | undefined): Promise<void> {
  const catalog = await doc.catalog();
  const perms = await doc.resolveDict(catalog.get('Perms'));
  const docMdp = await doc.resolveDict(perms?.get('DocMDP'));
  if (docMdp) {
    if (certify)
      throw new PdfSignError(
        'the document is already certified: a certification signature must be the first signature',
      );
    const refs = await doc.latest.resolveArray(docMdp.get('Reference'));
    for (const r of refs?.items ?? []) {
      const ref = await doc.resolveDict(r);
      const params = await doc.resolveDict(ref?.get('TransformParams'));
      if (ref?.getName('TransformMethod') === 'DocMDP' && (params?.getNumber('P') ?? 2) === 1)
        throw new PdfSignError(
          'the document is certified with "no changes allowed" (DocMDP P=1): it cannot be signed again',
        );
    }
  }
  if (certify && (await listSignatures(doc)).some((s) => s.kind === 'signature'))
    throw new PdfSignError(
      'a certification signature must be the first signature: the document is already signed',
    );
}

function defaultLines(certificate: Buffer, details: SignatureDetails): string[] {
  const subject = parseCertificate(certificate).subjectString;
  const cn = /CN=([^,]+)/.exec(subject)?.[1] ?? subject;
  const lines = [
    `Digitally signed by ${cn}`,
    `Date: ${(details.signingTime ?? new Date()).toISOString().replace('T', ' ').slice(0, 19)} UTC`,
  ];
  if (details.reason) lines.push(`Reason: ${details.reason}`);
  if (details.location) lines.push(`Location: ${details.location}`);
  return lines;
}

/** Room for the CMS: certificates, signed attributes, the signature value, an optional timestamp token. */
export function estimateContentsSize(signer: PdfSigner, withTimestamp: boolean): number {
  const certs = [signer.certificate, ...(signer.chain ?? [])].reduce((n, c) => n + c.length, 0);
  const signatureBytes = signer.key.spki.length; // ≥ the signature size for RSA and ECDSA keys
  return certs + 3 * signatureBytes + 4096 + (withTimestamp ? TIMESTAMP_RESERVE : 0);
}
