/** Algorithm choice from recipients' certificates and harvested SMIMECapabilities (RFC 8551 §2.7.1). */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMIME_CAPABILITY } from '../../src/pkix/cms/smime-capabilities.js';
import { pemOrDer } from '../../src/pkix/pem.js';
import { SmimeRecipientError, chooseAlgorithms } from '../../src/smime/index.js';
import { haveOracle } from '../helpers/run.js';
import { exec } from './fixtures.js';

describe.skipIf(!haveOracle('openssl'))('chooseAlgorithms', () => {
  let dir: string;
  let rsa: Buffer;
  let ec: Buffer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealpost-alg-'));
    for (const [name, args] of [
      ['rsa', ['-newkey', 'rsa:2048']],
      ['ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']],
    ] as const) {
      const r = await exec(
        'openssl',
        [
          'req',
          '-x509',
          ...args,
          '-nodes',
          '-keyout',
          `${name}.key`,
          '-out',
          `${name}.pem`,
          '-days',
          '2',
          '-subj',
          `/CN=${name}`,
        ],
        dir,
      );
      expect(r.code, r.stderr).toBe(0);
    }
    rsa = pemOrDer(await readFile(join(dir, 'rsa.pem')), 'CERTIFICATE');
    ec = pemOrDer(await readFile(join(dir, 'ec.pem')), 'CERTIFICATE');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  const GCM_ALL = [SMIME_CAPABILITY.aes256Gcm, SMIME_CAPABILITY.aes256Cbc, SMIME_CAPABILITY.rsaesOaepSha256];

  it('defaults to AES-256-CBC + RSA v1.5 for recipients who never told us what they read', () => {
    const c = chooseAlgorithms([{ certificate: rsa }]);
    expect(c.cipher).toBe('aes-256-cbc');
    expect(c.recipients[0]?.keyTransport).toBe('rsa-pkcs1');
  });

  it('uses GCM only when every recipient advertises it, OAEP per recipient who advertises it', () => {
    const both = chooseAlgorithms([
      { certificate: rsa, capabilities: GCM_ALL },
      { certificate: ec, capabilities: GCM_ALL },
    ]);
    expect(both.cipher).toBe('aes-256-gcm');
    expect(both.recipients[0]?.keyTransport).toBe('rsa-oaep-sha256');
    expect(both.recipients[1]?.keyTransport).toBeUndefined(); // EC: ECDH key agreement
    const mixed = chooseAlgorithms([{ certificate: rsa, capabilities: GCM_ALL }, { certificate: rsa }]);
    expect(mixed.cipher).toBe('aes-256-cbc');
    expect(mixed.recipients.map((r) => r.keyTransport)).toEqual(['rsa-oaep-sha256', 'rsa-pkcs1']);
  });

  it('falls back to AES-128-CBC when a recipient lists only that; honours an explicit cipher', () => {
    const old = chooseAlgorithms([
      { certificate: rsa, capabilities: [SMIME_CAPABILITY.aes128Cbc] },
      { certificate: rsa },
    ]);
    expect(old.cipher).toBe('aes-128-cbc');
    expect(chooseAlgorithms([{ certificate: rsa }], 'aes-256-gcm').cipher).toBe('aes-256-gcm');
  });

  it('refuses unreadable certificates and empty recipient lists with a clear error', () => {
    expect(() => chooseAlgorithms([])).toThrow(SmimeRecipientError);
    expect(() => chooseAlgorithms([{ certificate: Buffer.from([0x30, 0x03, 1, 2, 3]) }])).toThrow(
      /recipient 1: the certificate cannot be read/,
    );
  });
});
