/**
 * A small HTTP(S) POST for protocol clients (RFC 3161 TSA, RFC 6960 OCSP): binary body out, binary body in,
 * with an overall deadline and a response size bound so a slow or hostile server cannot hold us or fill memory.
 * Redirects are not followed: a TSA or OCSP URL that redirects is a configuration error worth seeing.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

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

export interface HttpPostResult {
  status: number;
  contentType?: string;
  body: Buffer;
}

export function httpPost(url: string, body: Uint8Array, options: HttpPostOptions): Promise<HttpPostResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(new HttpPostError(`"${url}" is not a valid URL`));
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    return Promise.reject(
      new HttpPostError(`${target.protocol} URLs are not supported; use http: or https:`),
    );
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxResponseBytes ?? 1024 * 1024;
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise((resolve, reject) => {
    const req = send(target, {
      method: 'POST',
      headers: {
        ...options.headers,
        'content-type': options.contentType,
        'content-length': String(body.length),
        ...(options.accept ? { accept: options.accept } : {}),
      },
    });
    const timer = setTimeout(
      () => req.destroy(new HttpPostError(`no complete answer from ${target.origin} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(
        err instanceof HttpPostError
          ? err
          : new HttpPostError(`POST to ${target.origin} failed: ${err.message}`),
      );
    };
    req.on('error', fail);
    req.on('response', (res: IncomingMessage) => {
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > maxBytes) {
        req.destroy(
          new HttpPostError(`response of ${declared} bytes from ${target.origin} exceeds ${maxBytes} bytes`),
        );
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > maxBytes) {
          req.destroy(new HttpPostError(`response from ${target.origin} exceeds ${maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        const contentType = res.headers['content-type'];
        resolve({
          status: res.statusCode ?? 0,
          ...(contentType ? { contentType } : {}),
          body: Buffer.concat(chunks),
        });
      });
    });
    req.end(body);
  });
}
