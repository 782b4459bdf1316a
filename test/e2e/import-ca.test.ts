import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, sealpost, haveOracle } from '../helpers/run.js';
import { opensslVerify } from '../helpers/openssl.js';

const hasOpenssl = haveOracle('openssl');

/** A bank that already runs a CA made elsewhere (here: by the OpenSSL CLI) hands its issuing CA to Sealpost. */
describe.skipIf(!hasOpenssl)('init --import-ca: taking over an existing issuing CA', () => {
  let dir: string;
  const ossl = (...args: string[]) => run('openssl', args, { cwd: dir });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealpost-import-'));
    await writeFile(
      join(dir, 'ext.cnf'),
      '[root]\nbasicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' +
        '[issuing]\nbasicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
    );
    expect(
      (
        await ossl(
          'req',
          '-x509',
          '-newkey',
          'rsa:3072',
          '-nodes',
          '-keyout',
          'root.key',
          '-out',
          'root.pem',
          '-days',
          '3650',
          '-subj',
          '/O=Legacy Bank/CN=Legacy Root',
          '-addext',
          'basicConstraints=critical,CA:true',
          '-addext',
          'keyUsage=critical,keyCertSign,cRLSign',
        )
      ).code,
    ).toBe(0);
    expect(
      (
        await ossl(
          'req',
          '-new',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-384',
          '-nodes',
          '-keyout',
          'issuing.key',
          '-out',
          'issuing.csr',
          '-subj',
          '/O=Legacy Bank/CN=Legacy Issuing CA',
        )
      ).code,
    ).toBe(0);
    expect(
      (
        await ossl(
          'x509',
          '-req',
          '-in',
          'issuing.csr',
          '-CA',
          'root.pem',
          '-CAkey',
          'root.key',
          '-CAcreateserial',
          '-days',
          '1825',
          '-extfile',
          'ext.cnf',
          '-extensions',
          'issuing',
          '-out',
          'issuing.pem',
        )
      ).code,
    ).toBe(0);
    expect(
      (
        await ossl(
          'pkcs12',
          '-export',
          '-inkey',
          'issuing.key',
          '-in',
          'issuing.pem',
          '-certfile',
          'root.pem',
          '-out',
          'issuing.p12',
          '-passout',
          'pass:import-pw',
        )
      ).code,
    ).toBe(0);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('issues under the imported CA; OpenSSL verifies against the original root', async () => {
    const data = join(dir, 'data');
    const init = await sealpost([
      'init',
      '--import-ca',
      join(dir, 'issuing.p12'),
      '--password',
      'import-pw',
      '--org',
      'Legacy Bank',
      '--data',
      data,
      '--json',
    ]);
    expect(init.code, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout).created).toBe(true);

    const out = join(dir, 'ivy');
    const issued = await sealpost([
      'ca',
      'issue',
      '--email',
      'ivy@legacy.example',
      '--usage',
      'signing',
      '--password',
      'ivy-p12-pw',
      '--out',
      out,
      '--data',
      data,
    ]);
    expect(issued.code, issued.stderr).toBe(0);
    const verify = await opensslVerify({
      purpose: 'smimesign',
      root: join(dir, 'root.pem'),
      issuing: join(dir, 'issuing.pem'),
      cert: join(out, 'signing.pem'),
    });
    expect(verify.stdout).toContain('OK');
    expect(verify.code).toBe(0);

    // The issuing CA's CRL is ours to sign; the root's is not, and the error says so.
    const crl = await sealpost(['ca', 'crl', '--out', join(dir, 'issuing.crl'), '--data', data]);
    expect(crl.code, crl.stderr).toBe(0);
    const check = await run('openssl', [
      'crl',
      '-inform',
      'DER',
      '-in',
      join(dir, 'issuing.crl'),
      '-CAfile',
      join(dir, 'issuing.pem'),
      '-noout',
    ]);
    expect(check.stdout + check.stderr).toContain('verify OK');
    const rootCrl = await sealpost([
      'ca',
      'crl',
      '--authority',
      'root',
      '--out',
      join(dir, 'root.crl'),
      '--data',
      data,
    ]);
    expect(rootCrl.code).toBe(1);
    expect(rootCrl.stderr).toMatch(/no private key/);
  });

  it('refuses a PKCS#12 whose certificate is not a CA, with a reason', async () => {
    await ossl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'leaf.key',
      '-out',
      'leaf.pem',
      '-subj',
      '/CN=not a ca',
      '-addext',
      'basicConstraints=critical,CA:false',
    );
    await ossl(
      'pkcs12',
      '-export',
      '-inkey',
      'leaf.key',
      '-in',
      'leaf.pem',
      '-out',
      'leaf.p12',
      '-passout',
      'pass:pw',
    );
    const r = await sealpost([
      'init',
      '--import-ca',
      join(dir, 'leaf.p12'),
      '--import-root',
      join(dir, 'root.pem'),
      '--password',
      'pw',
      '--data',
      join(dir, 'data2'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/not a CA certificate/);
  });
});
