/**
 * File-to-file decryption and verification of messages of any size: a 300 MB message through send-ready,
 * decryptMessageFile and verifyMessageFile with bounded memory; OpenSSL reads our streamed output and we read its
 * `-stream` output; damaged input gives SmimeDecryptError and no output; verification at the timestamp's time.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decryptMessageFile,
  openMessageFile,
  sendReadyFile,
  signMessage,
  SmimeDecryptError,
  verifyMessage,
  verifyMessageFile,
} from '../../src/smime/index.js';
import { haveOracle } from '../helpers/run.js';
import { exec, sampleMessage, startPki, type SmimePki } from './fixtures.js';

const HAVE_OPENSSL = haveOracle('openssl');
const MB = 1024 * 1024;

/** A message with a base64 attachment of about `size` bytes, written in chunks (never held whole). */
async function writeBigMessage(path: string, size: number): Promise<void> {
  const handle = await open(path, 'w');
  await handle.write(
    [
      'From: Alice <alice@bank.example>',
      'To: Bob <bob@bank.example>',
      'Subject: Quarterly archive',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="outer-b"',
      '',
      '--outer-b',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'The archive is attached.',
      '--outer-b',
      'Content-Type: application/octet-stream; name="archive.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      '',
    ].join('\r\n'),
  );
  const block = Buffer.from(
    (
      randomBytes(57 * 1024)
        .toString('base64')
        .match(/.{1,76}/g) as string[]
    ).join('\r\n') + '\r\n',
  );
  for (let written = 0; written < size; written += block.length) await handle.write(block);
  await handle.write('--outer-b--\r\n');
  await handle.close();
}

async function sha256(path: string, start = 0): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { start })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Offset just past the first blank line (the end of the header section). */
async function bodyStart(path: string): Promise<number> {
  const handle = await open(path, 'r');
  const buf = Buffer.alloc(64 * 1024);
  const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
  await handle.close();
  return buf.subarray(0, bytesRead).indexOf('\r\n\r\n') + 4;
}

/** Peak RSS growth over `fn`, sampled every 20 ms. */
async function peakRssGrowth<T>(fn: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growth: peak - base };
  } finally {
    clearInterval(timer);
  }
}

