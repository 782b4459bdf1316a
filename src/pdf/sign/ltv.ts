/**
 * Gathering long-term validation data (PAdES B-LT, ETSI EN 319 142-1 §5.4): for every certificate a
 * signature or timestamp depends on, its path to a trust anchor with OCSP responses or CRLs, as the
 * validation layer collected them.
 */
import { validateCertificate } from '../../validation/validate-certificate.js';
import type { RevocationCache } from '../../validation/revocation-cache.js';
import type { RevocationPolicy, ValidationData } from '../../validation/types.js';
import { PdfSignError } from './errors.js';
import type { CertificateToCover } from './existing.js';

export interface LtvOptions {
  /** DER certificates where the chains end (the root of our CA, or the configured anchors). */
  trustAnchors: Buffer[];
  /** Default: OCSP or CRL required for every non-anchor certificate, fetched online. */
  revocation?: RevocationPolicy;
  cache?: RevocationCache;
  /** Validation time (default now). */
  at?: Date;
}

const REQUIRE_REVOCATION: RevocationPolicy = { mode: 'require', onUnreachable: 'fail', fetch: true };

/** Validate each certificate and merge what was used; fails when a path or revocation status is missing. */
export async function gatherValidationData(
  certificates: CertificateToCover[],
  o: LtvOptions,
): Promise<ValidationData> {
  if (!o.trustAnchors.length)
    throw new PdfSignError(
      'B-LT needs trust anchors: pass the chain where the certificates end (--trust chain.pem)',
    );
  const merged: ValidationData = { certificates: [], ocspResponses: [], crls: [] };
  for (const c of certificates) {
    const result = await validateCertificate(c.certificate, {
      trustAnchors: o.trustAnchors,
      intermediates: c.pool,
      purpose: c.role === 'timestamping' ? 'timestamping' : 'any',
      revocation: o.revocation ?? REQUIRE_REVOCATION,
      ...(o.cache ? { cache: o.cache } : {}),
      ...(o.at ? { at: o.at } : {}),
    });
    if (!result.ok) {
      const failed = result.checks.filter((ch) => !ch.ok).map((ch) => `${ch.name}: ${ch.detail}`);
      throw new PdfSignError(
        `cannot collect validation data for the ${c.role} certificate (${result.verdict}): ${failed.join('; ') || 'no detail'}`,
      );
    }
    merge(merged, result.validationData);
  }
  return merged;
}

function merge(into: ValidationData, from: ValidationData): void {
  for (const key of ['certificates', 'ocspResponses', 'crls'] as const)
    for (const der of from[key]) if (!into[key].some((x) => x.equals(der))) into[key].push(der);
}
