/** EnvelopedData behaviour that needs no oracle: implicit rejection, key selection, X25519, errors, bounds, fuzzing. */
import { createCipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { rsaPkcs1v15Decrypt } from '../../../src/crypto/rsa-pkcs1-decrypt.js';
import { Asn1Error } from '../../../src/pkix/errors.js';
import {
  CmsDecryptError,
  CmsEncryptError,
  decryptEnvelopedData,
  encryptEnvelopedData,
  type DecryptionKey,
  type RecipientDecryptor,
} from '../../../src/pkix/cms/enveloped-data.js';
import { DAMAGED_MESSAGE } from '../../../src/pkix/cms/envelope-errors.js';
import { decryptContent } from '../../../src/pkix/cms/content-encryption.js';
import { localRecipient, type TestRecipient } from './envelope-fixtures.js';

const CONTENT = Buffer.from('Your one-time code is 314159.\r\n');
let rsa: TestRecipient;
let rsaOther: TestRecipient;
let ec: TestRecipient;
let x25519: TestRecipient;
const key = (r: TestRecipient): DecryptionKey => ({ certificate: r.certificate, privateKey: r.privateKey });

beforeAll(async () => {
  [rsa, rsaOther, ec, x25519] = await Promise.all([
    localRecipient('alice', 'rsa'),
    localRecipient('alice-2019', 'rsa'),
    localRecipient('erin', 'P-256'),
    localRecipient('xavier', 'x25519'),
  ]);
});

/** The outcome of a decryption attempt as a user sees it: the content, or the error's class and message. */
async function outcome(der: Buffer, keys: DecryptionKey[]): Promise<string> {
  try {
    return `ok:${(await decryptEnvelopedData(der, keys)).content.toString('hex')}`;
  } catch (e) {
    return `${(e as Error).constructor.name}:${(e as Error).message}`;
  }
}

/** Offset of the RSA encryptedKey (the 256-byte OCTET STRING 04 82 01 00) inside our DER. */
function encryptedKeyOffset(der: Buffer): number {
  const at = der.indexOf(Buffer.from([0x04, 0x82, 0x01, 0x00]));
  expect(at).toBeGreaterThan(0);
  return at + 4;
}

describe('implicit rejection (RSA PKCS#1 v1.5)', () => {
  it('a wrong RSA key and a mangled encryptedKey end in the same CmsDecryptError', async () => {
    const expected = `CmsDecryptError:${DAMAGED_MESSAGE}`;
    // With CBC a random key passes the padding check about once in 256 tries (as with OpenSSL): retry then.
    for (let attempt = 0; attempt < 4; attempt++) {
      const der = await encryptEnvelopedData(CONTENT, { recipients: [{ certificate: rsa.certificate }] });
      const wrongKey = await outcome(der, [
        { certificate: rsa.certificate, privateKey: rsaOther.privateKey },
      ]);
      const mangled = Buffer.from(der);
      const at = encryptedKeyOffset(mangled);
      mangled[at + 100] = (mangled[at + 100] as number) ^ 0x01;
      const badPadding = await outcome(mangled, [key(rsa)]);
      if (wrongKey.startsWith('ok:') || badPadding.startsWith('ok:')) continue;
      expect(wrongKey).toBe(expected);
      expect(badPadding).toBe(expected);
      return;
    }
    throw new Error('four CBC decryptions with a wrong key all passed the padding check');
  });

  it('with AES-GCM both failures are always caught by the tag, with the same message', async () => {
    const der = await encryptEnvelopedData(CONTENT, {
      recipients: [{ certificate: rsa.certificate }],
      cipher: 'aes-256-gcm',
    });
    const mangled = Buffer.from(der);
    const at = encryptedKeyOffset(mangled) + 3;
    mangled[at] = (mangled[at] as number) ^ 0x80;
    const wrong = await outcome(der, [{ certificate: rsa.certificate, privateKey: rsaOther.privateKey }]);
    expect(wrong).toBe(`CmsDecryptError:${DAMAGED_MESSAGE}`);
    expect(await outcome(mangled, [key(rsa)])).toBe(wrong);
  });

  it('the key a bad padding yields is deterministic (same ciphertext → same key)', () => {
    const c = Buffer.alloc(256, 0x33);
    expect(rsaPkcs1v15Decrypt(rsa.privateKey, c, 32)).toEqual(rsaPkcs1v15Decrypt(rsa.privateKey, c, 32));
  });
});

describe('CBC content decryption', () => {
  it('gives back exactly what OpenSSL padded and encrypted, and nothing for a malformed padding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(255), (raw, flip) => {
        const plain = Buffer.from(raw);
        const key = randomBytes(32);
        const iv = randomBytes(16);
        const c = createCipheriv('aes-256-cbc', key, iv);
        const ciphertext = Buffer.concat([c.update(plain), c.final()]);
        const alg = { cipher: 'aes-256-cbc' as const, iv };
        expect(decryptContent(alg, key, ciphertext)?.equals(plain)).toBe(true);
        // A plaintext whose last block ends in a padding byte of 0 or > 16 is refused, whatever precedes it.
        const bad = Buffer.concat([plain, Buffer.alloc(16 - (plain.length % 16), 0)]);
        bad[bad.length - 1] = flip % 2 ? 0 : 17 + (flip % 239);
        const e = createCipheriv('aes-256-cbc', key, iv).setAutoPadding(false);
        const badCiphertext = Buffer.concat([e.update(bad), e.final()]);
        expect(decryptContent(alg, key, badCiphertext)).toBeUndefined();
        // Padding bytes that disagree with the length byte are refused too.
        if (bad.length >= 2) {
          bad[bad.length - 1] = 2;
          bad[bad.length - 2] = 3;
          const f = createCipheriv('aes-256-cbc', key, iv).setAutoPadding(false);
          expect(decryptContent(alg, key, Buffer.concat([f.update(bad), f.final()]))).toBeUndefined();
        }
      }),
    );
  });
});

