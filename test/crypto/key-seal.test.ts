import { createPublicKey, verify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KeySealError,
  loadSealedSoftwareKey,
  openSealedKey,
  sealedKeyId,
  sealPrivateKey,
} from '../../src/crypto/key-seal.js';
import { MasterKey, MasterKeyError } from '../../src/crypto/master-key.js';
import { SoftwareKey } from '../../src/crypto/software-key.js';

const CANNOT_OPEN = 'cannot open sealed key: wrong master key or corrupted data';
const salt = Buffer.alloc(16, 0x5a);

let dir: string;
let master: MasterKey;
let otherMaster: MasterKey;
let key: SoftwareKey;
let pkcs8: Buffer;
let blob: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-key-seal-'));
  await MasterKey.generateKeyFile(join(dir, 'a.key'));
  await MasterKey.generateKeyFile(join(dir, 'b.key'));
  master = await MasterKey.fromKeyFile(join(dir, 'a.key'), salt);
  otherMaster = await MasterKey.fromKeyFile(join(dir, 'b.key'), salt);
  key = await SoftwareKey.generate('ec-p256');
  pkcs8 = key.exportPkcs8();
  blob = sealPrivateKey(pkcs8, master, 'key:ca-root');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Run `open` and return the error it throws (the test fails if it does not throw). */
function errorOf(open: () => unknown): Error {
  try {
    open();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected openSealedKey to throw');
}

function expectCannotOpen(open: () => unknown): void {
  const err = errorOf(open);
  expect(err).toBeInstanceOf(KeySealError);
  expect(err.message).toBe(CANNOT_OPEN);
}

describe('sealPrivateKey / openSealedKey', () => {
  it('round-trips a private key, and the loaded key signs for the original public key', async () => {
    expect(openSealedKey(blob, master, 'key:ca-root')).toEqual(pkcs8);
    const loaded = loadSealedSoftwareKey(blob, master, 'key:ca-root');
    expect(loaded.spki).toEqual(key.spki);
    const data = Buffer.from('statement 2024-06');
    const signature = await loaded.sign(data, 'sha256');
    const publicKey = createPublicKey({ key: key.spki, format: 'der', type: 'spki' });
    expect(verify('sha256', data, publicKey, signature)).toBe(true);
  });

  it('writes a versioned blob naming the master key, with a fresh IV each time', () => {
    expect(blob.subarray(0, 4)).toEqual(Buffer.from('SPK\x01', 'latin1'));
    expect(sealedKeyId(blob)).toBe(master.keyId);
    const again = sealPrivateKey(pkcs8, master, 'key:ca-root');
    expect(again.subarray(12, 24)).not.toEqual(blob.subarray(12, 24));
    expect(again.length).toBe(blob.length);
    expect(blob.includes(pkcs8.subarray(-32))).toBe(false); // the private scalar is not in clear
  });

  it('gives the same error for a wrong master key, a swapped AAD and a flipped bit', () => {
    expectCannotOpen(() => openSealedKey(blob, otherMaster, 'key:ca-root'));
    expectCannotOpen(() => openSealedKey(blob, master, 'key:tsa'));
    const flipped = Buffer.from(blob);
    flipped[flipped.length - 1]! ^= 0x01;
    expectCannotOpen(() => openSealedKey(flipped, master, 'key:ca-root'));
  });

  it('rejects every single-bit flip anywhere in the blob', () => {
    for (let bit = 0; bit < blob.length * 8; bit++) {
      const mutated = Buffer.from(blob);
      mutated[bit >> 3]! ^= 1 << (bit & 7);
      expectCannotOpen(() => openSealedKey(mutated, master, 'key:ca-root'));
    }
  });

  it('does not let a blob be moved onto another key record', async () => {
    const other = await SoftwareKey.generate('ed25519');
    const otherBlob = sealPrivateKey(other.exportPkcs8(), master, 'key:ocsp');
    expectCannotOpen(() => openSealedKey(otherBlob, master, 'key:ca-root'));
    expect(loadSealedSoftwareKey(otherBlob, master, 'key:ocsp').spki).toEqual(other.spki);
  });

  it('rejects truncated and extended blobs', () => {
    for (const length of [0, 3, 12, 39, 40, blob.length - 1]) {
      expectCannotOpen(() => openSealedKey(blob.subarray(0, length), master, 'key:ca-root'));
    }
    expectCannotOpen(() => openSealedKey(Buffer.concat([blob, Buffer.from([0])]), master, 'key:ca-root'));
  });

  it('refuses to seal something that is not PKCS#8 DER, or without an AAD', () => {
    const pem = Buffer.from(
      `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64')}\n-----END PRIVATE KEY-----\n`,
    );
    expect(() => sealPrivateKey(pem, master, 'key:x')).toThrow(/expects PKCS#8 DER, got PEM text/);
    expect(() => sealPrivateKey(Buffer.alloc(0), master, 'key:x')).toThrow(/got 0 bytes/);
    expect(() => sealPrivateKey(pkcs8, master, '')).toThrow(/AAD is empty/);
  });

  it('refuses to work with a destroyed master key', async () => {
    await MasterKey.generateKeyFile(join(dir, 'c.key'));
    const doomed = await MasterKey.fromKeyFile(join(dir, 'c.key'), salt);
    const sealed = sealPrivateKey(pkcs8, doomed, 'key:x');
    doomed.destroy();
    expect(() => openSealedKey(sealed, doomed, 'key:x')).toThrow(MasterKeyError);
    expect(() => sealPrivateKey(pkcs8, doomed, 'key:x')).toThrow(MasterKeyError);
  });
});

describe('openSealedKey on hostile input (property)', () => {
  const header = () => blob.subarray(0, 12);

  it('throws KeySealError for random bytes, with or without a valid header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (bytes, withHeader) => {
        const candidate = withHeader ? Buffer.concat([header(), bytes]) : Buffer.from(bytes);
        expectCannotOpen(() => openSealedKey(candidate, master, 'key:ca-root'));
      }),
      { numRuns: 500 },
    );
  });

  it('throws KeySealError for any mutation of a valid blob', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant('insert' as const),
        at: fc.nat(),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        let mutated = Buffer.from(blob);
        for (const m of mutations) {
          const at = m.at % (mutated.length + 1);
          if (m.kind === 'set' && at < mutated.length) mutated[at] = m.value;
          if (m.kind === 'cut') mutated = mutated.subarray(0, at);
          if (m.kind === 'insert')
            mutated = Buffer.concat([mutated.subarray(0, at), m.bytes, mutated.subarray(at)]);
        }
        if (mutated.equals(blob)) return; // a no-op mutation is still the valid blob
        expectCannotOpen(() => openSealedKey(mutated, master, 'key:ca-root'));
      }),
      { numRuns: 1000 },
    );
  });
});
