/** Wording shared by the checks: how certificates, dates and roles are named in messages people read. */
import type { ParsedCertificate } from '../pkix/certificate.js';
import { nameAttribute } from '../pkix/name.js';
import { OID_AT } from '../pkix/oids.js';
import type { Purpose } from './types.js';

const labels = new WeakMap<ParsedCertificate, string>();

/** "CN=Alice" when the subject has a common name, else the whole RFC 4514 subject (once per certificate). */
export function certLabel(cert: ParsedCertificate): string {
  let label = labels.get(cert);
  if (label === undefined) {
    const cn = nameAttribute(cert.subject, OID_AT.commonName);
    label = cn !== undefined ? `CN=${cn}` : cert.subjectString || '(empty subject)';
    labels.set(cert, label);
  }
  return label;
}

/** The issuer's name in the same short form, for certificates whose issuer we could not find. */
export function issuerLabel(cert: ParsedCertificate): string {
  const cn = nameAttribute(cert.issuer, OID_AT.commonName);
  return cn !== undefined ? `CN=${cn}` : cert.issuerString || '(empty issuer)';
}

export const day = (d: Date): string => d.toISOString().slice(0, 10);
export const instant = (d: Date): string => `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;

const LEAF_ROLE: Record<Purpose, string> = {
  'smime-signing': "the signer's certificate",
  'document-signing': "the signer's certificate",
  'smime-encryption': "the recipient's certificate",
  timestamping: 'the TSA certificate',
  'ocsp-signing': 'the OCSP responder certificate',
  any: 'the certificate',
};

/** "the signer's certificate (CN=Alice)" for the leaf, "the CA certificate CN=Issuing CA" above it. */
export function roleOf(path: readonly ParsedCertificate[], index: number, purpose: Purpose): string {
  const cert = path[index] as ParsedCertificate;
  return index === 0 ? `${LEAF_ROLE[purpose]} (${certLabel(cert)})` : `the CA certificate ${certLabel(cert)}`;
}

export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
