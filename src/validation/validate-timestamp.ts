/**
 * validateTimestampToken: an RFC 3161 token is checked cryptographically (CMS signature, ESS signing
 * certificate, message imprint — src/pkix/tsp.ts), then its TSA certificate is validated for 'timestamping'
 * at the token's genTime, with the certificates the token carries as intermediates.
 */
import { TspVerifyError, verifyTimeStampToken, type ParsedTimeStampToken } from '../pkix/tsp.js';
import { instant } from './describe.js';
import type { RevocationCache } from './revocation-cache.js';
import type { RevocationPolicy, ValidationResult } from './types.js';
import { emptyResult, Findings, validateCertificate } from './validate-certificate.js';

export interface TimestampValidationParams {
  /** The digest the token must cover (computed with the token's hash algorithm), or the data itself. */
  digest?: Buffer;
  data?: Uint8Array;
  trustAnchors: Buffer[];
  intermediates?: Buffer[];
  revocation?: RevocationPolicy;
  cache?: RevocationCache;
}

export type TimestampValidationResult = ValidationResult & { genTime?: Date; token?: ParsedTimeStampToken };

/** Checks whose failure means the token or the data changed after signing, not that it is unreadable. */
const TAMPERED = new Set(['message-digest', 'signature', 'imprint', 'content-type', 'signing-certificate']);

export async function validateTimestampToken(
  token: Buffer,
  p: TimestampValidationParams,
): Promise<TimestampValidationResult> {
  const findings = new Findings();
  let parsed: ParsedTimeStampToken;
  try {
    parsed = verifyTimeStampToken(token, {
      ...(p.digest ? { digest: p.digest } : {}),
      ...(p.data ? { data: p.data } : {}),
    });
  } catch (e) {
    const message = (e as Error).message;
    if (e instanceof TspVerifyError && e.reason === 'signer-certificate') {
      findings.fail('timestamp', 'wrong-usage', message);
    } else if (e instanceof TspVerifyError && TAMPERED.has(e.reason)) {
      findings.fail('timestamp', 'tampered', message);
    } else {
      findings.fail('timestamp', 'malformed', `the timestamp token cannot be read: ${message}`);
    }
    return emptyResult(findings);
  }
  const covered = p.digest || p.data ? 'covers the given data' : 'was not compared with any data';
  const accuracy = parsed.accuracyMillis !== undefined ? ` ±${parsed.accuracyMillis} ms` : '';
  const signer = parsed.signerCertificate as Buffer; // verifyTimeStampToken guarantees it
  const chain = await validateCertificate(signer, {
    trustAnchors: p.trustAnchors,
    intermediates: [...parsed.certificates, ...(p.intermediates ?? [])],
    at: parsed.genTime,
    purpose: 'timestamping',
    ...(p.revocation ? { revocation: p.revocation } : {}),
    ...(p.cache ? { cache: p.cache } : {}),
  });
  const checks = [
    {
      name: 'timestamp',
      ok: true,
      detail: `token signed by the TSA at ${instant(parsed.genTime)}${accuracy}, serial ${parsed.serial}; it ${covered}`,
    },
    ...chain.checks,
  ];
  return { ...chain, checks, genTime: parsed.genTime, token: parsed };
}
