/** Fetch a CRL from a cRLDistributionPoints URL (RFC 5280 §4.2.1.13): DER, or PEM as some servers publish. */
import { fromPem } from '../pkix/pem.js';
import { httpGet } from './http-get.js';
import { isResponseTooLarge } from './http-exchange.js';

/** Large CAs publish CRLs of several MiB; beyond this we refuse rather than hold the whole thing in memory. */
export const MAX_FETCHED_CRL_BYTES = 20 * 1024 * 1024;

/**
 * `unreachable`: no answer (network, timeout, HTTP error status) — revocation policy may soft-fail.
 * `bad-response`: an answer that is not a CRL (or is too large) — never soft-failed.
 */
export class CrlFetchError extends Error {
  override name = 'CrlFetchError';
  constructor(
    readonly kind: 'unreachable' | 'bad-response',
    message: string,
  ) {
    super(message);
  }
}

export async function fetchCrl(
  url: string,
  opts: { timeoutMs?: number; maxBytes?: number } = {},
): Promise<Buffer> {
  const maxBytes = opts.maxBytes ?? MAX_FETCHED_CRL_BYTES;
  let res;
  try {
    res = await httpGet(url, { timeoutMs: opts.timeoutMs ?? 5000, maxResponseBytes: maxBytes });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const tooBig = isResponseTooLarge(e);
    throw new CrlFetchError(tooBig ? 'bad-response' : 'unreachable', `CRL ${message}`);
  }
  if (res.status !== 200) {
    throw new CrlFetchError('unreachable', `CRL distribution point ${url} answered HTTP ${res.status}`);
  }
  if (res.body[0] === 0x30) return res.body;
  const text = res.body.subarray(0, 64).toString('latin1');
  if (text.startsWith('-----BEGIN')) {
    const block = fromPem(res.body.toString('latin1')).find(
      (b) => b.label === 'X509 CRL' || b.label === 'CRL',
    );
    if (block) return block.der;
  }
  throw new CrlFetchError('bad-response', `${url} did not return a CRL (neither DER nor PEM "X509 CRL")`);
}
