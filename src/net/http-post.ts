/** A bounded HTTP(S) POST for protocol clients (RFC 3161 TSA, RFC 6960 OCSP); see http-exchange.ts. */
import { httpExchange, type HttpResult } from './http-exchange.js';

export class HttpPostError extends Error {
  override name = 'HttpPostError';
}

export interface HttpPostOptions {
  contentType: string;
  accept?: string;
  /** Deadline for the whole exchange (connect, send, receive). Default 10 s. */
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** Default 1 MiB. */
  maxResponseBytes?: number;
}

export type HttpPostResult = HttpResult;

export function httpPost(url: string, body: Uint8Array, options: HttpPostOptions): Promise<HttpPostResult> {
  return httpExchange(
    {
      method: 'POST',
      url,
      body,
      headers: {
        ...options.headers,
        'content-type': options.contentType,
        'content-length': String(body.length),
        ...(options.accept ? { accept: options.accept } : {}),
      },
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.maxResponseBytes !== undefined ? { maxResponseBytes: options.maxResponseBytes } : {}),
    },
    HttpPostError,
  );
}
