// Proves the exact-bytes rule against OpenSSL: the bytes partBytes() returns for the first part of
// an OpenSSL-made multipart/signed are the bytes the signature covers; and OpenSSL reads what we build.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { haveOracle } from '../../helpers/run.js';
import {
  buildEntity,
  buildMultipart,
  buildMultipartSigned,
  buildPkcs7Mime,
  canonicalize,
  classifySmime,
  decodeBody,
  parseMime,
  partBytes,
  toSevenBitSafe,
} from '../../../src/smime/mime/index.js';
import type { MimePart } from '../../../src/smime/mime/index.js';
import { exec, makeSigner, withTempDir } from './oracle.js';

const hasOpenssl = haveOracle('openssl');

function toLfOnly(bytes: Buffer): Buffer {
  return Buffer.from(bytes.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
}

/** Verifies `signature` (DER) over `content` with OpenSSL, exactly as given (-binary). */
async function opensslVerifiesDetached(dir: string, content: Buffer, signature: Buffer): Promise<boolean> {
  await writeFile(join(dir, 'content.bin'), content);
  await writeFile(join(dir, 'sig.der'), signature);
  const result = await exec(
    'openssl',
    [
      'cms',
      '-verify',
      '-binary',
      '-inform',
      'DER',
      '-in',
      'sig.der',
      '-content',
      'content.bin',
      '-CAfile',
      'c.pem',
      '-purpose',
      'any',
      '-out',
      'verified.bin',
    ],
    dir,
  );
  return result.code === 0;
}

function signedParts(root: MimePart): { signed: MimePart; signature: MimePart } {
  expect(classifySmime(root)).toBe('multipart-signed');
  const [signed, signature] = root.children ?? [];
  if (!signed || !signature) throw new Error('multipart/signed without two parts');
  return { signed, signature };
}

describe.runIf(hasOpenssl)('MIME against openssl smime', () => {
  let textSigned: Buffer;
  let binarySigned: Buffer;
  let attachment: Buffer;

  beforeAll(async () => {
    await withTempDir(async (dir) => {
      await makeSigner(dir);
      // Trailing spaces and a "From " line: the classic bytes relays like to alter.
      await writeFile(join(dir, 'msg.txt'), 'Hello world  \nFrom here\n\nsecond line\n');
      const text = await exec(
        'openssl',
        [
          'smime',
          '-sign',
          '-text',
          '-in',
          'msg.txt',
          '-signer',
          'c.pem',
          '-inkey',
          'k.pem',
          '-out',
          'text.eml',
        ],
        dir,
      );
      expect(text.code, text.stderr).toBe(0);
      textSigned = await readFile(join(dir, 'text.eml'));

      attachment = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) & 0xff));
      const entity = buildMultipart(
        'mixed',
        [],
        [
          buildEntity(
            [['Content-Type', 'text/plain; charset=utf-8']],
            Buffer.from('Statement attached.\r\n'),
          ),
          buildEntity(
            [
              ['Content-Type', 'application/pdf; name="statement.pdf"'],
              ['Content-Disposition', 'attachment; filename="statement.pdf"'],
            ],
            attachment,
            { transferEncoding: 'base64' },
          ),
        ],
      );
      await writeFile(join(dir, 'entity.eml'), entity);
      const binary = await exec(
        'openssl',
        [
          'smime',
          '-sign',
          '-binary',
          '-in',
          'entity.eml',
          '-signer',
          'c.pem',
          '-inkey',
          'k.pem',
          '-out',
          'binary.eml',
        ],
        dir,
      );
      expect(binary.code, binary.stderr).toBe(0);
      binarySigned = await readFile(join(dir, 'binary.eml'));
    });
  });

  it('partBytes of an openssl -text signed part verify with openssl cms -verify -binary', async () => {
    const root = parseMime(textSigned);
    const { signed, signature } = signedParts(root);
    expect(partBytes(textSigned, signed).toString('latin1')).toBe(
      'Content-Type: text/plain\r\n\r\nHello world  \r\nFrom here\r\n\r\nsecond line\r\n',
    );
    await withTempDir(async (dir) => {
      await makeSigner(dir);
      // -noverify skips the chain (the signer is a throwaway self-signed cert); the signature itself is checked.
      const der = decodeBody(textSigned, signature);
      await writeFile(join(dir, 'content.bin'), partBytes(textSigned, signed));
      await writeFile(join(dir, 'sig.der'), der);
      const result = await exec(
        'openssl',
        [
          'cms',
          '-verify',
          '-binary',
          '-noverify',
          '-inform',
          'DER',
          '-in',
          'sig.der',
          '-content',
          'content.bin',
          '-out',
          'v.bin',
        ],
        dir,
      );
      expect(result.code, result.stderr).toBe(0);
      // One flipped byte of the same part must fail: the check really covers these bytes.
      const tampered = Buffer.from(partBytes(textSigned, signed));
      tampered.writeUInt8(tampered.readUInt8(tampered.length - 3) ^ 1, tampered.length - 3);
      await writeFile(join(dir, 'content.bin'), tampered);
      const bad = await exec(
        'openssl',
        [
          'cms',
          '-verify',
          '-binary',
          '-noverify',
          '-inform',
          'DER',
          '-in',
          'sig.der',
          '-content',
          'content.bin',
          '-out',
          'v.bin',
        ],
        dir,
      );
      expect(bad.code).not.toBe(0);
    });
  });

  it('partBytes of a signed multipart with a binary attachment verify, and the attachment decodes intact', async () => {
    const root = parseMime(binarySigned);
    const { signed, signature } = signedParts(root);
    const pdf = signed.children?.[1];
    expect(pdf?.contentType.mediaType).toBe('application/pdf');
    expect(decodeBody(binarySigned, pdf as MimePart).equals(attachment)).toBe(true);
    await withTempDir(async (dir) => {
      await makeSigner(dir);
      await writeFile(join(dir, 'content.bin'), partBytes(binarySigned, signed));
      await writeFile(join(dir, 'sig.der'), decodeBody(binarySigned, signature));
      const result = await exec(
        'openssl',
        [
          'cms',
          '-verify',
          '-binary',
          '-noverify',
          '-inform',
          'DER',
          '-in',
          'sig.der',
          '-content',
          'content.bin',
          '-out',
          'v.bin',
        ],
        dir,
      );
      expect(result.code, result.stderr).toBe(0);
    });
  });

  it('an LF-only copy of the signed mail still verifies after canonicalize(partBytes)', async () => {
    for (const original of [textSigned, binarySigned]) {
      const lfOnly = toLfOnly(original);
      const root = parseMime(lfOnly);
      const { signed, signature } = signedParts(root);
      expect(partBytes(lfOnly, signed).includes(0x0d)).toBe(false);
      await withTempDir(async (dir) => {
        await makeSigner(dir);
        await writeFile(join(dir, 'content.bin'), canonicalize(partBytes(lfOnly, signed)));
        await writeFile(join(dir, 'sig.der'), decodeBody(lfOnly, signature));
        const result = await exec(
          'openssl',
          [
            'cms',
            '-verify',
            '-binary',
            '-noverify',
            '-inform',
            'DER',
            '-in',
            'sig.der',
            '-content',
            'content.bin',
            '-out',
            'v.bin',
          ],
          dir,
        );
        expect(result.code, result.stderr).toBe(0);
      });
    }
  });

  it('openssl smime -verify accepts the multipart/signed we build around its detached signature', async () => {
    await withTempDir(async (dir) => {
      await makeSigner(dir);
      const entity = toSevenBitSafe(
        Buffer.from(
          'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGrüße aus der Bank  \nFrom now on\n',
        ),
      );
      await writeFile(join(dir, 'entity.eml'), entity);
      const sig = await exec(
        'openssl',
        [
          'cms',
          '-sign',
          '-binary',
          '-outform',
          'DER',
          '-in',
          'entity.eml',
          '-signer',
          'c.pem',
          '-inkey',
          'k.pem',
          '-out',
          'sig.der',
        ],
        dir,
      );
      expect(sig.code, sig.stderr).toBe(0);
      const message = buildMultipartSigned({
        signedPartBytes: entity,
        signatureDer: await readFile(join(dir, 'sig.der')),
        micalg: 'sha-256',
        headers: [
          ['From', 'Alice <alice@example.com>'],
          ['To', 'bob@example.com'],
          ['Subject', 'Kontoauszug für März'],
        ],
      });
      await writeFile(join(dir, 'signed.eml'), message);
      const verify = await exec(
        'openssl',
        [
          'smime',
          '-verify',
          '-in',
          'signed.eml',
          '-CAfile',
          'c.pem',
          '-purpose',
          'any',
          '-out',
          'content.eml',
        ],
        dir,
      );
      expect(verify.code, verify.stderr).toBe(0);
      expect((await readFile(join(dir, 'content.eml'))).equals(entity)).toBe(true);
      // And our own reader returns the same bytes OpenSSL verified.
      const root = parseMime(message);
      const { signed, signature } = signedParts(root);
      expect(partBytes(message, signed).equals(entity)).toBe(true);
      expect(
        await opensslVerifiesDetached(dir, partBytes(message, signed), decodeBody(message, signature)),
      ).toBe(true);
    });
  });

  it('openssl smime -decrypt reads the application/pkcs7-mime we build around its EnvelopedData', async () => {
    await withTempDir(async (dir) => {
      await makeSigner(dir);
      const entity = Buffer.from('Content-Type: text/plain\r\n\r\nsecret statement\r\n');
      await writeFile(join(dir, 'entity.eml'), entity);
      const enc = await exec(
        'openssl',
        [
          'cms',
          '-encrypt',
          '-binary',
          '-aes-256-cbc',
          '-outform',
          'DER',
          '-in',
          'entity.eml',
          '-out',
          'env.der',
          'c.pem',
        ],
        dir,
      );
      expect(enc.code, enc.stderr).toBe(0);
      const message = buildPkcs7Mime({
        der: await readFile(join(dir, 'env.der')),
        smimeType: 'enveloped-data',
        headers: { To: 'bob@example.com' },
      });
      expect(classifySmime(parseMime(message))).toBe('pkcs7-enveloped');
      await writeFile(join(dir, 'enc.eml'), message);
      const dec = await exec(
        'openssl',
        ['smime', '-decrypt', '-in', 'enc.eml', '-recip', 'c.pem', '-inkey', 'k.pem', '-out', 'plain.eml'],
        dir,
      );
      expect(dec.code, dec.stderr).toBe(0);
      expect((await readFile(join(dir, 'plain.eml'))).equals(entity)).toBe(true);
    });
  });
});