describe('S/MIME file to file (streaming decrypt and verify)', () => {
  let pki: SmimePki;
  const trust = () => ({ trustAnchors: [pki.rootDer] });
  const sendReady = () => ({
    signer: pki.users.alice.signing.credential,
    recipients: [{ certificate: pki.users.bob.encryption.credential.certificate }],
    sender: { certificate: pki.users.alice.encryption.credential.certificate },
  });
  const bobKey = () => [pki.users.bob.encryption.credential];

  beforeAll(async () => {
    pki = await startPki();
  }, 60_000);
  afterAll(async () => {
    await pki?.close();
  });

  it('300 MB: send-ready → decryptMessageFile → verifyMessageFile, RSS growth < 128 MB, content identical', async () => {
    const plain = pki.path('big.eml');
    await writeBigMessage(plain, 300 * MB);
    const sent = pki.path('big-sent.eml');
    const decrypted = pki.path('big-decrypted.eml');
    const opened = pki.path('big-opened.eml');
    await sendReadyFile(plain, sent, sendReady());
    const dec = await peakRssGrowth(() => decryptMessageFile(sent, decrypted, bobKey()));
    const ver = await peakRssGrowth(() => verifyMessageFile(decrypted, trust()));
    const all = await peakRssGrowth(() =>
      openMessageFile(sent, { ...trust(), keys: bobKey(), outPath: opened }),
    );
    console.log(
      `300 MB message (${((await stat(sent)).size / MB).toFixed(0)} MB sent): RSS growth decrypt ${(dec.growth / MB).toFixed(1)} MB, verify ${(ver.growth / MB).toFixed(1)} MB, open (both) ${(all.growth / MB).toFixed(1)} MB`,
    );
    expect(dec.result.cipher).toBe('aes-256-cbc');
    expect(ver.result.verdict, JSON.stringify(ver.result.checks)).toBe('valid');
    expect(all.result.verification.verdict).toBe('valid');
    expect(all.result.layers.map((l) => l.type)).toEqual(['encrypted', 'signed']);
    for (const g of [dec.growth, ver.growth, all.growth]) expect(g).toBeLessThan(128 * MB);
    // The readable message's body (after its header section) is the original body, byte for byte.
    expect(await sha256(opened, await bodyStart(opened))).toBe(await sha256(plain, await bodyStart(plain)));
  }, 240_000);

  it('damaged input → SmimeDecryptError and no output: wrong key, truncated, flipped last ciphertext byte', async () => {
    const plain = pki.path('small.eml');
    await writeFile(plain, sampleMessage());
    const sent = pki.path('small-sent.eml');
    await sendReadyFile(plain, sent, sendReady());
    const bytes = await readFile(sent);
    const carol = [pki.users.carol.encryption.credential];
    const wrongKey = [
      {
        privateKey: pki.users.carol.encryption.credential.key,
        certificate: pki.users.bob.encryption.credential.certificate,
      },
    ];
    const text = bytes.toString('latin1');
    const bodyAt = text.indexOf('\r\n\r\n') + 4;
    const truncated = bytes.subarray(0, bodyAt + Math.floor((bytes.length - bodyAt) / 2));
    // The DER ends with the last ciphertext block (CBC padding): flip its last byte and re-encode.
    const der = Buffer.from(text.slice(bodyAt), 'base64');
    der[der.length - 1] = (der[der.length - 1] as number) ^ 0x01;
    const flipped = Buffer.concat([bytes.subarray(0, bodyAt), Buffer.from(der.toString('base64') + '\r\n')]);
    await writeFile(pki.path('truncated.eml'), truncated);
    await writeFile(pki.path('flipped.eml'), flipped);
    const cases: [string, string, Parameters<typeof decryptMessageFile>[2]][] = [
      ['carol (not a recipient)', sent, carol],
      ['a wrong key for bob’s certificate', sent, wrongKey as never],
      ['truncated', pki.path('truncated.eml'), bobKey()],
      ['flipped', pki.path('flipped.eml'), bobKey()],
    ];
    for (const [what, input, keys] of cases) {
      const out = pki.path(`out-${what.replace(/\W/g, '')}.eml`);
      const e = await decryptMessageFile(input, out, keys).catch((x: unknown) => x);
      expect(e, what).toBeInstanceOf(SmimeDecryptError);
      await expect(stat(out), what).rejects.toThrow();
    }
    expect((await readdir(pki.dir)).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('timestamped signature, signer revoked afterwards → valid at the timestamp time; no timestamp → revoked', async () => {
    const erin = await pki.issue('erin@bank.example', 'erin');
    const message = sampleMessage('Erin <erin@bank.example>');
    const stamped = await signMessage(message, { signer: erin.signing.credential, timestamp: pki.tsaUrl });
    const bare = await signMessage(message, { signer: erin.signing.credential });
    await new Promise((r) => setTimeout(r, 1100)); // revocation strictly after genTime (1 s resolution)
    await pki.ctx.ca.revoke({ serial: erin.signing.serial, reason: 'keyCompromise', actor: 'test' });
    const withTs = await verifyMessage(stamped, trust());
    expect(withTs.verdict, JSON.stringify(withTs.checks)).toBe('valid');
    expect(withTs.signer?.timestampTime).toBeInstanceOf(Date);
    expect(withTs.checks.find((c) => c.name === 'validation time')?.detail).toMatch(/signature timestamp/);
    const without = await verifyMessage(bare, trust());
    expect(without.verdict, JSON.stringify(without.checks)).toBe('revoked');
    // The file form agrees.
    await writeFile(pki.path('stamped.eml'), stamped);
    expect((await verifyMessageFile(pki.path('stamped.eml'), trust())).verdict).toBe('valid');
  }, 30_000);

  describe.skipIf(!HAVE_OPENSSL)('OpenSSL', () => {
    it('70 MB streamed send-ready output → openssl smime -decrypt gives our decrypted entity', async () => {
      const plain = pki.path('mid.eml');
      await writeBigMessage(plain, 70 * MB);
      const sent = pki.path('mid-sent.eml');
      await sendReadyFile(plain, sent, sendReady());
      const bob = pki.users.bob.encryption;
      const r = await exec(
        'openssl',
        [
          'smime',
          '-decrypt',
          '-in',
          'mid-sent.eml',
          '-recip',
          bob.certPath,
          '-inkey',
          bob.keyPath,
          '-out',
          'mid-ossl.eml',
        ],
        pki.dir,
      );
      expect(r.code, r.stderr).toBe(0);
      const ours = pki.path('mid-ours.eml');
      await decryptMessageFile(sent, ours, bobKey());
      const osslSize = (await stat(pki.path('mid-ossl.eml'))).size;
      const ourSize = (await stat(ours)).size;
      // Ours = outer fields + the entity; OpenSSL writes the entity alone.
      expect(await sha256(ours, ourSize - osslSize)).toBe(await sha256(pki.path('mid-ossl.eml')));
      expect((await verifyMessageFile(ours, trust())).verdict).toBe('valid');
    }, 120_000);

    it('openssl smime -encrypt -stream (BER) → decryptMessageFile', async () => {
      await writeFile(pki.path('ossl-in.eml'), sampleMessage());
      const r = await exec(
        'openssl',
        [
          'smime',
          '-encrypt',
          '-stream',
          '-aes256',
          '-in',
          'ossl-in.eml',
          '-out',
          'ossl-enc.eml',
          pki.users.bob.encryption.certPath,
        ],
        pki.dir,
      );
      expect(r.code, r.stderr).toBe(0);
      const out = pki.path('ossl-dec.eml');
      const d = await decryptMessageFile(pki.path('ossl-enc.eml'), out, bobKey());
      expect(d.cipher).toBe('aes-256-cbc');
      expect((await readFile(out)).toString('utf8')).toContain('Gr\u00fc\u00dfe aus der Bank');
    });
  });
});
