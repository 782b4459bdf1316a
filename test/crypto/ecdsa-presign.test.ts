import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EcdsaPresignKey, canPresign, withEcdsaPresign } from '../../src/crypto/ecdsa-presign.js';
import type { HashAlgorithm, KeyHandle } from '../../src/crypto/key-handle.js';
import { SoftwareKey, ecdsaCompactToDer } from '../../src/crypto/software-key.js';
import { haveOracle, run } from '../helpers/run.js';

// haveOracle fails under CI=true when openssl is missing, and skips with a printed reason locally.
const HAVE_OPENSSL = haveOracle('openssl');

const ORDER = {
  'ec-p256': 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  'ec-p384':
    0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
} as const;

/** A software key that counts how often the slow path (its own sign) is used. */
function counted(key: SoftwareKey): { key: SoftwareKey; fallbacks: () => number } {
  let n = 0;
  const sign = key.sign.bind(key);
  const signDigest = key.signDigest.bind(key);
  key.sign = (...a) => (n++, sign(...a));
  key.signDigest = (...a) => (n++, signDigest(...a));
  return { key, fallbacks: () => n };
}

/** Ecdsa-Sig-Value → (r, s), strictly: one SEQUENCE of two minimal positive INTEGERs, nothing after. */
function parseSig(der: Buffer, width: number): { r: bigint; s: bigint } {
  expect(der[0]).toBe(0x30);
  const longForm = der[1] === 0x81;
  const bodyStart = longForm ? 3 : 2;
  expect(longForm ? (der[2] as number) >= 0x80 : (der[1] as number) < 0x80).toBe(true);
  expect(bodyStart + (der[bodyStart - 1] as number)).toBe(der.length);
  const ints: bigint[] = [];
  let at = bodyStart;
  for (let i = 0; i < 2; i++) {
    expect(der[at]).toBe(0x02);
    const len = der[at + 1] as number;
    const content = der.subarray(at + 2, at + 2 + len);
    expect(content[0]! & 0x80).toBe(0); // positive
    if (content.length > 1) expect(content[0] === 0 && (content[1]! & 0x80) === 0).toBe(false); // minimal
    expect(len).toBeLessThanOrEqual(width + 1);
    ints.push(BigInt('0x' + content.toString('hex')));
    at += 2 + len;
  }
  expect(at).toBe(der.length);
  return { r: ints[0]!, s: ints[1]! };
}

const fixedWidth = (v: bigint, width: number) => Buffer.from(v.toString(16).padStart(width * 2, '0'), 'hex');