describe('recipient selection', () => {
  it('tries every historical key by recipient identifier and reports which one worked', async () => {
    const der = await encryptEnvelopedData(CONTENT, { recipients: [{ certificate: rsaOther.certificate }] });
    const out = await decryptEnvelopedData(der, [key(rsa), key(ec), key(rsaOther)]);
    expect(out.content).toEqual(CONTENT);
    expect(out.recipient.certificate).toEqual(rsaOther.certificate);
    expect(out.recipient.keyTransport).toBe('rsa-pkcs1');
  });

  it('names the recipients when no key matches', async () => {
    const der = await encryptEnvelopedData(CONTENT, {
      recipients: [
        { certificate: rsa.certificate },
        { certificate: ec.certificate, identifier: 'subjectKeyIdentifier' },
      ],
    });
    const err = await decryptEnvelopedData(der, [key(rsaOther)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CmsDecryptError);
    expect((err as Error).message).toMatch(
      /^no recipient matches any of the given keys \(recipients: issuer "CN=Envelope Test CA" serial [0-9a-f]+; subjectKeyIdentifier [0-9a-f]{40}\)$/,
    );
  });

  it('X25519 (RFC 8418) round trip, with and without ukm, by SKI', async () => {
    for (const ukm of [false, true]) {
      const der = await encryptEnvelopedData(CONTENT, {
        recipients: [{ certificate: x25519.certificate, identifier: 'subjectKeyIdentifier' }],
        ukm,
      });
      const out = await decryptEnvelopedData(der, [key(x25519)]);
      expect(out.content).toEqual(CONTENT);
      expect(out.recipient.keyTransport).toBe(`x25519-sha256kdf-aes256-wrap${ukm ? '-ukm' : ''}`);
    }
  });

  it('a wrong EC key fails with the damaged message', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const der = await encryptEnvelopedData(CONTENT, { recipients: [{ certificate: ec.certificate }] });
    expect(await outcome(der, [{ certificate: ec.certificate, privateKey: other }])).toBe(
      `CmsDecryptError:${DAMAGED_MESSAGE}`,
    );
  });

  it('accepts a token-style RecipientDecryptor instead of a KeyObject', async () => {
    const der = await encryptEnvelopedData(CONTENT, { recipients: [{ certificate: rsa.certificate }] });
    const calls: string[] = [];
    const token: RecipientDecryptor = {
      rsaPkcs1v15: async (encryptedKey, length) => {
        calls.push(`v15:${length}`);
        return rsaPkcs1v15Decrypt(rsa.privateKey, encryptedKey, length);
      },
    };
    expect(
      (await decryptEnvelopedData(der, [{ certificate: rsa.certificate, privateKey: token }])).content,
    ).toEqual(CONTENT);
    expect(calls).toEqual(['v15:32']);
  });
});

