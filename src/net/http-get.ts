/**
 * A small HTTP(S) GET for fetching CRLs and CA certificates (RFC 5280 §4.2.1.13, §4.2.2.1): an overall deadline
 * and a response size bound, so a slow or hostile distribution point cannot hold us or fill memory. Redirects
 * are not followed (RFC 5280 publishes exact URLs; a redirect usually means a misconfigured server).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

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

export interface HttpGetResult {
  status: number;
  contentType?: string;
  body: Buffer;
}

export function httpGet(url: string, options: HttpGetOptions = {}): Promise<HttpGetResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(new HttpGetError(`"${url}" is not a valid URL`));
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    return Promise.reject(new HttpGetError(`${target.protocol} URLs are not supported; use http: or https:`));
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxResponseBytes ?? 1024 * 1024;
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise((resolve, reject) => {
    let settled = false;
    const req = send(target, { method: 'GET', headers: options.accept ? { accept: options.accept } : {} });
    const timer = setTimeout(
      () => req.destroy(new HttpGetError(`no complete answer from ${target.origin} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      reject(err instanceof HttpGetError ? err : new HttpGetError(`GET ${url} failed: ${err.message}`));
    };
    req.on('error', fail);
    req.on('response', (res: IncomingMessage) => {
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > maxBytes) {
        req.destroy(
          new HttpGetError(`${url} announces ${declared} bytes, more than the ${maxBytes}-byte limit`),
        );
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > maxBytes) {
          req.destroy(new HttpGetError(`${url} sent more than the ${maxBytes}-byte limit`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        const contentType = res.headers['content-type'];
        resolve({
          status: res.statusCode ?? 0,
          ...(contentType ? { contentType } : {}),
          body: Buffer.concat(chunks),
        });
      });
    });
    req.end();
  });
}