describe('EcdsaPresignKey', () => {
  const keys: EcdsaPresignKey[] = [];
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealpost-presign-'));
  });
  afterAll(async () => {
    await Promise.all(keys.map((k) => k.close()));
    await rm(dir, { recursive: true, force: true });
  });
  async function presigned(alg: 'ec-p256' | 'ec-p384', poolSize = 256, batchSize = 64) {
    const c = counted(await SoftwareKey.generate(alg));
    const key = new EcdsaPresignKey(c.key, { poolSize, batchSize });
    keys.push(key);
    await key.ready(batchSize);
    return { key, inner: c.key, fallbacks: c.fallbacks };
  }

  const cases: ['ec-p256' | 'ec-p384', HashAlgorithm][] = [
    ['ec-p256', 'sha256'],
    ['ec-p256', 'sha384'], // digest longer than n: z is its leftmost 256 bits
    ['ec-p256', 'sha512'],
    ['ec-p384', 'sha384'],
    ['ec-p384', 'sha256'], // digest shorter than n
  ];
  for (const [alg, hash] of cases) {
    it(`${alg} with ${hash}: pre-computed signatures verify with node:crypto, sign() and signDigest()`, async () => {
      const { key, fallbacks } = await presigned(alg);
      const spki = createPublicKey({ key: key.spki, format: 'der', type: 'spki' });
      for (let i = 0; i < 20; i++) {
        const data = randomBytes(1 + i * 13);
        const sig = await key.sign(data, hash);
        expect(verify(hash, data, { key: spki, dsaEncoding: 'der' }, sig)).toBe(true);
        const viaDigest = await key.signDigest(createHash(hash).update(data).digest(), hash);
        expect(verify(hash, data, { key: spki, dsaEncoding: 'der' }, viaDigest)).toBe(true);
        expect(verify(hash, Buffer.concat([data, Buffer.from([1])]), spki, sig)).toBe(false);
      }
      expect(fallbacks()).toBe(0);
    });
  }

  it.skipIf(!HAVE_OPENSSL)(
    'OpenSSL (`openssl dgst -verify`) accepts pre-computed P-256 and P-384 signatures',
    async () => {
      for (const alg of ['ec-p256', 'ec-p384'] as const) {
        const { key, fallbacks } = await presigned(alg);
        const hash = alg === 'ec-p256' ? 'sha256' : 'sha384';
        const data = randomBytes(300);
        const pub = join(dir, `${alg}.pem`);
        const dataFile = join(dir, `${alg}.bin`);
        const sigFile = join(dir, `${alg}.sig`);
        await writeFile(
          pub,
          createPublicKey({ key: key.spki, format: 'der', type: 'spki' }).export({
            type: 'spki',
            format: 'pem',
          }),
        );
        await writeFile(dataFile, data);
        await writeFile(sigFile, await key.sign(data, hash));
        const ok = await run('openssl', [
          'dgst',
          `-${hash}`,
          '-verify',
          pub,
          '-signature',
          sigFile,
          dataFile,
        ]);
        expect(ok.code, ok.stderr).toBe(0);
        expect(ok.stdout).toContain('Verified OK');
        await writeFile(dataFile, Buffer.concat([data, Buffer.from('x')]));
        const bad = await run('openssl', [
          'dgst',
          `-${hash}`,
          '-verify',
          pub,
          '-signature',
          sigFile,
          dataFile,
        ]);
        expect(bad.code).not.toBe(0);
        expect(fallbacks()).toBe(0);
      }
    },
  );

  it('never reuses a nonce: 5,000 signatures have 5,000 distinct r, all in [1, n−1], strict DER', async () => {
    const { key, fallbacks } = await presigned('ec-p256', 1024, 256);
    const spki = createPublicKey({ key: key.spki, format: 'der', type: 'spki' });
    const n = ORDER['ec-p256'];
    const seen = new Set<bigint>();
    const data = Buffer.from('the same message every time');
    for (let i = 0; i < 5000; i++) {
      if (key.available === 0) await key.ready(1);
      const sig = await key.sign(data, 'sha256');
      const { r, s } = parseSig(sig, 32);
      expect(r > 0n && r < n && s > 0n && s < n).toBe(true);
      seen.add(r);
      // Same bytes as an independent encoder produces from the fixed-width r ‖ s form.
      if (i < 200) {
        expect(ecdsaCompactToDer(Buffer.concat([fixedWidth(r, 32), fixedWidth(s, 32)]))).toEqual(sig);
        expect(verify('sha256', data, { key: spki, dsaEncoding: 'der' }, sig)).toBe(true);
      }
    }
    expect(seen.size).toBe(5000);
    expect(fallbacks()).toBe(0);
  }, 30_000);

  it('falls back to the wrapped key when the pool is empty, and after close()', async () => {
    const { key, fallbacks } = await presigned('ec-p256', 64, 64);
    const spki = createPublicKey({ key: key.spki, format: 'der', type: 'spki' });
    const data = randomBytes(64);
    const sigs = await Promise.all(Array.from({ length: 100 }, () => key.sign(data, 'sha256'))); // 64 + 36 fallbacks
    for (const sig of sigs) expect(verify('sha256', data, { key: spki, dsaEncoding: 'der' }, sig)).toBe(true);
    expect(fallbacks()).toBeGreaterThanOrEqual(36);
    await key.close();
    expect(key.available).toBe(0);
    const before = fallbacks();
    expect(verify('sha256', data, { key: spki, dsaEncoding: 'der' }, await key.sign(data, 'sha256'))).toBe(
      true,
    );
    expect(fallbacks()).toBe(before + 1);
  });

  it('wraps only software P-256/P-384 keys; RSA, Ed25519 and PKCS#11 keys come back unchanged', async () => {
    const ec = await SoftwareKey.generate('ec-p256');
    const rsa = await SoftwareKey.generate('rsa-2048');
    const ed = await SoftwareKey.generate('ed25519');
    const token: KeyHandle = {
      algorithm: 'ec-p256',
      backend: 'pkcs11',
      spki: ec.spki,
      sign: () => Promise.reject(new Error('not called')),
      signDigest: () => Promise.reject(new Error('not called')),
    };
    expect(canPresign(ec)).toBe(true);
    for (const k of [rsa, ed, token]) {
      expect(canPresign(k)).toBe(false);
      expect(withEcdsaPresign(k)).toBe(k);
    }
    const wrapped = withEcdsaPresign(ec);
    expect(wrapped).toBeInstanceOf(EcdsaPresignKey);
    expect(wrapped.spki).toEqual(ec.spki);
    expect(wrapped.algorithm).toBe('ec-p256');
    keys.push(wrapped as EcdsaPresignKey);
  });
});
