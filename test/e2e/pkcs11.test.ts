import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSoftHsmToken, softHsmSkipReason, type SoftHsmToken } from '../helpers/softhsm.js';
import { run, sealpost, haveOracle } from '../helpers/run.js';
import { opensslVerify, splitChain } from '../helpers/openssl.js';

const skip = softHsmSkipReason() !== undefined || !haveOracle('openssl');

describe.skipIf(skip)('CA, OCSP and TSA keys inside a PKCS#11 token (SoftHSM2)', () => {
  let dir: string;
  let token: SoftHsmToken;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealpost-p11-'));
    token = await createSoftHsmToken('sealpost-ca');
    await writeFile(join(dir, 'pin'), token.config.pin + '\n', { mode: 0o600 });
    env = {
      SOFTHSM2_CONF: process.env.SOFTHSM2_CONF ?? '',
      SEALPOST_PKCS11_MODULE: token.config.module,
      SEALPOST_PKCS11_TOKEN: token.config.tokenLabel,
      SEALPOST_PKCS11_PIN_FILE: join(dir, 'pin'),
    };
  });
  afterAll(async () => {
    await token?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('init puts the CA keys in the token; a certificate it issues verifies with OpenSSL', async () => {
    const data = join(dir, 'data');
    const init = await sealpost(
      ['init', '--org', 'HSM Bank', '--key-backend', 'pkcs11', '--data', data, '--json'],
      { env },
    );
    expect(init.code, init.stderr).toBe(0);

    const listed = await run('pkcs11-tool', [
      '--module',
      token.config.module,
      '--token-label',
      token.config.tokenLabel,
      '--login',
      '--pin',
      token.config.pin,
      '--list-objects',
      '--type',
      'privkey',
    ]).catch(() => undefined);
    if (listed && listed.code === 0) expect(listed.stdout).toMatch(/issuing-ca/);

    const out = join(dir, 'hana');
    const issued = await sealpost(
      [
        'ca',
        'issue',
        '--email',
        'hana@bank.example',
        '--usage',
        'signing',
        '--out',
        out,
        '--password',
        'hsm-test-pw',
        '--data',
        data,
        '--json',
      ],
      { env },
    );
    expect(issued.code, issued.stderr).toBe(0);
    const ca = await splitChain(join(out, 'chain.pem'), out);
    const verify = await opensslVerify({ purpose: 'smimesign', ...ca, cert: join(out, 'signing.pem') });
    expect(verify.stdout).toContain('OK');
    expect(verify.code).toBe(0);

    // Without the PIN the installation refuses to start rather than falling back to software keys.
    const noPin = await sealpost(['ca', 'list', '--data', data], {
      env: { ...env, SEALPOST_PKCS11_PIN_FILE: '', SEALPOST_PKCS11_PIN: '' },
    });
    expect(noPin.code).toBe(1);
  });
});
