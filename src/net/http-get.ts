/** A bounded HTTP(S) GET for fetching CRLs and CA certificates (see http-exchange.ts for the bounds). */
import { httpExchange, type HttpResult } from './http-exchange.js';

export class HttpGetError extends Error {
  override name = 'HttpGetError';
}

export interface HttpGetOptions {
  /** Deadline for the whole exchange (connect, send, receive). Default 10 s. */
  timeoutMs?: number;
  /** Default 1 MiB. */
  maxResponseBytes?: number;
  accept?: string;
}

export type HttpGetResult = HttpResult;

export function httpGet(url: string, options: HttpGetOptions = {}): Promise<HttpGetResult> {
  return httpExchange(
    {
      method: 'GET',
      url,
      headers: options.accept ? { accept: options.accept } : {},
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.maxResponseBytes !== undefined ? { maxResponseBytes: options.maxResponseBytes } : {}),
    },
    HttpGetError,
  );
}
