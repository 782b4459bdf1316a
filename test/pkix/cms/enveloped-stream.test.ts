/** Streaming encryption: bounded memory for a 200 MB message, and stream output that OpenSSL reads. */
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveOracle } from '../../helpers/run.js';
import {
  createEnvelopedDataEncryptor,
  decryptEnvelopedData,
  type ContentCipher,
} from '../../../src/pkix/cms/enveloped-data.js';
import {
  opensslDecrypt,
  opensslRecipient,
  tempDir,
  type TempDir,
  type TestRecipient,
} from './envelope-fixtures.js';

const HAVE_OPENSSL = haveOracle('openssl');
const MB = 1024 * 1024;

/**
 * A handle on V8's collector. Without it, dead 64 KiB cipher outputs pile up until V8 gets round to them (even a
 * bare createCipheriv loop shows 35–45 MB of such lag here); collecting every 32 MB measures what is retained.
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** `total` bytes in 64 KiB chunks of a repeating random pattern, produced lazily. */
function source(total: number, pattern = randomBytes(64 * 1024)): Readable {
  let left = total;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const n = Math.min(left, pattern.length);
      left -= n;
      this.push(pattern.subarray(0, n)); // the same bytes each time: the source itself allocates nothing
    },
  });
}

async function collect(readable: Readable, transform: NodeJS.ReadWriteStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(
    readable,
    transform,
    new Writable({
      write(chunk: Buffer, _e, done) {
        parts.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(parts);
}

let t: TempDir;
let rsa: TestRecipient;

beforeAll(async () => {
  if (!HAVE_OPENSSL) return;
  t = await tempDir('envelope-stream');
  rsa = await opensslRecipient(t, 'stream', 'rsa');
});
afterAll(async () => {
  await t?.cleanup();
});

describe.skipIf(!HAVE_OPENSSL)('streaming EnvelopedData', () => {
  it('encrypts 200 MB from a stream with RSS growth under 64 MB', async () => {
    const total = 200 * MB;
    const enc = await createEnvelopedDataEncryptor({
      recipients: [{ certificate: rsa.certificate }],
      contentLength: total,
    });
    gc();
    const before = process.memoryUsage().rss;
    let peak = before;
    let written = 0;
    const hash = createHash('sha256');
    await pipeline(
      source(total),
      enc.transform,
      new Writable({
        write(chunk: Buffer, _e, done) {
          if (Math.floor((written + chunk.length) / (32 * MB)) > Math.floor(written / (32 * MB))) gc();
          written += chunk.length;
          hash.update(chunk.subarray(0, 16));
          peak = Math.max(peak, process.memoryUsage().rss);
          done();
        },
      }),
    );
    const growth = (peak - before) / MB;
    console.log(
      `streaming 200 MB: RSS before ${(before / MB).toFixed(1)} MB, peak ${(peak / MB).toFixed(1)} MB, growth ${growth.toFixed(1)} MB`,
    );
    expect(growth).toBeLessThan(64);
    // DER: header + 16-byte-padded ciphertext, nothing more
    expect(written - (total + 16)).toBeLessThan(2048);
  });

  const cases: [string, ContentCipher, boolean][] = [
    ['BER (length unknown), AES-256-CBC', 'aes-256-cbc', false],
    ['DER (contentLength given), AES-128-CBC', 'aes-128-cbc', true],
    ['BER, AES-256-GCM AuthEnvelopedData', 'aes-256-gcm', false],
  ];
  for (const [name, cipher, knownLength] of cases) {
    it(`OpenSSL decrypts a stream-produced message: ${name}`, async () => {
      const plain = randomBytes(3 * MB + 7);
      const enc = await createEnvelopedDataEncryptor({
        recipients: [{ certificate: rsa.certificate }],
        cipher,
        ...(knownLength ? { contentLength: plain.length } : {}),
      });
      const der = await collect(
        Readable.from([plain.subarray(0, 1000), plain.subarray(1000)]),
        enc.transform,
      );
      expect(der[1] === 0x80).toBe(!knownLength); // indefinite length unless the length was known
      expect((await opensslDecrypt(t, der, rsa)).equals(plain)).toBe(true);
      const ours = await decryptEnvelopedData(der, [
        { certificate: rsa.certificate, privateKey: rsa.privateKey },
      ]);
      expect(ours.content.equals(plain)).toBe(true);
    });
  }

  it('ends the stream with an error when the content is longer or shorter than announced, or over the limit', async () => {
    const mk = (p: { contentLength?: number; maxContentBytes?: number }) =>
      createEnvelopedDataEncryptor({ recipients: [{ certificate: rsa.certificate }], ...p });
    await expect(collect(source(100), (await mk({ contentLength: 99 })).transform)).rejects.toThrow(
      /exceeds 99 bytes/,
    );
    await expect(collect(source(100), (await mk({ contentLength: 101 })).transform)).rejects.toThrow(
      /was 100 bytes/,
    );
    await expect(collect(source(5000), (await mk({ maxContentBytes: 4096 })).transform)).rejects.toThrow(
      /exceeds 4096/,
    );
  });
});
