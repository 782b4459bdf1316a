import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initialise } from '../../src/app/init.js';
import { openSealpost, type Sealpost } from '../../src/app/context.js';
import { startServer, type RunningServer } from '../../src/app/runtime.js';
import { loadConfig } from '../../src/config/config.js';
import { fromPem } from '../../src/pkix/pem.js';
import { createLogger } from '../../src/util/logger.js';
import { RevocationCache, validateCertificate, type ValidationOptions } from '../../src/validation/index.js';
import { haveOracle } from '../helpers/run.js';
import { opensslOracle } from './openssl-pki.js';

const hasOpenssl = haveOracle('openssl');

/** Sealpost's own CA, OCSP responder and CRL endpoint, over HTTP, as a relying party sees them. */
describe.skipIf(!hasOpenssl)('validation against a running Sealpost server (AIA OCSP + CRLDP)', () => {
  let dir: string;
  let ctx: Sealpost;
  let server: RunningServer;
  let admin: string;
  let root: Buffer;
  let issuing: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealpost-val-srv-'));
    const config = loadConfig({ dataDir: join(dir, 'data'), env: {}, overrides: { port: 0 } });
    ctx = await openSealpost(config, createLogger('silent'), { createMasterKey: true });
    const init = await initialise(ctx, { orgName: 'Validation Test Bank', actor: 'test' });
    admin = (await readFile(init.adminKeyFile ?? '', 'utf8')).trim();
    server = await startServer(ctx, {
      roles: ['ca', 'ocsp', 'api'],
      host: '127.0.0.1',
      port: 0,
      pollMs: 100,
    });
    const pem = async (path: string) =>
      fromPem(await (await fetch(`${server.url}${path}`)).text())[0]?.der ?? Buffer.alloc(0);
    root = await pem('/ca/root.pem');
    issuing = await pem('/ca/issuing.pem');
  });
  afterAll(async () => {
    await server?.close();
    await ctx?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const api = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify(body),
    });

  async function issue(email: string): Promise<{ serial: string; der: Buffer }> {
    const r = await opensslOracle([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, `${email}.key`),
      '-subj',
      `/CN=${email}`,
    ]);
    const csr = /-----BEGIN CERTIFICATE REQUEST-----[\s\S]+?-----END CERTIFICATE REQUEST-----/.exec(
      r.out,
    )?.[0];
    const res = await api('/v1/certificates', { email, csr, usage: 'signing' });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { certificates: { serial: string; pem: string }[] };
    const cert = body.certificates[0];
    return { serial: cert?.serial ?? '', der: fromPem(cert?.pem ?? '')[0]?.der ?? Buffer.alloc(0) };
  }

  // The issuing CA is trusted directly: the server was initialised before it knew its port, so the issuing
  // CA certificate's own AIA/CRLDP name port 0 (checked separately below).
  const options = (extra: Partial<ValidationOptions['revocation']> = {}): ValidationOptions => ({
    trustAnchors: [issuing],
    purpose: 'smime-signing',
    revocation: { mode: 'require', onUnreachable: 'fail', ...extra },
  });

  it('good by OCSP and by the CRL fetched from the CRLDP; revoked by both after revocation through the API', async () => {
    const { serial, der } = await issue('frank@bank.example');
    const byOcsp = await validateCertificate(der, { ...options(), email: 'frank@bank.example' });
    expect(byOcsp.checks.filter((c) => !c.ok)).toEqual([]);
    expect(byOcsp.verdict).toBe('valid');
    expect(byOcsp.revocation[0]).toMatchObject({ status: 'good', source: 'ocsp' });
    const byCrl = await validateCertificate(der, options({ preferOcsp: false }));
    expect(byCrl.verdict).toBe('valid');
    expect(byCrl.revocation[0]).toMatchObject({ status: 'good', source: 'crl' });
    expect(byCrl.validationData.crls.length).toBeGreaterThan(0);

    expect((await api(`/v1/certificates/${serial}/revoke`, { reason: 'keyCompromise' })).status).toBe(200);
    const revoked = await validateCertificate(der, options());
    expect(revoked.verdict).toBe('revoked');
    expect(revoked.checks.find((c) => !c.ok)?.detail).toMatch(
      /the signer's certificate \(CN=frank@bank.example\) was revoked on \d{4}-\d\d-\d\d \(keyCompromise\), according to OCSP/,
    );
    // The CRL publisher re-issues on revocation; poll briefly for the new CRL.
    let viaCrl = await validateCertificate(der, options({ preferOcsp: false }));
    for (let i = 0; i < 30 && viaCrl.verdict !== 'revoked'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      viaCrl = await validateCertificate(der, options({ preferOcsp: false }));
    }
    expect(viaCrl.verdict).toBe('revoked');
    expect(viaCrl.revocation[0]).toMatchObject({ status: 'revoked', source: 'crl', reason: 'keyCompromise' });
  });

  it("from the root, the issuing CA's unreachable status soft-fails with a warning, or fails", async () => {
    const { der } = await issue('heidi@bank.example');
    const soft = await validateCertificate(der, {
      trustAnchors: [root],
      intermediates: [issuing],
      purpose: 'smime-signing',
      revocation: { mode: 'require', onUnreachable: 'soft-fail', timeoutMs: 2000 },
    });
    expect(soft.verdict).toBe('valid');
    expect(soft.path).toHaveLength(3);
    expect(soft.checks.filter((c) => c.warning).map((c) => c.detail)).toEqual([
      expect.stringMatching(
        /^the CA certificate CN=Validation Test Bank Issuing CA: revocation status could not be checked/,
      ),
    ]);
    const hard = await validateCertificate(der, {
      trustAnchors: [root],
      intermediates: [issuing],
      purpose: 'smime-signing',
      revocation: { mode: 'require', onUnreachable: 'fail', timeoutMs: 2000 },
    });
    expect(hard.verdict).toBe('revocation-unknown');
  });

  it('a cache avoids asking again for the same certificate', async () => {
    const { der } = await issue('grace@bank.example');
    const cache = new RevocationCache();
    expect((await validateCertificate(der, { ...options(), cache })).verdict).toBe('valid');
    expect((await validateCertificate(der, { ...options(), cache })).verdict).toBe('valid');
    expect(cache.hits).toBeGreaterThan(0);
  });
});
