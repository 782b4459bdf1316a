/**
 * Streaming decryption: DER and BER (our writer's both forms, OpenSSL `-stream` output), CBC and GCM, every
 * failure a typed error and the output file only present after the padding / tag check.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveOracle } from '../../helpers/run.js';
import {
  CmsDecryptError,
  createEnvelopedDataWriter,
  encryptEnvelopedData,
  type ContentCipher,
} from '../../../src/pkix/cms/enveloped-data.js';
import {
  decryptEnvelopedDataToFile,
  openEnvelopedDataStream,
} from '../../../src/pkix/cms/enveloped-stream.js';
import { DAMAGED_MESSAGE } from '../../../src/pkix/cms/envelope-errors.js';
import { Asn1Error } from '../../../src/pkix/errors.js';
import {
  localRecipient,
  opensslCms,
  opensslRecipient,
  tempDir,
  type TempDir,
  type TestRecipient,
} from './envelope-fixtures.js';

const HAVE_OPENSSL = haveOracle('openssl');

/** `bytes` in chunks of `size`, as a file stream would deliver them. */
async function* chunked(bytes: Buffer, size = 4096): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of chunks) out.push(c);
  return Buffer.concat(out);
}

/** Our streaming writer's output without a content length: indefinite-length BER, segmented ciphertext. */
async function berEnvelope(content: Buffer, r: TestRecipient[], cipher: ContentCipher): Promise<Buffer> {
  const w = await createEnvelopedDataWriter({
    recipients: r.map((x) => ({ certificate: x.certificate })),
    cipher,
  });
  const parts = [w.head];
  for (let i = 0; i < content.length; i += 1000) parts.push(...w.update(content.subarray(i, i + 1000)));
  parts.push(...w.final());
  return Buffer.concat(parts);
}

const key = (r: TestRecipient) => ({ privateKey: r.privateKey, certificate: r.certificate });

