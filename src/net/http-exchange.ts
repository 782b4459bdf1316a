/**
 * One bounded HTTP(S) request for the protocol clients (TSA, OCSP, CRL and CA-certificate fetches): an
 * overall deadline and a response size bound, so a slow or hostile server cannot hold us or fill memory.
 * Redirects are not followed: PKI URLs are published exactly (RFC 5280 §4.2.1.13, §4.2.2.1), and a
 * TSA or OCSP URL that redirects is a configuration error worth seeing.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpResult {
  status: number;
  contentType?: string;
  body: Buffer;
}

export interface HttpExchange {
  method: 'GET' | 'POST';
  url: string;
  body?: Uint8Array;
  headers?: Record<string, string>;
  /** Deadline for the whole exchange (connect, send, receive). Default 10 s. */
  timeoutMs?: number;
  /** Default 1 MiB. */
  maxResponseBytes?: number;
}

const TOO_LARGE = Symbol('response too large');

/** True for the error an exchange ends with when the answer broke the size bound (a bad response, not a network fault). */
export function isResponseTooLarge(err: unknown): boolean {
  return typeof err === 'object' && err !== null && TOO_LARGE in err;
}

/** Run the exchange; every failure is an instance of `errorClass` with a one-line message. */
export function httpExchange(
  x: HttpExchange,
  errorClass: new (message: string) => Error,
): Promise<HttpResult> {
  let target: URL;
  try {
    target = new URL(x.url);
  } catch {
    return Promise.reject(new errorClass(`"${x.url}" is not a valid URL`));
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    return Promise.reject(new errorClass(`${target.protocol} URLs are not supported; use http: or https:`));
  }
  const timeoutMs = x.timeoutMs ?? 10_000;
  const maxBytes = x.maxResponseBytes ?? 1024 * 1024;
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const where = `${x.method} ${x.method === 'GET' ? x.url : target.origin}`;

  const tooLarge = (message: string): Error => Object.assign(new errorClass(message), { [TOO_LARGE]: true });

  return new Promise((resolve, reject) => {
    let settled = false;
    const req = send(target, { method: x.method, headers: x.headers ?? {} });
    const timer = setTimeout(
      () => req.destroy(new errorClass(`no complete answer from ${target.origin} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      reject(err instanceof errorClass ? err : new errorClass(`${where} failed: ${(err as Error).message}`));
    };
    req.on('error', fail);
    req.on('response', (res: IncomingMessage) => {
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > maxBytes) {
        req.destroy(
          tooLarge(`${where}: the answer announces ${declared} bytes, more than the ${maxBytes}-byte limit`),
        );
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > maxBytes) {
          req.destroy(tooLarge(`${where}: the answer is more than the ${maxBytes}-byte limit`));
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
    req.end(x.body);
  });
}
