import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OcspFetchError, fetchOcspResponse } from '../../src/net/ocsp-client.js';
import { parseCertificate } from '../../src/pkix/certificate.js';
import { encodeOcspNonce, parseOcspResponse } from '../../src/pkix/ocsp.js';
import { haveOracle } from '../helpers/run.js';
import { freePort, makeOpensslPki, type OpensslPki } from '../validation/openssl-pki.js';

const hasOpenssl = haveOracle('openssl');

describe.skipIf(!hasOpenssl)('fetchOcspResponse against openssl ocsp and misbehaving servers', () => {
  let pki: OpensslPki;
  let server: Server;
  let base: string;
  const routes = new Map<string, (res: ServerResponse) => void>();

  beforeAll(async () => {
    pki = await makeOpensslPki();
    await pki.startOcspResponder();
    routes.set('/error', (res) => res.writeHead(500).end('oops'));
    routes.set('/html', (res) => res.end('<html>login</html>'));
    routes.set('/huge', (res) => {
      res.writeHead(200, { 'content-length': String(2 * 1024 * 1024) });
      res.write(Buffer.alloc(16));
    });
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const route = routes.get(req.url ?? '');
        if (route) route(res);
        else res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await pki?.close();
  });

  it('gets good and revoked answers, with our nonce echoed, from a real OpenSSL responder', async () => {
    const ask = (leaf: 'alice' | 'bob') =>
      fetchOcspResponse({
        url: pki.ocspUrl,
        issuerCertificate: pki.der('int'),
        serialHex: parseCertificate(pki.der(leaf)).serialHex,
      });
    const good = await ask('alice');
    const parsed = parseOcspResponse(good.der);
    expect(parsed.status).toBe('successful');
    expect(parsed.answers[0]?.status.status).toBe('good');
    expect(parsed.nonce?.equals(encodeOcspNonce(good.nonce as Buffer))).toBe(true);
    expect(parsed.signatureValid).toBe(true);
    const revoked = parseOcspResponse((await ask('bob')).der);
    expect(revoked.answers[0]?.status).toMatchObject({ status: 'revoked', reason: 'keyCompromise' });
    const noNonce = await fetchOcspResponse({
      url: pki.ocspUrl,
      issuerCertificate: pki.der('int'),
      serialHex: parseCertificate(pki.der('alice')).serialHex,
      useNonce: false,
    });
    expect(noNonce.nonce).toBeUndefined();
    expect(parseOcspResponse(noNonce.der).nonce).toBeUndefined();
  });

  it('tells "unreachable" (may soft-fail) from "bad-response"', async () => {
    const kind = async (url: string) => {
      try {
        await fetchOcspResponse({
          url,
          issuerCertificate: pki.der('int'),
          serialHex: '1000',
          timeoutMs: 1000,
        });
        return 'ok';
      } catch (e) {
        expect(e).toBeInstanceOf(OcspFetchError);
        return `${(e as OcspFetchError).kind}: ${(e as Error).message}`;
      }
    };
    expect(await kind(`${base}/error`)).toMatch(/^unreachable: .*answered HTTP 500/);
    expect(await kind(`http://127.0.0.1:${await freePort()}/`)).toMatch(/^unreachable: .*ECONNREFUSED/);
    expect(await kind(`${base}/html`)).toMatch(/^bad-response: .*did not return a DER OCSP response/);
    expect(await kind(`${base}/huge`)).toMatch(/^bad-response: .*more than the 1048576-byte limit/);
  });
});
