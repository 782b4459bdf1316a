import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CaError } from '../ca/ca-service.js';
import { ApiKeyError } from './api-keys.js';
import { Asn1Error, CsrError } from '../pkix/errors.js';
import { PdfError } from '../pdf/errors.js';
import { PdfSignError } from '../pdf/sign/errors.js';
import { PdfWriteError } from '../pdf/writer/errors.js';
import { TsaClientError } from '../net/tsa-client.js';

/** The one error shape every endpoint returns: `{ error: { code, message } }` with a message that says what to fix. */
export interface ApiErrorBody {
  error: { code: string; message: string };
}

/** JSON schema of ApiErrorBody, for route response declarations (OpenAPI at /docs). */
export const errorSchema = {
  type: 'object',
  properties: {
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
} as const;

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function errorHandler(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  const { status, code, message } = classify(err);
  if (status >= 500)
    request.log.error({ err, reqId: request.id, method: request.method, url: request.url }, 'request failed');
  void reply
    .status(status)
    .type('application/json')
    .send({ error: { code, message } } satisfies ApiErrorBody);
}

function classify(err: FastifyError | Error): { status: number; code: string; message: string } {
  if (err instanceof HttpError) return { status: err.statusCode, code: err.code, message: err.message };
  if (err instanceof CaError) {
    const status = { invalid: 400, 'not-found': 404, conflict: 409, 'not-initialised': 503 }[err.kind];
    return { status, code: `ca_${err.kind.replace('-', '_')}`, message: err.message };
  }
  if (err instanceof CsrError) return { status: 400, code: 'bad_csr', message: err.message };
  if (err instanceof Asn1Error) return { status: 400, code: 'bad_der', message: err.message };
  // A PDF that cannot be read, signed or rewritten is the caller's document, not a server fault.
  if (err instanceof PdfError || err instanceof PdfSignError || err instanceof PdfWriteError) {
    return { status: 400, code: 'bad_pdf', message: err.message };
  }
  if (err instanceof TsaClientError) return { status: 502, code: 'tsa_unavailable', message: err.message };
  if (err instanceof ApiKeyError) return { status: 400, code: 'bad_api_key_request', message: err.message };
  const fe = err as FastifyError;
  if (fe.validation)
    return { status: 400, code: 'invalid_request', message: `invalid request: ${fe.message}` };
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return { status: 413, code: 'body_too_large', message: 'request body too large' };
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return { status: 415, code: 'unsupported_media_type', message: fe.message };
  if (
    fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
    fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    err instanceof SyntaxError
  ) {
    return { status: 400, code: 'invalid_json', message: 'request body is not valid JSON' };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, code: fe.code ?? 'bad_request', message: fe.message };
  }
  return { status: 500, code: 'internal_error', message: 'internal error; the server log has the details' };
}
