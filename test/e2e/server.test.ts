import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/util/logger.js';
import { openSealpost, type Sealpost } from '../../src/app/context.js';
import { initialise } from '../../src/app/init.js';
import { startServer, type RunningServer } from '../../src/app/runtime.js';
import { freePort } from '../../src/app/free-port.js';
import { run, haveOracle } from '../helpers/run.js';

const hasOpenssl = haveOracle('openssl');

describe('sealpost serve: public PKI endpoints and REST API', () => {
  let dir: string;
  let ctx: Sealpost;
  let server: RunningServer;
  let base: string;
  let admin: string;
  let chain: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealpost-srv-'));
    const port = await freePort('127.0.0.1');
    const config = loadConfig({ dataDir: join(dir, 'data'), env: {}, overrides: { port } });
    ctx = await openSealpost(config, createLogger('silent'), { createMasterKey: true });
    const init = await initialise(ctx, { orgName: 'Server Test Bank', actor: 'test' });
    admin = (await readFile(init.adminKeyFile ?? '', 'utf8')).trim();
    server = await startServer(ctx, {
      roles: ['ca', 'ocsp', 'tsa', 'api'],
      host: '127.0.0.1',
      port,
      pollMs: 200,
    });
    base = server.url;
    chain = join(dir, 'chain.pem');
    await writeFile(chain, await ctx.ca.chainPem());
    await writeFile(join(dir, 'root.pem'), await (await fetch(`${base}/ca/root.pem`)).text());
    await writeFile(join(dir, 'issuing.pem'), await (await fetch(`${base}/ca/issuing.pem`)).text());
  });
  afterAll(async () => {
    await server?.close();
    await ctx?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const api = (path: string, init: RequestInit & { key?: string } = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(init.key !== '' ? { authorization: `Bearer ${init.key ?? admin}` } : {}),
        ...(init.headers ?? {}),
      },
    });

  async function issueFromCsr(email: string): Promise<{ serial: string; pem: string; file: string }> {
    const key = join(dir, `${email}.key`);
    const csrFile = join(dir, `${email}.csr`);
    await run('openssl', [
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      csrFile,
      '-subj',
      `/CN=${email}`,
    ]);
    const res = await api('/v1/certificates', {
      method: 'POST',
      body: JSON.stringify({ email, csr: await readFile(csrFile, 'utf8'), usage: 'signing' }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { certificates: { serial: string; pem: string }[] };
    const cert = body.certificates[0];
    if (!cert) throw new Error('no certificate returned');
    const file = join(dir, `${email}.pem`);
    await writeFile(file, cert.pem);
    return { ...cert, file };
  }

  async function ocspStatus(certFile: string, extra: string[] = []): Promise<{ code: number; out: string }> {
    const r = await run('openssl', [
      'ocsp',
      '-url',
      `${base}/ocsp`,
      '-issuer',
      join(dir, 'issuing.pem'),
      '-cert',
      certFile,
      '-CAfile',
      join(dir, 'root.pem'),
      '-verify_other',
      join(dir, 'issuing.pem'),
      ...extra,
    ]);
    return { code: r.code, out: r.stdout + r.stderr };
  }

  it.skipIf(!hasOpenssl)(
    'OCSP over HTTP: good, then revoked after revocation through the API, unknown for strangers',
    async () => {
      const cert = await issueFromCsr('dora@bank.example');
      const good = await ocspStatus(cert.file);
      expect(good.out).toContain('Response verify OK');
      expect(good.out).toMatch(/: good/);

      const revoked = await api(`/v1/certificates/${cert.serial}/revoke`, {
        method: 'POST',
        body: JSON.stringify({ reason: 'keyCompromise' }),
      });
      expect(revoked.status).toBe(200);
      const after = await ocspStatus(cert.file);
      expect(after.out).toContain('Response verify OK');
      expect(after.out).toMatch(/: revoked/);
      expect(after.out).toContain('Reason: keyCompromise');

      // A certificate this CA never issued (same issuer name and key, made up serial) is "unknown".
      const stranger = await run('openssl', [
        'ocsp',
        '-url',
        `${base}/ocsp`,
        '-issuer',
        join(dir, 'issuing.pem'),
        '-serial',
        '0x0123456789abcdef',
        '-CAfile',
        join(dir, 'root.pem'),
        '-verify_other',
        join(dir, 'issuing.pem'),
      ]);
      expect(stranger.stdout + stranger.stderr).toContain('Response verify OK');
      expect(stranger.stdout).toMatch(/: unknown/);
    },
  );

  it.skipIf(!hasOpenssl)(
    'OCSP GET (RFC 5019) carries caching headers; nonce requests are answered fresh',
    async () => {
      const cert = await issueFromCsr('erin@bank.example');
      const reqFile = join(dir, 'erin.ocspreq');
      await run('openssl', [
        'ocsp',
        '-issuer',
        join(dir, 'issuing.pem'),
        '-cert',
        cert.file,
        '-no_nonce',
        '-reqout',
        reqFile,
      ]);
      const b64 = (await readFile(reqFile)).toString('base64');
      const res = await fetch(`${base}/ocsp/${encodeURIComponent(b64)}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/ocsp-response');
      expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/);
      expect(res.headers.get('etag')).toBeTruthy();
      const respFile = join(dir, 'erin.ocspresp');
      await writeFile(respFile, Buffer.from(await res.arrayBuffer()));
      const check = await run('openssl', [
        'ocsp',
        '-respin',
        respFile,
        '-issuer',
        join(dir, 'issuing.pem'),
        '-cert',
        cert.file,
        '-CAfile',
        join(dir, 'root.pem'),
        '-verify_other',
        join(dir, 'issuing.pem'),
      ]);
      expect(check.stdout + check.stderr).toContain('Response verify OK');
      // The pre-signed answer is served again byte for byte.
      const again = await fetch(`${base}/ocsp/${encodeURIComponent(b64)}`);
      expect(Buffer.from(await again.arrayBuffer()).equals(await readFile(respFile))).toBe(true);

      const withNonce = await ocspStatus(cert.file);
      expect(withNonce.out).toContain('Response verify OK');
      expect(withNonce.out).not.toContain('WARNING: no nonce');
    },
  );

  it.skipIf(!hasOpenssl)(
    'TSA over HTTP: openssl ts -verify accepts our tokens for SHA-256, SHA-384 and SHA-512',
    async () => {
      const dataFile = join(dir, 'statement.txt');
      await writeFile(dataFile, 'Statement for account 42, November 2026\n');
      const tsaChain = join(dir, 'tsa-untrusted.pem');
      const tsaCert = (await ctx.ca.serviceCredentials('tsa')).certificate;
      const { toPem } = await import('../../src/pkix/pem.js');
      await writeFile(
        tsaChain,
        toPem(tsaCert.der, 'CERTIFICATE') + (await readFile(join(dir, 'issuing.pem'), 'utf8')),
      );
      const serials = new Set<string>();
      for (const digest of ['-sha256', '-sha384', '-sha512']) {
        const q = join(dir, `q${digest}.tsq`);
        const r = join(dir, `r${digest}.tsr`);
        expect(
          (await run('openssl', ['ts', '-query', '-data', dataFile, digest, '-cert', '-out', q])).code,
        ).toBe(0);
        const res = await fetch(`${base}/tsa`, {
          method: 'POST',
          headers: { 'content-type': 'application/timestamp-query' },
          body: await readFile(q),
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('application/timestamp-reply');
        await writeFile(r, Buffer.from(await res.arrayBuffer()));
        const verify = await run('openssl', [
          'ts',
          '-verify',
          '-in',
          r,
          '-queryfile',
          q,
          '-CAfile',
          join(dir, 'root.pem'),
          '-untrusted',
          tsaChain,
        ]);
        expect(verify.stdout + verify.stderr, digest).toContain('Verification: OK');
        const text = await run('openssl', ['ts', '-reply', '-in', r, '-text']);
        const serial = /Serial number: (\S+)/.exec(text.stdout)?.[1];
        expect(serial).toBeTruthy();
        serials.add(serial ?? '');
      }
      expect(serials.size).toBe(3);

      // A SHA-1 imprint is refused with badAlg, as a TimeStampResp (not an HTTP error).
      const q1 = join(dir, 'q-sha1.tsq');
      await run('openssl', ['ts', '-query', '-data', dataFile, '-sha1', '-out', q1]);
      const rej = await fetch(`${base}/tsa`, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query' },
        body: await readFile(q1),
      });
      expect(rej.status).toBe(200);
      const rejFile = join(dir, 'rej.tsr');
      await writeFile(rejFile, Buffer.from(await rej.arrayBuffer()));
      const rejText = await run('openssl', ['ts', '-reply', '-in', rejFile, '-text']);
      expect(rejText.stdout).toMatch(/Status: Rejected/);
      expect(rejText.stdout).toMatch(/unrecognized or unsupported algorithm identifier|bad_alg|badAlg/i);
    },
  );

  it.skipIf(!hasOpenssl)(
    'publishes the CRL at the CRL distribution point named in certificates',
    async () => {
      const cert = await issueFromCsr('fay@bank.example');
      const text = await run('openssl', [
        'x509',
        '-in',
        cert.file,
        '-noout',
        '-ext',
        'crlDistributionPoints,authorityInfoAccess',
      ]);
      const crlUrl = /URI:(http\S+\.crl)/.exec(text.stdout)?.[1];
      expect(crlUrl).toBe(`${base}/crl/issuing.crl`);
      expect(text.stdout).toContain(`OCSP - URI:${base}/ocsp`);
      await server.crl?.kick();
      const res = await fetch(crlUrl ?? '');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/pkix-crl');
      const crlFile = join(dir, 'issuing.crl');
      await writeFile(crlFile, Buffer.from(await res.arrayBuffer()));
      const check = await run('openssl', [
        'crl',
        '-inform',
        'DER',
        '-in',
        crlFile,
        '-CAfile',
        chain,
        '-noout',
      ]);
      expect(check.stdout + check.stderr).toContain('verify OK');
    },
  );

  it('the REST API denies by default: no key 401, wrong scope 403, bad bodies 400 with a reason', async () => {
    expect((await api('/v1/certificates', { key: '' })).status).toBe(401);
    expect(
      (
        await api('/v1/certificates', {
          key: 'sp_0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        })
      ).status,
    ).toBe(401);
    const reader = await ctx.apiKeys.create({ name: 'reader', scopes: ['ca:read'], actor: 'test' });
    expect((await api('/v1/certificates', { key: reader.token })).status).toBe(200);
    const denied = await api('/v1/certificates', {
      key: reader.token,
      method: 'POST',
      body: JSON.stringify({ email: 'x@bank.example', pkcs12Password: 'longenough' }),
    });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: { message: string } }).error.message).toContain('ca:issue');

    const noPassword = await api('/v1/certificates', {
      method: 'POST',
      body: JSON.stringify({ email: 'x@bank.example' }),
    });
    expect(noPassword.status).toBe(400);
    const badJson = await api('/v1/certificates', { method: 'POST', body: '{"email":' });
    expect(badJson.status).toBe(400);
    const badCsr = await api('/v1/certificates', {
      method: 'POST',
      body: JSON.stringify({
        email: 'x@bank.example',
        csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n',
      }),
    });
    expect(badCsr.status).toBe(400);
    const notFound = await api('/v1/certificates/00ff');
    expect(notFound.status).toBe(404);
  });

  it('server-generated keys come back as PKCS#12 that OpenSSL opens', async () => {
    const res = await api('/v1/certificates', {
      method: 'POST',
      body: JSON.stringify({
        email: 'gil@bank.example',
        name: 'Gil Example',
        pkcs12Password: 'p12-password',
        keyAlgorithm: 'ec-p256',
      }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { certificates: { profile: string; pkcs12?: string }[] };
    expect(body.certificates).toHaveLength(2);
    if (hasOpenssl) {
      for (const c of body.certificates) {
        const file = join(dir, `gil-${c.profile}.p12`);
        await writeFile(file, Buffer.from(c.pkcs12 ?? '', 'base64'));
        const info = await run('openssl', [
          'pkcs12',
          '-info',
          '-noout',
          '-in',
          file,
          '-passin',
          'pass:p12-password',
        ]);
        expect(info.code, info.stderr).toBe(0);
      }
    }
  });

  it('serves the OpenAPI document and Prometheus metrics', async () => {
    const doc = (await (await fetch(`${base}/docs/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/certificates', '/v1/certificates/{serial}/revoke', '/v1/audit']),
    );
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('sealpost_http_request_duration_seconds');
    expect(metrics).toContain('sealpost_certificates_issued_total');
  });

  it('--role runs a subset: an OCSP/TSA-only node serves no REST API and no CRLs', async () => {
    const port = await freePort('127.0.0.1');
    const edge = await startServer(ctx, { roles: ['ocsp', 'tsa'], host: '127.0.0.1', port, pollMs: 200 });
    try {
      const health = (await (await fetch(`${edge.url}/healthz`)).json()) as {
        roles: string[];
        crlLeader: boolean;
      };
      expect(health).toMatchObject({ roles: ['ocsp', 'tsa'], crlLeader: false });
      expect(
        (await fetch(`${edge.url}/v1/certificates`, { headers: { authorization: `Bearer ${admin}` } }))
          .status,
      ).toBe(404);
      expect((await fetch(`${edge.url}/crl/issuing.crl`)).status).toBe(404);
      const tsa = await fetch(`${edge.url}/tsa`, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query' },
        body: Buffer.from('3000', 'hex'),
      });
      expect(tsa.status).toBe(200);
      expect(tsa.headers.get('content-type')).toBe('application/timestamp-reply');
    } finally {
      await edge.close();
    }
  });

  it('hostile bodies on OCSP, TSA and the API never produce a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 600 }),
        fc.constantFrom('/ocsp', '/tsa', '/v1/certificates'),
        async (bytes, path) => {
          const type =
            path === '/ocsp'
              ? 'application/ocsp-request'
              : path === '/tsa'
                ? 'application/timestamp-query'
                : 'application/json';
          const res = await fetch(`${base}${path}`, {
            method: 'POST',
            headers: { 'content-type': type, authorization: `Bearer ${admin}` },
            body: bytes,
          });
          await res.arrayBuffer();
          return res.status < 500;
        },
      ),
      { numRuns: 150 },
    );
    const huge = await fetch(`${base}/tsa`, {
      method: 'POST',
      headers: { 'content-type': 'application/timestamp-query' },
      body: Buffer.alloc(1024 * 1024),
    });
    expect(huge.status).toBe(413);
  });
});
