/**
 * The cryptographic checks of one PDF signature, with the signed bytes streamed from the file:
 * - approval and certification signatures (adbe.pkcs7.detached, ETSI.CAdES.detached): CMS SignedData with one
 *   signer whose certificate is embedded, message digest over the ByteRange, signature over the signed
 *   attributes, ESS signing-certificate binding; PAdES (ETSI EN 319 142-1 §6.3) additionally requires
 *   signingCertificateV2 and forbids the signing-time attribute;
 * - document timestamps (ETSI.RFC3161): an RFC 3161 token whose message imprint is the ByteRange digest.
 * Chain, revocation and the timestamp's TSA chain are checked later (trust.ts).
 */
import { createHash } from 'node:crypto';
import {
  CmsSignedDataError,
  readCmsSignedData,
  verifySignedData,
  type TimestampCheck,
} from '../../pkix/cms/signed-data.js';
import { OID_SIGNATURE_TIMESTAMP_TOKEN } from '../../pkix/cms/signed-attributes.js';
import { OID_SIGNING_CERTIFICATE_V2 } from '../../pkix/ess.js';
import { TspVerifyError, verifyTimeStampToken, type ParsedTimeStampToken } from '../../pkix/tsp.js';
import type { ByteSource } from '../source.js';
import { signedBytes } from './byte-range.js';

const OID_SIGNING_TIME = '1.2.840.113549.1.9.5';

export interface CryptoFacts {
  /** Problems that make the signature invalid (TOTAL-FAILED). */
  failures: string[];
  /** Problems that leave it undecided (INDETERMINATE), e.g. an unsupported format. */
  undecided: string[];
  /** Passing facts worth showing, one line each. */
  notes: string[];
  signerCertificate?: Buffer;
  /** Certificates carried by the CMS (or by the timestamp token). */
  certificates: Buffer[];
  /** The SignerInfo's signature value (what a signature timestamp covers). */
  signatureValue?: Buffer;
  /** id-aa-signatureTimeStampToken, when present. */
  timestampToken?: Buffer;
  timestamp?: TimestampCheck;
  /** A document timestamp's token, parsed, and the ByteRange digest it must cover. */
  docTimestamp?: { token: Buffer; parsed: ParsedTimeStampToken; digest: Buffer };
  /** Present when the profile (PAdES) was checked. */
  profileProblems?: string[];
}

const SUPPORTED = new Set(['adbe.pkcs7.detached', 'ETSI.CAdES.detached']);

export async function checkSignatureCrypto(
  source: ByteSource,
  ranges: readonly [number, number, number, number],
  cms: Buffer,
  subFilter: string,
): Promise<CryptoFacts> {
  if (subFilter === 'ETSI.RFC3161') return checkDocumentTimestamp(source, ranges, cms);
  const facts: CryptoFacts = { failures: [], undecided: [], notes: [], certificates: [] };
  if (!SUPPORTED.has(subFilter)) {
    facts.undecided.push(
      `SubFilter /${subFilter || '(none)'} is not supported (adbe.pkcs7.detached, ETSI.CAdES.detached and ETSI.RFC3161 are)`,
    );
    return facts;
  }
  let verified;
  let signedAttributes: Map<string, Buffer[]> | undefined;
  try {
    const view = readCmsSignedData(cms);
    if (view.signers.length !== 1) {
      facts.failures.push(`the CMS has ${view.signers.length} signers; a PDF signature has exactly one`);
      return facts;
    }
    const si = view.signers[0]!;
    signedAttributes = si.signedAttributes;
    facts.signatureValue = si.signature;
    facts.timestampToken = si.unsignedAttributes.get(OID_SIGNATURE_TIMESTAMP_TOKEN)?.[0];
    verified = await verifySignedData(cms, { content: signedBytes(source, ranges) });
  } catch (e) {
    if (!(e instanceof CmsSignedDataError)) throw e;
    facts.failures.push(`the /Contents is not a readable CMS signature: ${e.message}`);
    return facts;
  }
  const signer = verified.signers[0]!;
  facts.certificates = signer.certificates;
  if (signer.signerCertificate) facts.signerCertificate = signer.signerCertificate;
  if (signer.timestamp) facts.timestamp = signer.timestamp;
  if (!signer.digestMatches && signer.digestAlgorithm !== 'unsupported')
    facts.failures.push('the signed bytes were changed (ByteRange digest mismatch)');
  for (const p of signer.problems) {
    if (/message digest does not match/.test(p)) continue; // said above in the PDF's words
    if (/not accepted/.test(p)) facts.undecided.push(p);
    else facts.failures.push(p);
  }
  if (facts.failures.length === 0 && facts.undecided.length === 0)
    facts.notes.push(
      `${signer.signatureAlgorithm} signature with ${signer.digestAlgorithm} over the signed bytes verifies (${signer.signerIdentifier})`,
    );
  if (signedAttributes) facts.profileProblems = padesProblems(subFilter, signedAttributes, facts.notes);
  return facts;
}

/** ETSI EN 319 142-1 §6.3 (PAdES baseline); for adbe.pkcs7.detached the same facts are notes only. */
function padesProblems(subFilter: string, attrs: Map<string, Buffer[]>, notes: string[]): string[] {
  const problems: string[] = [];
  const pades = subFilter === 'ETSI.CAdES.detached';
  if (!attrs.has(OID_SIGNING_CERTIFICATE_V2)) {
    const text = 'the signingCertificateV2 attribute that binds the signer certificate is missing';
    if (pades) problems.push(`${text} (PAdES requires it)`);
    else notes.push(text);
  }
  if (attrs.has(OID_SIGNING_TIME)) {
    if (pades) problems.push('the signing-time attribute is present, which PAdES forbids (the time is /M)');
    else notes.push('the CMS carries a signing-time attribute (claimed by the signer, informative)');
  }
  return problems;
}

async function checkDocumentTimestamp(
  source: ByteSource,
  ranges: readonly [number, number, number, number],
  token: Buffer,
): Promise<CryptoFacts> {
  const facts: CryptoFacts = { failures: [], undecided: [], notes: [], certificates: [] };
  let parsed: ParsedTimeStampToken;
  try {
    parsed = verifyTimeStampToken(token, {});
  } catch (e) {
    if (!(e instanceof TspVerifyError)) throw e;
    facts.failures.push(`the document timestamp token does not verify: ${e.message}`);
    return facts;
  }
  const hash = createHash(parsed.hash);
  for await (const chunk of signedBytes(source, ranges)) hash.update(chunk);
  const digest = hash.digest();
  facts.certificates = parsed.certificates;
  if (parsed.signerCertificate) facts.signerCertificate = parsed.signerCertificate;
  if (!digest.equals(parsed.messageImprint)) {
    facts.failures.push(
      'the signed bytes were changed (the document timestamp imprint does not match the ByteRange digest)',
    );
  } else {
    facts.notes.push(`RFC 3161 token over the ${parsed.hash} digest of the signed bytes verifies`);
  }
  facts.docTimestamp = { token, parsed, digest };
  return facts;
}
