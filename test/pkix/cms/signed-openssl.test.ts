/**
 * CMS SignedData interop with the OpenSSL 3 CLI, both directions: what we sign, `openssl cms -verify` accepts
 * (and rejects after a flipped content byte); what `openssl cms -sign` writes, we verify.
 */
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HashAlgorithm } from '../../../src/crypto/key-handle.js';
import { signData, verifySignedData, type SignOptions } from '../../../src/pkix/cms/signed-data.js';
import { smimeCapabilityName } from '../../../src/pkix/cms/smime-capabilities.js';
import {
  HAVE_OPENSSL,
  OracleMatrix,
  inProcessTsa,
  makeSigningPki,
  opensslOk,
  runIn,
  type SignerKind,
  type SigningPki,
} from './signed-fixtures.js';

const CONTENT = Buffer.from('Content-Type: text/plain\r\n\r\nStatement 2026-01 for account 1234.\r\n');
const matrix = new OracleMatrix();

interface WeSignCase {
  row: string;
  kind: SignerKind;
  options?: Partial<SignOptions>;
  timestamp?: boolean;
}

const WE_SIGN: WeSignCase[] = [
  { row: 'RSA PKCS#1 v1.5, detached, IssuerAndSerial', kind: 'rsa' },
  {
    row: 'RSA PKCS#1 v1.5, opaque, SubjectKeyIdentifier',
    kind: 'rsa',
    options: { detached: false, identifier: 'subjectKeyIdentifier' },
  },
  { row: 'RSA PKCS#1 v1.5 SHA-512, detached', kind: 'rsa', options: { hash: 'sha512' } },
  { row: 'RSASSA-PSS SHA-256, detached', kind: 'rsa', options: { pss: true } },
  {
    row: 'RSASSA-PSS SHA-384, opaque, SubjectKeyIdentifier',
    kind: 'rsa',
    options: { pss: true, hash: 'sha384', detached: false, identifier: 'subjectKeyIdentifier' },
  },
  { row: 'ECDSA P-256 SHA-256, detached', kind: 'ec' },
  {
    row: 'ECDSA P-256 SHA-384, opaque, SubjectKeyIdentifier',
    kind: 'ec',
    options: { hash: 'sha384', detached: false, identifier: 'subjectKeyIdentifier' },
  },
  { row: 'RSA + signature timestamp (CAdES-T)', kind: 'rsa', timestamp: true },
  { row: 'ECDSA + signature timestamp (CAdES-T)', kind: 'ec', timestamp: true, options: { detached: false } },
];

