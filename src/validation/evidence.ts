/** What one OCSP response or CRL says about one certificate, after its checks; shared by both readers. */
import { day, instant } from './describe.js';

/** RFC 5019 §4 / common practice: tolerate this much clock difference between us and the responder or CA. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;

export type Evidence =
  | {
      kind: 'status';
      status: 'good' | 'revoked';
      source: 'ocsp' | 'crl';
      revokedAt?: Date;
      reason?: string;
      /** The OCSP response or CRL bytes and any responder certificate that vouched for it (for a DSS). */
      der: Buffer;
      certificates: Buffer[];
      detail: string;
      /** For caching: until when the data is current, and a CRL's number (newer replaces older). */
      nextUpdate?: Date;
      crlNumber?: bigint;
    }
  /** The responder does not know the certificate (OCSP "unknown"). */
  | { kind: 'unknown'; source: 'ocsp' | 'crl'; detail: string }
  /** The data cannot be relied on: bad signature, unauthorised responder, outside its validity window … */
  | { kind: 'invalid'; source: 'ocsp' | 'crl'; detail: string }
  /** About other certificates (another issuer or serial): irrelevant here. */
  | { kind: 'not-applicable' };

/**
 * RFC 5280 §6.3.3 / RFC 6960 §3.2: status information must not come from the future (thisUpdate ≤ now + skew)
 * and must still be current at the validation time (at ≤ nextUpdate + skew). Information issued after `at`
 * is fine: a certificate good later was good at `at` (revocation is permanent).
 */
export function windowProblem(
  what: string,
  thisUpdate: Date,
  nextUpdate: Date | undefined,
  at: Date,
  now: Date,
): string | undefined {
  if (thisUpdate.getTime() > now.getTime() + CLOCK_SKEW_MS) {
    return `${what} claims to be issued at ${instant(thisUpdate)}, in the future`;
  }
  if (nextUpdate && nextUpdate.getTime() + CLOCK_SKEW_MS < at.getTime()) {
    return `${what} is stale: it was valid until ${instant(nextUpdate)}, before the validation time ${instant(at)}`;
  }
  return undefined;
}

/** Revocation after the validation time does not affect it (ETSI EN 319 102-1 §5.2.6); say so. */
export function statusAt(
  revokedAt: Date,
  reason: string | undefined,
  at: Date,
): { status: 'good' | 'revoked'; phrase: string } {
  const why = reason ? ` (${reason})` : '';
  if (revokedAt.getTime() > at.getTime()) {
    return {
      status: 'good',
      phrase: `not revoked at the validation time (revoked later, on ${day(revokedAt)}${why})`,
    };
  }
  return { status: 'revoked', phrase: `revoked on ${day(revokedAt)}${why}` };
}