describe('encryption errors', () => {
  it('refuses OAEP for an EC certificate, no recipients, too many recipients, and 3DES', async () => {
    await expect(
      encryptEnvelopedData(CONTENT, {
        recipients: [{ certificate: ec.certificate, keyTransport: 'rsa-oaep-sha256' }],
      }),
    ).rejects.toThrow(CmsEncryptError);
    await expect(encryptEnvelopedData(CONTENT, { recipients: [] })).rejects.toThrow(/at least one recipient/);
    const many = Array.from({ length: 1001 }, () => ({ certificate: rsa.certificate }));
    await expect(encryptEnvelopedData(CONTENT, { recipients: many })).rejects.toThrow(
      /more than 1000 recipients/,
    );
    await expect(
      encryptEnvelopedData(CONTENT, {
        recipients: [{ certificate: rsa.certificate }],
        cipher: 'des-ede3-cbc' as never,
      }),
    ).rejects.toThrow(/not offered/);
  });

  it('refuses a certificate whose keyUsage forbids encryption (a signing certificate)', async () => {
    const signing = await localRecipient('alice-signing', 'rsa', ['digitalSignature']);
    await expect(
      encryptEnvelopedData(CONTENT, { recipients: [{ certificate: signing.certificate }] }),
    ).rejects.toThrow(
      /does not allow keyEncipherment \(keyUsage: digitalSignature\); use its encryption certificate/,
    );
  });
});

describe('hostile input', () => {
  const typed = (e: unknown): boolean => e instanceof CmsDecryptError || e instanceof Asn1Error;
  let valid: Buffer[];
  let keys: DecryptionKey[];

  beforeAll(async () => {
    keys = [key(rsa), key(ec), key(x25519)];
    valid = await Promise.all([
      encryptEnvelopedData(CONTENT, { recipients: [{ certificate: rsa.certificate }] }),
      encryptEnvelopedData(CONTENT, {
        recipients: [{ certificate: ec.certificate }],
        ukm: true,
        cipher: 'aes-128-gcm',
      }),
      encryptEnvelopedData(CONTENT, { recipients: [{ certificate: x25519.certificate }] }),
    ]);
  });

  it('random bytes give CmsDecryptError or Asn1Error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (bytes) => {
        const e = await decryptEnvelopedData(Buffer.from(bytes), keys).then(
          () => undefined,
          (x: unknown) => x,
        );
        return e === undefined || typed(e);
      }),
      { numRuns: 300 },
    );
  });

  it('mutated valid messages give the content, CmsDecryptError or Asn1Error — never anything else', async () => {
    const mutation = fc.record({
      which: fc.integer({ min: 0, max: 2 }),
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(mutation, async ({ which, edits, cut }) => {
        const m = Buffer.from(valid[which] as Buffer);
        for (const [pos, value] of edits) m[pos % m.length] = value;
        const input = cut === undefined ? m : m.subarray(0, cut % m.length);
        const e = await decryptEnvelopedData(input, keys).then(
          () => undefined,
          (x: unknown) => x,
        );
        if (e !== undefined && !typed(e)) throw e;
        return true;
      }),
      { numRuns: 400 },
    );
  });

  it('a nesting bomb of indefinite lengths is refused quickly', async () => {
    const bomb = Buffer.concat([Buffer.alloc(20000, 0).fill(Buffer.from([0x30, 0x80]))]);
    const started = Date.now();
    await expect(decryptEnvelopedData(bomb, keys)).rejects.toThrow(Asn1Error);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a content type other than (Auth)EnvelopedData is named', async () => {
    // ContentInfo { id-signedData, [0] SEQUENCE {} }
    const signed = Buffer.from('300f06092a864886f70d010702a0023000', 'hex');
    await expect(decryptEnvelopedData(signed, keys)).rejects.toThrow(
      /not an encrypted message: content type 1\.2\.840\.113549\.1\.7\.2 /,
    );
  });
});
