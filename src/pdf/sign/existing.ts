/**
 * The signatures already in a document, as `extend` and the DSS need them: the raw /Contents bytes (the
 * VRI key is their SHA-1, ETSI EN 319 142-1 §5.4.2.2), the CMS without its zero padding, and which
 * certificates must be covered by validation data — each signer's, and each timestamp authority's.
 */
import type { PdfDocument } from '../document.js';
import type { PdfDict } from '../objects.js';
import { parseCertificate, type ParsedCertificate } from '../../pkix/certificate.js';
import type { SignerId } from '../../pkix/cms-signed-attrs.js';
import { readCmsSignedData, type CmsSignedDataView } from '../../pkix/cms/signed-data.js';
import { OID_SIGNATURE_TIMESTAMP_TOKEN } from '../../pkix/cms/signed-attributes.js';
import { PdfSignError } from './errors.js';

export interface ExistingSignature {
  fieldName: string;
  dict: PdfDict;
  kind: 'signature' | 'document-timestamp';
  subFilter?: string;
  /** /Contents as stored, padding included. */
  contents: Buffer;
  /** The DER without the trailing zero padding. */
  cms: Buffer;
}

/** A certificate to gather validation data for, with the certificates that came with it. */
export interface CertificateToCover {
  certificate: Buffer;
  pool: Buffer[];
  role: 'signer' | 'timestamping';
}

export async function listSignatures(doc: PdfDocument): Promise<ExistingSignature[]> {
  const out: ExistingSignature[] = [];
  for (const field of await doc.fields()) {
    if (field.type !== 'Sig' || field.value?.kind !== 'dict') continue;
    const dict = field.value;
    const contents = dict.get('Contents');
    if (contents?.kind !== 'string') continue;
    const subFilter = dict.getName('SubFilter');
    out.push({
      fieldName: field.name,
      dict,
      kind:
        dict.getName('Type') === 'DocTimeStamp' || subFilter === 'ETSI.RFC3161'
          ? 'document-timestamp'
          : 'signature',
      ...(subFilter ? { subFilter } : {}),
      contents: contents.bytes,
      cms: trimDer(contents.bytes),
    });
  }
  return out;
}

/** The DER element at the start of `bytes` (a definite-length SEQUENCE), without what follows it. */
export function trimDer(bytes: Buffer): Buffer {
  if (bytes.length < 2 || bytes[0] !== 0x30) return bytes;
  const first = bytes[1]!;
  if (first < 0x80) return bytes.subarray(0, 2 + first);
  const n = first & 0x7f;
  if (n === 0 || n > 4 || bytes.length < 2 + n) return bytes; // indefinite (BER) or absurd: keep as is
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + bytes[2 + i]!;
  return bytes.subarray(0, Math.min(bytes.length, 2 + n + len));
}

function readCms(der: Buffer, what: string): CmsSignedDataView {
  try {
    return readCmsSignedData(der);
  } catch (e) {
    throw new PdfSignError(`${what} cannot be read as CMS: ${(e as Error).message}`);
  }
}

function matches(cert: ParsedCertificate, sid: SignerId): boolean {
  return 'subjectKeyId' in sid
    ? !!cert.subjectKeyId?.equals(sid.subjectKeyId)
    : cert.issuerDer.equals(sid.issuerDer) && cert.serialHex === sid.serialHex;
}

function signerCertificates(view: CmsSignedDataView): Buffer[] {
  const parsed = view.certificates.flatMap((der) => {
    try {
      return [parseCertificate(der)];
    } catch {
      return [];
    }
  });
  return view.signers.flatMap((s) => parsed.filter((c) => matches(c, s.sid)).map((c) => c.der));
}

/** The certificates one signature or document timestamp needs validation data for. */
export function certificatesToCover(sig: ExistingSignature): CertificateToCover[] {
  const view = readCms(sig.cms, `the /Contents of "${sig.fieldName}"`);
  const role = sig.kind === 'document-timestamp' ? 'timestamping' : 'signer';
  const out: CertificateToCover[] = signerCertificates(view).map((certificate) => ({
    certificate,
    pool: view.certificates,
    role,
  }));
  for (const signer of view.signers)
    for (const token of signer.unsignedAttributes.get(OID_SIGNATURE_TIMESTAMP_TOKEN) ?? [])
      out.push(...timestampTokenCertificates(token));
  return out;
}

/** The TSA certificate of a timestamp token (ContentInfo DER). */
export function timestampTokenCertificates(token: Buffer): CertificateToCover[] {
  const view = readCms(token, 'a signature timestamp token');
  return signerCertificates(view).map((certificate) => ({
    certificate,
    pool: view.certificates,
    role: 'timestamping' as const,
  }));
}
