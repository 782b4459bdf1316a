/** Getting RFC 3161 tokens for signatures (B-T) and document timestamps (B-LTA). */
import { createHash } from 'node:crypto';
import type { HashAlgorithm } from '../../crypto/key-handle.js';
import { requestTimestamp } from '../../net/tsa-client.js';
import type { ParsedTimeStampToken } from '../../pkix/tsp.js';

export interface TsaOptions {
  url: string;
  /** Message imprint hash (default SHA-256). */
  hash?: HashAlgorithm;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

/** A token over `digest` (already computed with `tsa.hash`). */
export function timestampDigest(tsa: TsaOptions, digest: Buffer): Promise<ParsedTimeStampToken> {
  return requestTimestamp(tsa.url, {
    digest,
    hash: tsa.hash ?? 'sha256',
    ...(tsa.timeoutMs ? { timeoutMs: tsa.timeoutMs } : {}),
    ...(tsa.headers ? { headers: tsa.headers } : {}),
  });
}

/** A token over `data`. */
export function timestampData(tsa: TsaOptions, data: Buffer): Promise<ParsedTimeStampToken> {
  return timestampDigest(
    tsa,
    createHash(tsa.hash ?? 'sha256')
      .update(data)
      .digest(),
  );
}

/** Reserve for a token: TSTInfo, the TSA's signature and its certificate chain. */
export const TIMESTAMP_RESERVE = 12 * 1024;
