/**
 * Use a CRL for one certificate (RFC 5280 §6.3.3, simplified for complete CRLs issued by the certificate's
 * issuer): the CRL issuer must be the certificate's issuer, its signature must verify with the issuer's key
 * (which must allow cRLSign), it must be current at the validation time, and it must have no critical extension
 * we do not process (e.g. an issuingDistributionPoint that would make it partial or indirect).
 */
import { verifySignature } from '../pkix/algorithms.js';
import type { ParsedCertificate } from '../pkix/certificate.js';
import { parseCrl, type ParsedCrl } from '../pkix/crl.js';
import { serialize } from '../pkix/der.js';
import { nameToString } from '../pkix/name.js';
import { certLabel } from './describe.js';
import { statusAt, windowProblem, type Evidence } from './evidence.js';

/** Parse for matching only; undefined when unreadable. */
export function tryParseCrl(der: Buffer): ParsedCrl | undefined {
  try {
    return parseCrl(der);
  } catch {
    return undefined;
  }
}

export function crlIsFrom(crl: ParsedCrl, issuer: ParsedCertificate): boolean {
  return (
    serialize(crl.issuer).equals(issuer.subjectDer) ||
    nameToString(crl.issuer).toLowerCase() === issuer.subjectString.toLowerCase()
  );
}

export function evaluateCrl(
  der: Buffer,
  cert: ParsedCertificate,
  issuer: ParsedCertificate,
  p: { at: Date; now: Date; url?: string },
): Evidence {
  const from = p.url ? ` from ${p.url}` : '';
  let crl: ParsedCrl;
  try {
    crl = parseCrl(der);
  } catch (e) {
    return {
      kind: 'invalid',
      source: 'crl',
      detail: `the CRL${from} cannot be read: ${(e as Error).message}`,
    };
  }
  const issuerName = certLabel(issuer);
  if (!crlIsFrom(crl, issuer)) {
    return p.url
      ? { kind: 'invalid', source: 'crl', detail: `the CRL${from} is not issued by ${issuerName}` }
      : { kind: 'not-applicable' };
  }
  if (crl.authorityKeyId && issuer.subjectKeyId && !crl.authorityKeyId.equals(issuer.subjectKeyId)) {
    return p.url
      ? {
          kind: 'invalid',
          source: 'crl',
          detail: `the CRL${from} was signed by another key of ${issuerName}`,
        }
      : { kind: 'not-applicable' };
  }
  if (!verifySignature(issuer.spki, crl.signatureAlgorithm, crl.tbs, crl.signature)) {
    return {
      kind: 'invalid',
      source: 'crl',
      detail: `the CRL${from} is not validly signed by ${issuerName}`,
    };
  }
  if (issuer.keyUsage.length > 0 && !issuer.keyUsage.includes('cRLSign')) {
    return {
      kind: 'invalid',
      source: 'crl',
      detail: `${issuerName} may not sign CRLs (its key usage lacks cRLSign)`,
    };
  }
  if (crl.unhandledCriticalExtensions.length > 0) {
    return {
      kind: 'invalid',
      source: 'crl',
      detail: `the CRL${from} has critical extension(s) ${crl.unhandledCriticalExtensions.join(', ')} that Sealpost does not process`,
    };
  }
  const stale = windowProblem(`the CRL${from}`, crl.thisUpdate, crl.nextUpdate, p.at, p.now);
  if (stale) return { kind: 'invalid', source: 'crl', detail: stale };

  const number = crl.crlNumber !== undefined ? ` number ${crl.crlNumber}` : '';
  const base = {
    kind: 'status' as const,
    source: 'crl' as const,
    der,
    certificates: [],
    ...(crl.nextUpdate ? { nextUpdate: crl.nextUpdate } : {}),
    ...(crl.crlNumber !== undefined ? { crlNumber: crl.crlNumber } : {}),
  };
  const entry = crl.revoked.find((r) => r.serialHex === cert.serialHex);
  if (!entry || entry.reason === 'removeFromCRL') {
    return { ...base, status: 'good', detail: `not listed on CRL${number} of ${issuerName}${from}` };
  }
  const { status, phrase } = statusAt(entry.revokedAt, entry.reason, p.at);
  return {
    ...base,
    status,
    ...(status === 'revoked' ? { revokedAt: entry.revokedAt } : {}),
    ...(status === 'revoked' && entry.reason ? { reason: entry.reason } : {}),
    detail: `${phrase}, according to CRL${number} of ${issuerName}${from}`,
  };
}
