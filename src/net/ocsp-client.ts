/**
 * Ask an OCSP responder about one certificate (RFC 6960 §4.1, HTTP binding of §A.1): POST with a fresh nonce
 * (RFC 8954), bounded response size and a deadline. The answer is returned as DER, unverified: deciding
 * whether it can be trusted is the validation layer's job (src/validation/ocsp-check.ts).
 */
import { randomBytes } from 'node:crypto';
import { buildOcspRequest } from '../pkix/ocsp.js';
import { httpPost } from './http-post.js';
import { isResponseTooLarge } from './http-exchange.js';

export const MAX_OCSP_RESPONSE_BYTES = 1024 * 1024;

/**
 * `unreachable`: no answer (network, timeout, HTTP error status) — revocation policy may soft-fail.
 * `bad-response`: the responder answered with something that is not an OCSP response.
 */
export class OcspFetchError extends Error {
  override name = 'OcspFetchError';
  constructor(
    readonly kind: 'unreachable' | 'bad-response',
    message: string,
  ) {
    super(message);
  }
}

export interface OcspFetchResult {
  /** The OCSPResponse DER. */
  der: Buffer;
  /** The raw nonce we sent; compare with encodeOcspNonce(nonce) against the response's nonce. */
  nonce?: Buffer;
}

export async function fetchOcspResponse(p: {
  url: string;
  issuerCertificate: Buffer;
  serialHex: string;
  /** Default true. Pre-signed responders (RFC 5019) may ignore it. */
  useNonce?: boolean;
  timeoutMs?: number;
}): Promise<OcspFetchResult> {
  const nonce = p.useNonce === false ? undefined : randomBytes(16);
  const request = buildOcspRequest({
    issuerCertificate: p.issuerCertificate,
    serialHex: p.serialHex,
    ...(nonce ? { nonce } : {}),
  });
  let res;
  try {
    res = await httpPost(p.url, request, {
      contentType: 'application/ocsp-request',
      accept: 'application/ocsp-response',
      timeoutMs: p.timeoutMs ?? 5000,
      maxResponseBytes: MAX_OCSP_RESPONSE_BYTES,
    });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const tooBig = isResponseTooLarge(e);
    throw new OcspFetchError(tooBig ? 'bad-response' : 'unreachable', `OCSP ${message}`);
  }
  if (res.status !== 200) {
    throw new OcspFetchError('unreachable', `OCSP responder ${p.url} answered HTTP ${res.status}`);
  }
  if (res.body[0] !== 0x30) {
    throw new OcspFetchError('bad-response', `OCSP responder ${p.url} did not return a DER OCSP response`);
  }
  return nonce ? { der: res.body, nonce } : { der: res.body };
}
