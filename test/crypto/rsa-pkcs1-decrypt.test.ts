import {
  constants,
  createHash,
  generateKeyPairSync,
  hkdfSync,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  implicitRejectionKey,
  rsaPkcs1v15Decrypt,
  unpadPkcs1v15,
} from '../../src/crypto/rsa-pkcs1-decrypt.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const K = 256;
const L = 32;

/** EM = 00 02 PS 00 M with a non-zero PS filling the rest (RFC 8017 §7.2.1). */
function validEm(message: Buffer, k = K): Buffer {
  const ps = Buffer.alloc(k - message.length - 3, 0x5a);
  return Buffer.concat([Buffer.from([0, 2]), ps, Buffer.from([0]), message]);
}

/** Raw RSA "encryption" of a crafted EM, so the private operation sees exactly these bytes. */
const rawEncrypt = (em: Buffer): Buffer =>
  publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, em);

describe('unpadPkcs1v15 (implicit rejection)', () => {
  const message = Buffer.alloc(L, 0x11);
  const fallback = Buffer.alloc(L, 0xee);
  const cases: [string, (em: Buffer) => void][] = [
    ['0x00 0x02 missing (first byte)', (em) => void (em[0] = 1)],
    ['0x00 0x02 missing (type 1 instead of 2)', (em) => void (em[1] = 1)],
    ['separator missing', (em) => void (em[K - L - 1] = 0x42)],
    ['zero inside the padding string (message too long)', (em) => void (em[40] = 0)],
    ['zero early in the padding string (PS shorter than 8)', (em) => void (em[5] = 0)],
  ];

  it('returns the message for a valid padding', () => {
    expect(unpadPkcs1v15(validEm(message), L, fallback)).toEqual(message);
  });

  for (const [name, mangle] of cases) {
    it(`returns the fallback, not an error: ${name}`, () => {
      const em = validEm(message);
      mangle(em);
      expect(unpadPkcs1v15(em, L, fallback)).toEqual(fallback);
    });
  }

  it('rejects a padding string shorter than 8 bytes even when well formed', () => {
    const k = L + 3 + 7; // room for only 7 bytes of PS
    expect(unpadPkcs1v15(validEm(message, k), L, fallback)).toEqual(fallback);
    expect(unpadPkcs1v15(validEm(message, k + 1), L, fallback)).toEqual(message);
  });

  it('rejects a message of another length than expected', () => {
    expect(unpadPkcs1v15(validEm(Buffer.alloc(16, 1)), L, fallback)).toEqual(fallback);
  });
});

describe('rsaPkcs1v15Decrypt', () => {
  it('recovers a key encrypted by OpenSSL PKCS#1 v1.5 padding', () => {
    const key = randomBytes(L);
    const c = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, key);
    expect(rsaPkcs1v15Decrypt(privateKey, c, L)).toEqual(key);
  });

  it('decrypts crafted plaintexts: valid → message; bad → deterministic pseudo-random key of the expected length', () => {
    const message = randomBytes(L);
    expect(rsaPkcs1v15Decrypt(privateKey, rawEncrypt(validEm(message)), L)).toEqual(message);
    const bad = [validEm(message), validEm(message), validEm(message)];
    (bad[0] as Buffer)[1] = 3; // not type 2
    (bad[1] as Buffer)[K - L - 1] = 7; // separator missing
    (bad[2] as Buffer)[6] = 0; // PS of 4 bytes
    const outputs = bad.map((em) => {
      const c = rawEncrypt(em);
      const first = rsaPkcs1v15Decrypt(privateKey, c, L);
      expect(first).toHaveLength(L);
      expect(rsaPkcs1v15Decrypt(privateKey, c, L)).toEqual(first); // same input → same output
      expect(first).toEqual(implicitRejectionKey(sha256OfD(), c, L));
      expect(first).not.toEqual(message);
      return first.toString('hex');
    });
    expect(new Set(outputs).size).toBe(3); // different ciphertexts → unrelated keys
  });

  it('derives the synthetic key as RFC 5869 HKDF-SHA256 (the same bytes as node:crypto hkdfSync)', () => {
    const info = Buffer.from('sealpost rsa pkcs1 implicit rejection');
    for (const length of [1, 16, 24, 32, 33, 64, 100]) {
      const secret = randomBytes(32);
      const c = randomBytes(256);
      expect(implicitRejectionKey(secret, c, length)).toEqual(
        Buffer.from(hkdfSync('sha256', c, secret, info, length)),
      );
    }
  });

  it('never throws: wrong length, zero, and ≥ modulus ciphertexts give a synthetic key', () => {
    for (const c of [Buffer.alloc(0), Buffer.alloc(300, 1), Buffer.alloc(K, 0xff), Buffer.alloc(10, 0)]) {
      expect(rsaPkcs1v15Decrypt(privateKey, c, 24)).toHaveLength(24);
    }
  });

  it('restores leading zero bytes a sender dropped from a short ciphertext', () => {
    for (let i = 0; i < 300; i++) {
      const key = randomBytes(L);
      const c = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, key);
      if (c[0] !== 0) continue;
      expect(rsaPkcs1v15Decrypt(privateKey, c.subarray(1), L)).toEqual(key);
      return;
    }
  });
});

/** The documented rejection secret: SHA-256 of the private exponent. */
function sha256OfD(): Buffer {
  const d = Buffer.from(privateKey.export({ format: 'jwk' }).d as string, 'base64url');
  return createHash('sha256').update(d).digest();
}
