import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpPostError, httpPost } from '../../src/net/http-post.js';
import { TsaClientError, requestTimestamp } from '../../src/net/tsa-client.js';
import {
  TimeStampSigner,
  TspRequestError,
  parseTimeStampRequest,
  timeStampRejection,
  type TimeStampRequest,
} from '../../src/pkix/tsp.js';
import { makeInProcessPki, type InProcessPki } from '../pkix/ocsp-tsp-oracle.js';

const POLICY = '1.3.6.1.4.1.55555.1.1';
type Handler = (body: Buffer, res: ServerResponse) => Promise<void> | void;

describe('TSA client against a node:http TSA using TimeStampSigner', () => {
  let pki: InProcessPki;
  let signer: TimeStampSigner;
  let server: Server;
  let url: string;
  let handler: Handler;
  let serial = 1n;
  const digest = createHash('sha256').update('a statement').digest();

  const reply = (res: ServerResponse, der: Buffer, type = 'application/timestamp-reply') => {
    res.writeHead(200, { 'content-type': type, 'content-length': der.length });
    res.end(der);
  };
  /** An honest TSA, with an optional hook that tampers with the parsed request before signing. */
  const tsa =
    (tamper: (req: TimeStampRequest) => TimeStampRequest = (r) => r): Handler =>
    async (body, res) => {
      let req: TimeStampRequest;
      try {
        req = parseTimeStampRequest(body);
      } catch (e) {
        if (e instanceof TspRequestError) return reply(res, timeStampRejection(e.failInfo, e.message));
        throw e;
      }
      reply(res, await signer.sign(tamper(req), serial++, new Date()));
    };

  beforeAll(async () => {
    pki = await makeInProcessPki();
    signer = new TimeStampSigner({
      certificate: pki.tsa.der,
      key: pki.tsa.key,
      hash: 'sha256',
      policy: POLICY,
    });
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on(
        'end',
        () => void Promise.resolve(handler(Buffer.concat(chunks), res)).catch(() => res.destroy()),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tsa`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('gets and verifies a token: imprint, nonce, policy, TSA certificate', async () => {
    handler = tsa();
    const token = await requestTimestamp(url, { digest, hash: 'sha256', policy: POLICY });
    expect(token.messageImprint.equals(digest)).toBe(true);
    expect(token.policy).toBe(POLICY);
    expect(token.nonce).toHaveLength(8);
    expect(token.signerCertificate?.equals(pki.tsa.der)).toBe(true);
    expect(Math.abs(token.genTime.getTime() - Date.now())).toBeLessThan(5000);
    const second = await requestTimestamp(url, { digest, hash: 'sha256' });
    expect(second.nonce?.equals(token.nonce!)).toBe(false);
    expect(second.serial).toBe(token.serial + 1n);
  });

  it('without certReq the caller supplies the TSA certificate', async () => {
    handler = tsa();
    await expect(requestTimestamp(url, { digest, hash: 'sha256', certReq: false })).rejects.toThrow(
      /does not verify/,
    );
    const token = await requestTimestamp(url, {
      digest,
      hash: 'sha256',
      certReq: false,
      signerCertificate: pki.tsa.der,
    });
    expect(token.certificates).toEqual([]);
  });

  it('refuses a reply that echoes a wrong nonce', async () => {
    handler = tsa((r) => ({ ...r, nonce: Buffer.from('0102030405060708', 'hex') }));
    await expect(requestTimestamp(url, { digest, hash: 'sha256' })).rejects.toThrow(/did not echo our nonce/);
  });

  it('refuses a token over a different imprint', async () => {
    handler = tsa((r) => ({ ...r, messageImprint: Buffer.alloc(32, 1), messageImprintDer: undefined }));
    await expect(requestTimestamp(url, { digest, hash: 'sha256' })).rejects.toThrow(
      /message imprint mismatch/,
    );
  });

  it('reports a rejection with its status string and failInfo', async () => {
    handler = (_body, res) =>
      reply(res, timeStampRejection('unacceptedPolicy', 'policy 1.2.3 is not offered'));
    await expect(requestTimestamp(url, { digest, hash: 'sha256', policy: '1.2.3' })).rejects.toThrow(
      /refused: rejection \(policy 1\.2\.3 is not offered, failInfo unacceptedPolicy\)/,
    );
  });

  it('reports HTTP errors, wrong content types, garbage and timeouts clearly', async () => {
    handler = (_body, res) => {
      res.writeHead(503);
      res.end();
    };
    await expect(requestTimestamp(url, { digest, hash: 'sha256' })).rejects.toThrow(/HTTP 503/);
    handler = (_body, res) => reply(res, Buffer.from('<html>'), 'text/html');
    await expect(requestTimestamp(url, { digest, hash: 'sha256' })).rejects.toThrow(
      /content type text\/html/,
    );
    handler = (_body, res) => reply(res, Buffer.from('not DER'));
    await expect(requestTimestamp(url, { digest, hash: 'sha256' })).rejects.toThrow(TsaClientError);
    handler = () => undefined; // never answers
    const started = Date.now();
    await expect(requestTimestamp(url, { digest, hash: 'sha256', timeoutMs: 200 })).rejects.toThrow(
      /within 200 ms/,
    );
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(requestTimestamp(url, { digest: Buffer.alloc(20), hash: 'sha256' })).rejects.toThrow(
      /32 bytes/,
    );
  });

  it('httpPost bounds the response size and rejects unsupported URLs', async () => {
    handler = (_body, res) => reply(res, Buffer.alloc(4096));
    await expect(
      httpPost(url, Buffer.alloc(1), { contentType: 'x/y', maxResponseBytes: 1000 }),
    ).rejects.toThrow(HttpPostError);
    await expect(httpPost('ftp://example.org/', Buffer.alloc(1), { contentType: 'x/y' })).rejects.toThrow(
      /not supported/,
    );
    const ok = await httpPost(url, Buffer.alloc(1), { contentType: 'x/y' });
    expect(ok).toMatchObject({ status: 200, contentType: 'application/timestamp-reply' });
    expect(ok.body).toHaveLength(4096);
  });
});
