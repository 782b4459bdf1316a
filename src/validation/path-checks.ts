/**
 * The per-certificate rules of RFC 5280 §6.1.3/§6.1.4 that a built path must satisfy: validity at the
 * validation time, CA status and keyCertSign for every issuer, pathLenConstraint, and no critical extension
 * we do not understand. Trust anchors are taken as given (§6.1.1 d), except that they must be within their
 * validity period and their pathLenConstraint is honoured, as OpenSSL does.
 */
import type { ParsedCertificate } from '../pkix/certificate.js';
import { certLabel, instant, roleOf } from './describe.js';
import type { Purpose, Verdict } from './types.js';

export interface PathFinding {
  name: string;
  verdict: Verdict;
  detail: string;
}

const isSelfIssued = (c: ParsedCertificate): boolean => c.subjectDer.equals(c.issuerDer);

export function checkValidityPeriods(path: ParsedCertificate[], at: Date, purpose: Purpose): PathFinding[] {
  const out: PathFinding[] = [];
  path.forEach((cert, i) => {
    if (at.getTime() > cert.notAfter.getTime()) {
      out.push({
        name: 'validity',
        verdict: 'expired',
        detail: `${roleOf(path, i, purpose)} expired on ${instant(cert.notAfter)}, before the validation time ${instant(at)}`,
      });
    } else if (at.getTime() < cert.notBefore.getTime()) {
      out.push({
        name: 'validity',
        verdict: 'not-yet-valid',
        detail: `${roleOf(path, i, purpose)} is valid only from ${instant(cert.notBefore)}, after the validation time ${instant(at)}`,
      });
    }
  });
  return out;
}

export function checkCaConstraints(path: ParsedCertificate[]): PathFinding[] {
  const out: PathFinding[] = [];
  const anchorIndex = path.length - 1;
  for (let i = 1; i < path.length; i++) {
    const ca = path[i] as ParsedCertificate;
    const label = certLabel(ca);
    const anchor = i === anchorIndex;
    if (!anchor && !ca.isCa) {
      out.push({
        name: 'ca-constraints',
        verdict: 'untrusted',
        detail: `${label} issued ${certLabel(path[i - 1] as ParsedCertificate)} but is not a CA certificate (basicConstraints cA is not set)`,
      });
    }
    if (!anchor && ca.keyUsage.length > 0 && !ca.keyUsage.includes('keyCertSign')) {
      out.push({
        name: 'ca-constraints',
        verdict: 'untrusted',
        detail: `${label} may not issue certificates: its key usage lacks keyCertSign`,
      });
    }
    if (ca.pathLen !== undefined) {
      // §6.1.4 (l)/(m): count the non-self-issued intermediates below this CA.
      const below = path.slice(1, i).filter((c) => !isSelfIssued(c)).length;
      if (below > ca.pathLen) {
        out.push({
          name: 'ca-constraints',
          verdict: 'untrusted',
          detail: `${label} allows at most ${ca.pathLen} intermediate CA(s) below it (pathLenConstraint), the path has ${below}`,
        });
      }
    }
  }
  return out;
}

/** RFC 5280 §4.2: a certificate with a critical extension we do not process must be rejected. */
export function checkCriticalExtensions(path: ParsedCertificate[]): PathFinding[] {
  return path.slice(0, -1).flatMap((cert) =>
    cert.unhandledCriticalExtensions.length > 0
      ? [
          {
            name: 'critical-extensions',
            verdict: 'malformed' as const,
            detail: `${certLabel(cert)} has critical extension(s) ${cert.unhandledCriticalExtensions.join(', ')} that Sealpost does not process, so it must be rejected (RFC 5280 §4.2)`,
          },
        ]
      : [],
  );
}
