/**
 * RFC 3161 client over HTTP (§3.4): sends a TimeStampReq with a random 64-bit nonce and accepts the answer only
 * if it is granted, carries a token whose signature, ESS signing-certificate binding and imprint verify, and
 * echoes our nonce (and policy, when one was asked for). Trusting the TSA certificate (path, revocation) is the
 * validation layer's job.
 */
import { randomBytes } from 'node:crypto';
import type { HashAlgorithm } from '../crypto/key-handle.js';
import { HASH_LENGTH } from '../pkix/algorithms.js';
import {
  TspResponseError,
  TspVerifyError,
  buildTimeStampRequest,
  parseTimeStampResponse,
  verifyTimeStampToken,
  type ParsedTimeStampToken,
} from '../pkix/tsp.js';
import { HttpPostError, httpPost } from './http-post.js';

export class TsaClientError extends Error {
  override name = 'TsaClientError';
}

const PKI_STATUS = [
  'granted',
  'grantedWithMods',
  'rejection',
  'waiting',
  'revocationWarning',
  'revocationNotification',
];

export interface TimestampRequestOptions {
  digest: Buffer;
  hash: HashAlgorithm;
  /** Ask the TSA to include its certificate (default true): needed to verify unless signerCertificate is given. */
  certReq?: boolean;
  policy?: string;
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** The TSA certificate, when the token is requested without certReq. */
  signerCertificate?: Buffer;
}

/** A positive, minimally encoded 64-bit INTEGER content (RFC 3161 §2.4.1 nonce). */
function randomNonce(): Buffer {
  const nonce = randomBytes(8);
  nonce[0] = (nonce[0] as number) & 0x7f || 0x01;
  return nonce;
}

export async function requestTimestamp(
  url: string,
  p: TimestampRequestOptions,
): Promise<ParsedTimeStampToken> {
  if (p.digest.length !== HASH_LENGTH[p.hash]) {
    throw new TsaClientError(`a ${p.hash} digest is ${HASH_LENGTH[p.hash]} bytes, not ${p.digest.length}`);
  }
  const nonce = randomNonce();
  const certReq = p.certReq ?? true;
  const query = buildTimeStampRequest({
    hash: p.hash,
    digest: p.digest,
    nonce,
    certReq,
    ...(p.policy ? { policy: p.policy } : {}),
  });

  let reply;
  try {
    reply = await httpPost(url, query, {
      contentType: 'application/timestamp-query',
      accept: 'application/timestamp-reply',
      timeoutMs: p.timeoutMs ?? 10_000,
      ...(p.headers ? { headers: p.headers } : {}),
    });
  } catch (e) {
    if (e instanceof HttpPostError) throw new TsaClientError(`TSA ${url} unreachable: ${e.message}`);
    throw e;
  }
  if (reply.status !== 200)
    throw new TsaClientError(`TSA ${url} answered HTTP ${reply.status}, expected 200`);
  const type = reply.contentType?.split(';')[0]?.trim().toLowerCase();
  if (type && type !== 'application/timestamp-reply' && type !== 'application/timestamp-response') {
    throw new TsaClientError(
      `TSA ${url} answered with content type ${type}, expected application/timestamp-reply`,
    );
  }

  let response;
  try {
    response = parseTimeStampResponse(reply.body);
  } catch (e) {
    if (e instanceof TspResponseError)
      throw new TsaClientError(`TSA ${url} sent an unreadable reply: ${e.message}`);
    throw e;
  }
  if (response.status !== 0 && response.status !== 1) {
    const detail = [response.statusString, response.failInfo && `failInfo ${response.failInfo}`]
      .filter(Boolean)
      .join(', ');
    throw new TsaClientError(
      `TSA ${url} refused: ${PKI_STATUS[response.status] ?? response.status}${detail ? ` (${detail})` : ''}`,
    );
  }
  if (!response.token) throw new TsaClientError(`TSA ${url} granted the request but sent no token`);

  let token: ParsedTimeStampToken;
  try {
    token = verifyTimeStampToken(response.token.token, {
      digest: p.digest,
      ...(p.signerCertificate ? { signerCertificate: p.signerCertificate } : {}),
    });
  } catch (e) {
    if (e instanceof TspVerifyError)
      throw new TsaClientError(`TSA ${url} sent a token that does not verify: ${e.message}`);
    throw e;
  }
  if (token.hash !== p.hash)
    throw new TsaClientError(`TSA ${url} timestamped with ${token.hash}, not the requested ${p.hash}`);
  if (!token.nonce?.equals(nonce)) {
    throw new TsaClientError(
      `TSA ${url} did not echo our nonce: the reply may be replayed or for another request`,
    );
  }
  if (p.policy && token.policy !== p.policy) {
    throw new TsaClientError(`TSA ${url} issued under policy ${token.policy}, not the requested ${p.policy}`);
  }
  return token;
}
