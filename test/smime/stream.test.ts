/**
 * Streaming: sign + timestamp-free encrypt of a 150 MB message file to a file must not hold the attachment in
 * memory (RSS grows by far less than the message), and the result must open in OpenSSL (decrypt, then verify).
 */
import { createWriteStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendReadyFile } from '../../src/smime/index.js';
import { haveOracle } from '../helpers/run.js';
import { exec, startPki, type SmimePki } from './fixtures.js';

const SIZE = 150 * 1024 * 1024;
const HAVE_OPENSSL = haveOracle('openssl');

/** A message with a base64 attachment of about `bytes`, written in chunks (never built in memory). */
export async function writeLargeMessage(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path);
  const write = async (s: string | Buffer) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await write(
    'From: Alice <alice@bank.example>\r\nTo: bob@bank.example\r\nSubject: Quarterly archive\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: multipart/mixed; boundary="big"\r\n\r\n--big\r\nContent-Type: text/plain\r\n\r\nThe archive is attached.\r\n' +
      '--big\r\nContent-Type: application/octet-stream; name="archive.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n',
  );
  // 57 raw bytes per base64 line; 16 Ki lines per chunk.
  const raw = Buffer.alloc(57 * 16384);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 31 + 7) & 0xff;
  const chunk = Buffer.from(raw.toString('base64').replace(/(.{76})/g, '$1\r\n'));
  for (let written = 0; written < bytes; written += chunk.length) await write(chunk);
  await write('\r\n--big--\r\n');
  out.end();
  await once(out, 'finish');
}

describe('streaming a large message', () => {
  let pki: SmimePki;
  beforeAll(async () => {
    pki = await startPki();
  }, 60_000);
  afterAll(async () => pki?.close());

  it('send-ready of a 150 MB message file: RSS grows < 100 MB; OpenSSL decrypts and verifies the output', async () => {
    const { alice, bob } = pki.users;
    await writeLargeMessage(pki.path('big.eml'), SIZE);
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      await sendReadyFile(pki.path('big.eml'), pki.path('big-out.eml'), {
        signer: alice.signing.credential,
        encryptionCertificate: alice.encryption.credential.certificate,
        recipients: [{ certificate: bob.encryption.credential.certificate }],
      });
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    const growthMb = (peak - before) / 1024 / 1024;
    console.log(`send-ready of ${(SIZE / 1024 / 1024).toFixed(0)} MB: RSS growth ${growthMb.toFixed(1)} MB`);
    expect(growthMb).toBeLessThan(100);
    expect((await stat(pki.path('big-out.eml'))).size).toBeGreaterThan(SIZE * 1.3);

    if (!HAVE_OPENSSL) return;
    const d = await exec(
      'openssl',
      [
        'cms',
        '-decrypt',
        '-in',
        'big-out.eml',
        '-recip',
        bob.encryption.certPath,
        '-inkey',
        bob.encryption.keyPath,
        '-out',
        'big-inner.eml',
      ],
      pki.dir,
    );
    expect(d.code, d.stderr).toBe(0);
    const v = await exec(
      'openssl',
      ['smime', '-verify', '-in', 'big-inner.eml', '-CAfile', 'root.pem', '-out', '/dev/null'],
      pki.dir,
    );
    expect(v.stderr).toContain('Verification successful');
    await writeFile(pki.path('big-inner.eml'), ''); // free the disk early
  }, 120_000);
});
