import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrlFetchError, fetchCrl } from '../../src/net/crl-client.js';
import { parseCrl } from '../../src/pkix/crl.js';
import { toPem } from '../../src/pkix/pem.js';
import { haveOracle } from '../helpers/run.js';
import { freePort, makeOpensslPki, type OpensslPki } from '../validation/openssl-pki.js';

const hasOpenssl = haveOracle('openssl');

describe.skipIf(!hasOpenssl)('fetchCrl over HTTP', () => {
  let pki: OpensslPki;
  let server: Server;
  let base: string;
  const routes = new Map<string, (res: ServerResponse) => void>();

  beforeAll(async () => {
    pki = await makeOpensslPki();
    routes.set('/der', (res) => res.end(pki.crlDer));
    routes.set('/pem', (res) => res.end(toPem(pki.crlDer, 'X509 CRL')));
    routes.set('/html', (res) => res.end('<html>maintenance</html>'));
    routes.set('/huge', (res) => {
      // Announce 64 MiB and send a little: the client must refuse on the header alone.
      res.writeHead(200, { 'content-length': String(64 * 1024 * 1024) });
      res.write(Buffer.alloc(16));
    });
    routes.set('/stream', (res) => {
      // No length announced (chunked): the client must count and stop.
      res.write(Buffer.alloc(2 * 1024 * 1024, 0x30));
      res.end();
    });
    routes.set('/slow', () => undefined); // never answers
    server = createServer((req, res) => {
      const route = routes.get(req.url ?? '');
      if (route) route(res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await pki?.close();
  });

  it('reads a DER and a PEM CRL made by openssl ca -gencrl', async () => {
    const der = await fetchCrl(`${base}/der`);
    expect(der.equals(pki.crlDer)).toBe(true);
    expect(parseCrl(der).revoked).toHaveLength(1);
    expect((await fetchCrl(`${base}/pem`)).equals(pki.crlDer)).toBe(true);
    // The fixture's own distribution point, as named in the leaves' CRLDP.
    expect((await fetchCrl(pki.crlUrl)).equals(pki.crlDer)).toBe(true);
  });

  it('tells "unreachable" (may soft-fail) from "bad-response"', async () => {
    const kind = async (url: string, opts?: { timeoutMs?: number; maxBytes?: number }) => {
      try {
        await fetchCrl(url, opts);
        return 'ok';
      } catch (e) {
        expect(e).toBeInstanceOf(CrlFetchError);
        return `${(e as CrlFetchError).kind}: ${(e as Error).message}`;
      }
    };
    expect(await kind(`${base}/missing`)).toMatch(/^unreachable: .*answered HTTP 404/);
    expect(await kind(`http://127.0.0.1:${await freePort()}/x.crl`)).toMatch(/^unreachable: .*ECONNREFUSED/);
    expect(await kind(`${base}/slow`, { timeoutMs: 300 })).toMatch(/^unreachable: .*within 300 ms/);
    expect(await kind(`${base}/html`)).toMatch(/^bad-response: .*did not return a CRL/);
    expect(await kind(`${base}/huge`)).toMatch(
      /^bad-response: .*announces 67108864 bytes, more than the 20971520-byte limit/,
    );
    expect(await kind(`${base}/stream`, { maxBytes: 1024 * 1024 })).toMatch(
      /^bad-response: .*more than the 1048576-byte limit/,
    );
    expect(await kind('ldap://directory.example/cn=CA')).toMatch(
      /^unreachable: .*ldap: URLs are not supported/,
    );
  });
});