describe('streaming EnvelopedData / AuthEnvelopedData decryption', () => {
  let t: TempDir;
  let rsa: TestRecipient;
  let ec: TestRecipient;
  let other: TestRecipient;
  const content = randomBytes(200_003);

  beforeAll(async () => {
    t = await tempDir('cms-stream-dec');
    [rsa, ec, other] = await Promise.all([
      localRecipient('rsa', 'rsa'),
      localRecipient('ec', 'P-256'),
      localRecipient('other', 'rsa'),
    ]);
  });
  afterAll(() => t.cleanup());

  for (const cipher of ['aes-256-cbc', 'aes-128-cbc', 'aes-256-gcm', 'aes-128-gcm'] as const) {
    it(`${cipher}: DER and BER, RSA and ECDH recipients, any chunking → the content`, async () => {
      const der = await encryptEnvelopedData(content, {
        recipients: [rsa, ec].map((x) => ({ certificate: x.certificate })),
        cipher,
      });
      const ber = await berEnvelope(content, [rsa, ec], cipher);
      for (const [input, size] of [
        [der, 1],
        [der, 65536],
        [ber, 7],
        [ber, 100_000],
      ] as const) {
        for (const r of [rsa, ec]) {
          const s = await openEnvelopedDataStream(chunked(input, size), [key(r)]);
          expect(s.cipher).toBe(cipher);
          expect(s.authenticated).toBe(cipher.endsWith('gcm'));
          expect((await collect(s.plaintext)).equals(content)).toBe(true);
        }
      }
    });
  }

  it('the file form writes the target only after the check; wrong key, flipped last byte, truncation → typed errors, no file', async () => {
    for (const cipher of ['aes-256-cbc', 'aes-256-gcm'] as const) {
      const der = await encryptEnvelopedData(content, {
        recipients: [{ certificate: rsa.certificate }],
        cipher,
      });
      const out = t.path(`out-${cipher}.bin`);
      await decryptEnvelopedDataToFile(chunked(der), [key(rsa)], out);
      expect((await readFile(out)).equals(content)).toBe(true);

      const target = t.path(`bad-${cipher}.bin`);
      // A wrong RSA key recovers a pseudo-random content key (implicit rejection): only the final check fails.
      const wrongKey = [{ privateKey: other.privateKey, certificate: rsa.certificate }];
      await expect(decryptEnvelopedDataToFile(chunked(der), wrongKey, target)).rejects.toThrow(
        DAMAGED_MESSAGE,
      );
      // The last ciphertext byte (CBC padding) or the tag (GCM) flipped.
      const flipped = Buffer.from(der);
      const at = cipher.endsWith('gcm') ? der.length - 1 : der.length - 1;
      flipped[at] = (flipped[at] as number) ^ 0x01;
      await expect(decryptEnvelopedDataToFile(chunked(flipped), [key(rsa)], target)).rejects.toThrow(
        DAMAGED_MESSAGE,
      );
      for (const cut of [10, 600, der.length - 5000, der.length - 1]) {
        const e = await decryptEnvelopedDataToFile(chunked(der.subarray(0, cut)), [key(rsa)], target).catch(
          (x: unknown) => x,
        );
        expect(e instanceof Asn1Error || e instanceof CmsDecryptError, String(e)).toBe(true);
      }
      const files = await readdir(t.dir);
      expect(files.filter((f) => f.startsWith('bad-') || f.endsWith('.partial'))).toEqual([]);
    }
  });

  it('GCM: a flipped ciphertext byte anywhere → damaged, nothing released', async () => {
    const der = await encryptEnvelopedData(content, {
      recipients: [{ certificate: rsa.certificate }],
      cipher: 'aes-256-gcm',
    });
    const flipped = Buffer.from(der);
    flipped[der.length - 100_000] = (flipped[der.length - 100_000] as number) ^ 0x80;
    await expect(
      decryptEnvelopedDataToFile(chunked(flipped), [key(rsa)], t.path('gcm-flip.bin')),
    ).rejects.toThrow(DAMAGED_MESSAGE);
  });

  it('no matching recipient → names the recipients', async () => {
    const der = await encryptEnvelopedData(content, { recipients: [{ certificate: rsa.certificate }] });
    await expect(openEnvelopedDataStream(chunked(der), [key(other)])).rejects.toThrow(/no recipient matches/);
  });

  it('property: mutated and random input → Asn1Error or CmsDecryptError, never anything else', async () => {
    const der = await encryptEnvelopedData(Buffer.from('hello streaming world'), {
      recipients: [{ certificate: ec.certificate }],
    });
    const ber = await berEnvelope(Buffer.from('hello streaming world'), [ec], 'aes-128-gcm');
    const typed = async (input: Buffer) => {
      try {
        const s = await openEnvelopedDataStream(chunked(input, 13), [key(ec)]);
        await collect(s.plaintext);
      } catch (e) {
        if (!(e instanceof Asn1Error) && !(e instanceof CmsDecryptError)) throw e;
      }
    };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(der, ber),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        async (base, edits) => {
          const m = Buffer.from(base);
          for (const [at, byte] of edits) m[at % m.length] = byte;
          await typed(m);
        },
      ),
      { numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), (b) => typed(Buffer.from(b))),
      {
        numRuns: 300,
      },
    );
  });

  describe.skipIf(!HAVE_OPENSSL)('OpenSSL', () => {
    it('openssl cms -encrypt -stream (BER, indefinite lengths) → we stream-decrypt it', async () => {
      const r = await opensslRecipient(t, 'ossl', 'rsa');
      const plainPath = await t.write('plain.bin', content);
      for (const cipher of ['-aes-256-cbc', '-aes-256-gcm']) {
        const res = await opensslCms([
          '-encrypt',
          '-stream',
          '-binary',
          cipher,
          '-outform',
          'DER',
          '-in',
          plainPath,
          r.certPath,
        ]);
        expect(res.code, res.stderr).toBe(0);
        expect(res.out[1]).toBe(0x80); // indefinite length: really the streaming form
        const out = t.path(`ossl${cipher}.bin`);
        const info = await decryptEnvelopedDataToFile(chunked(res.out, 5000), [key(r)], out);
        expect(info.authenticated).toBe(cipher.endsWith('gcm'));
        expect((await readFile(out)).equals(content)).toBe(true);
      }
    });
  });
});