describe.skipIf(!HAVE_OPENSSL)('CMS SignedData ↔ OpenSSL', () => {
  let pki: SigningPki;

  beforeAll(async () => {
    pki = await makeSigningPki();
    await writeFile(pki.path('content'), CONTENT);
    await writeFile(pki.path('chain.pem'), await readFile(pki.intermediatePath));
  });
  afterAll(async () => {
    matrix.print('CMS signature (OpenSSL 3.0)');
    await pki?.cleanup();
  });

  const sign = (c: WeSignCase, content: Buffer | NodeJS.ReadableStream = CONTENT): Promise<Buffer> => {
    const s = pki.signers[c.kind];
    return signData(content, {
      signer: s.key,
      certificate: s.der,
      chain: [pki.intermediateDer],
      encryptionKeyPreference: pki.encryption.der,
      ...(c.timestamp ? { timestamp: inProcessTsa(pki.tsa) } : {}),
      ...c.options,
    });
  };

  /** `openssl cms -verify` on a file in the PKI dir; detached signatures get the content file. */
  const opensslVerify = (file: string, contentFile: string | undefined) =>
    runIn(pki.dir, 'openssl', [
      'cms',
      '-verify',
      '-binary',
      '-inform',
      'DER',
      '-in',
      file,
      ...(contentFile ? ['-content', contentFile] : []),
      '-CAfile',
      pki.rootPath,
      '-purpose',
      'any',
      '-out',
      `${file}.out`,
    ]);

  for (const c of WE_SIGN) {
    it(`we sign, openssl verifies: ${c.row}`, () =>
      matrix.check(`we sign: ${c.row}`, 'openssl', async () => {
        const file = `we-${WE_SIGN.indexOf(c)}.p7s`;
        await writeFile(pki.path(file), await sign(c));
        const detached = c.options?.detached !== false;
        const ok = await opensslVerify(file, detached ? 'content' : undefined);
        expect(ok.stderr).toContain('Verification successful');
        expect(ok.code).toBe(0);
        if (!detached) expect((await readFile(pki.path(`${file}.out`))).equals(CONTENT)).toBe(true);

        const printed = await opensslOk(pki.dir, ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', file]);
        for (const attr of [
          'contentType',
          'signingTime',
          'messageDigest',
          'S/MIME Capabilities',
          'id-smime-aa-signingCertificateV2',
          'id-smime-aa-encrypKeyPref',
        ]) {
          expect(printed).toContain(`object: ${attr} (`);
        }
        expect(printed.includes('id-smime-aa-timeStampToken')).toBe(c.timestamp === true);
        if (c.options?.identifier === 'subjectKeyIdentifier')
          expect(printed).toContain('d.subjectKeyIdentifier');
        if (c.options?.pss) expect(printed).toContain('rsassaPss');
      }));
  }

  it('we sign, openssl rejects the content with one byte flipped', () =>
    matrix.check('we sign: flipped content byte is rejected', 'openssl', async () => {
      await writeFile(pki.path('flip.p7s'), await sign({ row: '', kind: 'rsa' }));
      const flipped = Buffer.from(CONTENT);
      flipped[10] = (flipped[10] as number) ^ 0x01;
      await writeFile(pki.path('flipped'), flipped);
      const r = await opensslVerify('flip.p7s', 'flipped');
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('Verification failure');
    }));

  it('we sign Ed25519 (RFC 8419): OpenSSL 3.0 cms lacks EdDSA, so pkeyutl checks the signature over the signed attributes', () =>
    matrix.check('we sign: Ed25519 (pkeyutl over signedAttrs)', 'openssl', async () => {
      const sig = await sign({ row: '', kind: 'ed25519' });
      await writeFile(pki.path('ed.p7s'), sig);
      const checked = await verifySignedData(sig, { content: CONTENT });
      const signer = checked.signers[0]!;
      expect(signer).toMatchObject({
        digestAlgorithm: 'sha512',
        signatureAlgorithm: 'ed25519',
        signatureValid: true,
        digestMatches: true,
        problems: [],
      });
      // Extract the SignerInfo parts with OpenSSL's own ASN.1 parser, not ours.
      const parsed = await opensslOk(pki.dir, [
        'cms',
        '-cmsout',
        '-print',
        '-inform',
        'DER',
        '-in',
        'ed.p7s',
      ]);
      expect(parsed).toContain('algorithm: ED25519 (1.3.101.112)');
      const { signedAttrs, signature } = await signerInfoPartsByOpenssl('ed.p7s');
      await writeFile(pki.path('ed.attrs'), signedAttrs);
      await writeFile(pki.path('ed.sig'), signature);
      await opensslOk(pki.dir, [
        'x509',
        '-in',
        pki.signers.ed25519.certPath,
        '-pubkey',
        '-noout',
        '-out',
        'ed.pub',
      ]);
      const v = await runIn(pki.dir, 'openssl', [
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        'ed.pub',
        '-rawin',
        '-in',
        'ed.attrs',
        '-sigfile',
        'ed.sig',
      ]);
      expect(v.stdout).toContain('Signature Verified Successfully');
      const digest = (await opensslOk(pki.dir, ['dgst', '-sha512', '-hex', 'content'])).trim().split('= ')[1];
      expect(signedAttrs.toString('hex')).toContain(`0440${digest}`); // messageDigest = SHA-512(content)
    }));

  /** The signed attributes (re-tagged SET) and signature of the first SignerInfo, located by `openssl asn1parse`. */
  async function signerInfoPartsByOpenssl(file: string): Promise<{ signedAttrs: Buffer; signature: Buffer }> {
    const der = await readFile(pki.path(file));
    const lines = (await opensslOk(pki.dir, ['asn1parse', '-inform', 'DER', '-in', file])).split('\n');
    // The SignerInfo's [0] signed attributes is the last "cont [ 0 ]" at depth 5; the signature the last OCTET STRING there.
    const at = (line: string) => {
      const m = /^\s*(\d+):d=(\d+)\s+hl=(\d+)\s+l=\s*(\d+)/.exec(line)!;
      return { offset: Number(m[1]), depth: Number(m[2]), hl: Number(m[3]), length: Number(m[4]) };
    };
    const attrs = at(lines.filter((l) => /d=5 .*cont \[ 0 \]/.test(l)).at(-1)!);
    const sig = at(lines.filter((l) => /d=5 .*OCTET STRING/.test(l)).at(-1)!);
    const signedAttrs = Buffer.from(der.subarray(attrs.offset, attrs.offset + attrs.hl + attrs.length));
    signedAttrs[0] = 0x31;
    return { signedAttrs, signature: der.subarray(sig.offset + sig.hl, sig.offset + sig.hl + sig.length) };
  }

  it('we sign a stream, openssl verifies it', () =>
    matrix.check('we sign: streamed content (4 MiB file)', 'openssl', async () => {
      const big = Buffer.alloc(4 * 1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
      await writeFile(pki.path('big'), big);
      const sig = await sign(
        { row: '', kind: 'ec' },
        createReadStream(pki.path('big'), { highWaterMark: 64 * 1024 }),
      );
      await writeFile(pki.path('big.p7s'), sig);
      const r = await opensslVerify('big.p7s', 'big');
      expect(r.stderr).toContain('Verification successful');
    }));

  interface TheySignCase {
    row: string;
    kind: SignerKind;
    args: string[];
    opaque?: boolean;
    expect: { digest: HashAlgorithm; algorithm: string; ski?: boolean; attrs?: boolean; caps?: boolean };
  }
  const THEY_SIGN: TheySignCase[] = [
    {
      row: 'RSA default attributes',
      kind: 'rsa',
      args: [],
      expect: { digest: 'sha256', algorithm: 'rsaEncryption', caps: true },
    },
    {
      row: 'RSA -nosmimecap',
      kind: 'rsa',
      args: ['-nosmimecap'],
      expect: { digest: 'sha256', algorithm: 'rsaEncryption', caps: false },
    },
    {
      row: 'RSA -keyid (SubjectKeyIdentifier)',
      kind: 'rsa',
      args: ['-keyid'],
      expect: { digest: 'sha256', algorithm: 'rsaEncryption', ski: true },
    },
    {
      row: 'RSA -noattr (signature over content)',
      kind: 'rsa',
      args: ['-noattr'],
      expect: { digest: 'sha256', algorithm: 'rsaEncryption', attrs: false },
    },
    {
      row: 'RSA -md sha384',
      kind: 'rsa',
      args: ['-md', 'sha384'],
      expect: { digest: 'sha384', algorithm: 'rsaEncryption' },
    },
    {
      row: 'RSASSA-PSS',
      kind: 'rsa',
      args: ['-keyopt', 'rsa_padding_mode:pss'],
      expect: { digest: 'sha256', algorithm: 'rsassaPss' },
    },
    { row: 'ECDSA P-256', kind: 'ec', args: [], expect: { digest: 'sha256', algorithm: 'ecdsaWithSHA256' } },
    {
      row: 'ECDSA P-256 -md sha512, opaque',
      kind: 'ec',
      args: ['-md', 'sha512', '-nodetach'],
      opaque: true,
      expect: { digest: 'sha512', algorithm: 'ecdsaWithSHA512' },
    },
  ];

  for (const c of THEY_SIGN) {
    it(`openssl signs, we verify: ${c.row}`, () =>
      matrix.check(`they sign: ${c.row}`, 'openssl', async () => {
        const s = pki.signers[c.kind];
        const file = `they-${THEY_SIGN.indexOf(c)}.p7s`;
        await opensslOk(pki.dir, [
          'cms',
          '-sign',
          '-binary',
          '-in',
          'content',
          '-signer',
          s.certPath,
          '-inkey',
          s.keyPath,
          '-certfile',
          'chain.pem',
          '-outform',
          'DER',
          '-out',
          file,
          ...c.args,
        ]);
        const der = await readFile(pki.path(file));
        const result = await verifySignedData(der, c.opaque ? {} : { content: CONTENT });
        expect(result.signers).toHaveLength(1);
        const signer = result.signers[0]!;
        expect(signer.problems).toEqual([]);
        expect(signer).toMatchObject({
          signatureValid: true,
          digestMatches: true,
          digestAlgorithm: c.expect.digest,
          signatureAlgorithm: c.expect.algorithm,
        });
        expect(signer.signerCertificate?.equals(s.der)).toBe(true);
        expect(signer.certificates.some((cert) => cert.equals(pki.intermediateDer))).toBe(true);
        expect(signer.signerIdentifier.startsWith(c.expect.ski ? 'ski=' : 'issuer=')).toBe(true);
        if (c.expect.attrs !== false) expect(signer.signingTime).toBeInstanceOf(Date);
        if (c.expect.caps === true)
          expect(signer.capabilities?.map(smimeCapabilityName)).toContain('aes256-cbc');
        if (c.expect.caps === false) expect(signer.capabilities).toBeUndefined();
        if (c.opaque) expect(result.encapsulatedContent?.equals(CONTENT)).toBe(true);

        const flipped = Buffer.from(CONTENT);
        flipped[CONTENT.length - 3] = (flipped[CONTENT.length - 3] as number) ^ 0x20;
        if (!c.opaque) {
          const bad = (await verifySignedData(der, { content: flipped })).signers[0]!;
          expect(bad.digestMatches).toBe(false);
          expect(bad.problems.length).toBeGreaterThan(0);
        }
      }));
  }

  it('openssl-signed content with one byte flipped: digestMatches is false and says the content was altered', () =>
    matrix.check('they sign: flipped content byte → digestMatches false', 'openssl', async () => {
      const s = pki.signers.ec;
      await opensslOk(pki.dir, [
        'cms',
        '-sign',
        '-binary',
        '-in',
        'content',
        '-signer',
        s.certPath,
        '-inkey',
        s.keyPath,
        '-outform',
        'DER',
        '-out',
        'they-flip.p7s',
      ]);
      const flipped = Buffer.from(CONTENT);
      flipped[0] = (flipped[0] as number) ^ 0x01;
      const r = (await verifySignedData(await readFile(pki.path('they-flip.p7s')), { content: flipped }))
        .signers[0]!;
      expect(r.digestMatches).toBe(false);
      expect(r.signatureValid).toBe(true); // the signed attributes themselves are intact
      expect(r.problems.join(' ')).toContain('content was altered');
    }));
});
