/**
 * CMS interop with Thunderbird's own NSS (3.125, from Debian's thunderbird package; test/helpers/thunderbird-nss.ts):
 * what Thunderbird itself reads and writes. EnvelopedData and SignedData, both directions. Thunderbird reads
 * RSA-OAEP and ECDH, unlike the system NSS 3.87, and does not read AES-GCM AuthEnvelopedData (DESIGN.md): that row
 * asserts the failure, so a Thunderbird that starts reading GCM is noticed. Prints both matrices at the end.
 */
import { createPrivateKey } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decryptEnvelopedData,
  encryptEnvelopedData,
  type DecryptionKey,
  type EnvelopeOptions,
} from '../../../src/pkix/cms/enveloped-data.js';
import { signData, verifySignedData, type SignOptions } from '../../../src/pkix/cms/signed-data.js';
import { thunderbirdNss, type ThunderbirdNss } from '../../helpers/thunderbird-nss.js';
import {
  InteropMatrix,
  legacyPkcs12,
  opensslRecipient,
  tempDir,
  type TempDir,
  type TestRecipient,
} from './envelope-fixtures.js';
import {
  HAVE_OPENSSL,
  OracleMatrix,
  inProcessTsa,
  makeSigningPki,
  type SignerKind,
  type SigningPki,
  type TestIdentity,
  cmsutilVerifyArgs,
  signer0Status,
} from './signed-fixtures.js';

const TB = HAVE_OPENSSL ? thunderbirdNss() : undefined;
/** "NSS 3.125 (Thunderbird)": the matrix columns name the version actually loaded. */
const LABEL = `NSS ${TB?.version.split('.').slice(0, 2).join('.') ?? '?'} (Thunderbird)`;
const CONTENT = Buffer.from(
  'Content-Type: text/plain\r\n\r\nStatement for account 0042: balance 1,234.56 EUR\r\n',
);
/** AlgorithmIdentifier { id-ecPublicKey } with the parameters absent: how we (and OpenSSL) write the originator key. */
const EC_ORIGINATOR_WITHOUT_CURVE = Buffer.from('300906072a8648ce3d0201', 'hex');

const envelopeMatrix = new InteropMatrix();
const signatureMatrix = new OracleMatrix();
let tb: ThunderbirdNss;
let t: TempDir;
let pki: SigningPki;
let rsa: TestRecipient;
let ec: TestRecipient;
let ec384: TestRecipient;
let keys: DecryptionKey[];
const db = (): string => `sql:${t.path('nssdb')}`;

/** Run a Thunderbird NSS tool in the temp dir; throws with its output on a non-zero exit. */
async function nss(tool: 'cmsutil' | 'certutil' | 'pk12util', args: string[]): Promise<string> {
  const r = await tb[tool](args, { cwd: t.dir });
  if (r.code !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout + r.stderr;
}

/** Import a key and certificate (legacy PKCS#12, our writer) under the nickname `who.name`. */
async function importKey(who: TestRecipient): Promise<void> {
  const p12 = await t.write(`${who.name}.p12`, legacyPkcs12(who, 'pw'));
  await nss('pk12util', ['-i', p12, '-d', db(), '-W', 'pw']);
}

const asRecipient = async (id: TestIdentity): Promise<TestRecipient> => ({
  name: id.name,
  certPath: id.certPath,
  keyPath: id.keyPath,
  certificate: id.der,
  privateKey: createPrivateKey(await readFile(id.keyPath)),
});

beforeAll(async () => {
  if (!TB) return;
  tb = TB;
  t = await tempDir('thunderbird-nss');
  [rsa, ec, ec384, pki] = await Promise.all([
    opensslRecipient(t, 'bob', 'rsa'),
    opensslRecipient(t, 'carol', 'P-256'),
    opensslRecipient(t, 'dave', 'P-384'),
    makeSigningPki(),
  ]);
  keys = [rsa, ec, ec384].map((r) => ({ certificate: r.certificate, privateKey: r.privateKey }));
  // One database (made by Thunderbird's certutil) for both halves: the encryption recipients, the signers and the
  // signing PKI's root (trusted for e-mail) and intermediate.
  await mkdir(t.path('nssdb'));
  await nss('certutil', ['-N', '-d', db(), '--empty-password']);
  await nss('certutil', ['-A', '-d', db(), '-n', 'root', '-t', 'CT,C,C', '-i', pki.rootPath]);
  await nss('certutil', ['-A', '-d', db(), '-n', 'issuing', '-t', ',,', '-i', pki.intermediatePath]);
  const signers = await Promise.all([pki.signers.rsa, pki.signers.ec].map(asRecipient));
  for (const who of [rsa, ec, ec384, ...signers]) await importKey(who);
});

afterAll(async () => {
  if (TB) {
    console.log(`\nEnvelopedData interop with ${LABEL} (we = Sealpost):\n${envelopeMatrix.toMarkdown()}\n`);
    signatureMatrix.print(`CMS signature, ${LABEL}`);
  }
  await t?.cleanup();
  await pki?.cleanup();
});

describe.skipIf(!TB)("EnvelopedData ↔ Thunderbird's NSS", () => {
  const READS_OURS = `${LABEL} reads ours`;
  const WE_READ = `we read ${LABEL}`;

  /** cmsutil -D of our message; the exit code, stderr and the recovered content. */
  async function thunderbirdDecrypts(der: Buffer, name: string) {
    const input = await t.write(`${name}.p7m`, der);
    const output = t.path(`${name}.out`);
    const r = await tb.cmsutil(['-D', '-i', input, '-o', output, '-d', db()], { cwd: t.dir });
    return { ...r, content: r.code === 0 ? await readFile(output) : undefined };
  }

  const rows: { row: string; options: () => EnvelopeOptions; ecdh?: boolean }[] = [
    { row: 'RSA v1.5 + AES-256-CBC', options: () => ({ recipients: [{ certificate: rsa.certificate }] }) },
    {
      row: 'RSA-OAEP-SHA256 + AES-256-CBC',
      options: () => ({ recipients: [{ certificate: rsa.certificate, keyTransport: 'rsa-oaep-sha256' }] }),
    },
    {
      row: 'ECDH P-256 (no ukm) + AES-256-CBC',
      options: () => ({ recipients: [{ certificate: ec.certificate }] }),
      ecdh: true,
    },
    {
      row: 'ECDH P-384 (sha384 KDF)',
      options: () => ({ recipients: [{ certificate: ec384.certificate }] }),
      ecdh: true,
    },
  ];
  for (const [i, c] of rows.entries()) {
    it(`cmsutil -D reads ours: ${c.row}`, () =>
      envelopeMatrix.check(c.row, READS_OURS, async () => {
        const der = await encryptEnvelopedData(CONTENT, c.options());
        // Side finding asked for by the design: our originator key names no curve (RFC 5753 §7.1.2 lets the
        // recipient's curve apply); NSS 3.125 must decrypt it as it is.
        if (c.ecdh) expect(der.includes(EC_ORIGINATOR_WITHOUT_CURVE)).toBe(true);
        const r = await thunderbirdDecrypts(der, `ours-${i}`);
        expect(r.code, r.stderr).toBe(0);
        expect(r.content).toEqual(CONTENT);
      }));
  }

  it('cmsutil -D does NOT read ours: AES-256-GCM AuthEnvelopedData (Thunderbird cannot, DESIGN.md)', async () => {
    const row = 'AES-256-GCM AuthEnvelopedData (RSA)';
    const der = await encryptEnvelopedData(CONTENT, {
      recipients: [{ certificate: rsa.certificate }],
      cipher: 'aes-256-gcm',
    });
    const r = await thunderbirdDecrypts(der, 'ours-gcm');
    // Recorded as ✗: the row documents a Thunderbird limit. If this starts passing, update DESIGN.md/INTEROP.md.
    envelopeMatrix.record(row, READS_OURS, r.code === 0);
    expect(r.code, `Thunderbird's NSS ${tb.version} now decrypts AuthEnvelopedData`).not.toBe(0);
    expect(r.content).toBeUndefined();
    // NSS does not know the id-ct-authEnvelopedData content type at all (a broken setup would fail differently).
    expect(r.stderr).toContain('SEC_ERROR_UNRECOGNIZED_OID');
    // and the message itself is fine: we read it back
    expect((await decryptEnvelopedData(der, keys)).content).toEqual(CONTENT);
  });

  // cmsutil -E picks the content cipher itself (no S/MIME profile stored for these recipients: AES-128 up to
  // 128-bit-strength keys, AES-256 for P-384) and always sends ukm with ECDH; it has no option for RSA-OAEP.
  const theyEncrypt: { row: string; to: () => TestRecipient; cipher: string; keyTransport: string }[] = [
    {
      row: 'RSA v1.5 + AES-128-CBC',
      to: () => rsa,
      cipher: 'aes-128-cbc',
      keyTransport: 'rsa-pkcs1',
    },
    {
      row: 'ECDH P-256 with ukm + AES-128-CBC',
      to: () => ec,
      cipher: 'aes-128-cbc',
      keyTransport: 'ecdh-P-256-sha256kdf-aes128-wrap-ukm',
    },
    {
      row: 'ECDH P-384 with ukm + AES-256-CBC',
      to: () => ec384,
      cipher: 'aes-256-cbc',
      keyTransport: 'ecdh-P-384-sha384kdf-aes256-wrap-ukm',
    },
  ];
  for (const [i, c] of theyEncrypt.entries()) {
    it(`we read cmsutil -E output: ${c.row}`, () =>
      envelopeMatrix.check(c.row, WE_READ, async () => {
        const input = await t.write(`they-${i}.txt`, CONTENT);
        await nss('cmsutil', ['-E', '-r', c.to().name, '-i', input, '-o', `they-${i}.p7m`, '-d', db()]);
        const out = await decryptEnvelopedData(await readFile(t.path(`they-${i}.p7m`)), keys);
        expect(out.content).toEqual(CONTENT);
        expect(out.cipher).toBe(c.cipher);
        expect(out.recipient.keyTransport).toBe(c.keyTransport);
        expect(out.recipient.certificate.equals(c.to().certificate)).toBe(true);
      }));
  }
});

describe.skipIf(!TB)("SignedData ↔ Thunderbird's NSS", () => {
  /** `cmsutil -D` status of signer 0 (same flags as the NSS 3.87 test), e.g. "GoodSignature". */
  async function thunderbirdStatus(file: string, contentFile?: string): Promise<string> {
    return signer0Status(await nss('cmsutil', cmsutilVerifyArgs(file, db(), contentFile)));
  }

  const WE_SIGN: { row: string; kind: SignerKind; options?: Partial<SignOptions>; timestamp?: boolean }[] = [
    { row: 'RSA PKCS#1 v1.5, detached', kind: 'rsa' },
    { row: 'RSASSA-PSS, detached', kind: 'rsa', options: { pss: true } },
    { row: 'ECDSA P-256, detached', kind: 'ec' },
    { row: 'ECDSA P-256, opaque', kind: 'ec', options: { detached: false } },
    { row: 'RSA + signature timestamp (CAdES-T)', kind: 'rsa', timestamp: true },
    { row: 'RSASSA-PSS + signature timestamp', kind: 'rsa', options: { pss: true }, timestamp: true },
    { row: 'ECDSA P-256 + signature timestamp', kind: 'ec', timestamp: true },
  ];
  for (const [i, c] of WE_SIGN.entries()) {
    it(`we sign, cmsutil verifies: ${c.row}`, () =>
      signatureMatrix.check(`we sign: ${c.row}`, `${LABEL} cmsutil`, async () => {
        await t.write('content', CONTENT);
        const s = pki.signers[c.kind];
        const der = await signData(CONTENT, {
          signer: s.key,
          certificate: s.der,
          chain: [pki.intermediateDer],
          ...c.options,
          ...(c.timestamp ? { timestamp: inProcessTsa(pki.tsa) } : {}),
        });
        const file = await t.write(`we-${i}.p7s`, der);
        const detached = c.options?.detached !== false;
        expect(await thunderbirdStatus(file, detached ? t.path('content') : undefined)).toBe('GoodSignature');
      }));
  }

  it('we sign, cmsutil reports DigestMismatch for a flipped content byte', () =>
    signatureMatrix.check('we sign: flipped content byte is rejected', `${LABEL} cmsutil`, async () => {
      const s = pki.signers.rsa;
      const file = await t.write(
        'flip.p7s',
        await signData(CONTENT, {
          signer: s.key,
          certificate: s.der,
          chain: [pki.intermediateDer],
          pss: true,
        }),
      );
      const flipped = Buffer.from(CONTENT);
      flipped[5] = (flipped[5] as number) ^ 0x04;
      expect(await thunderbirdStatus(file, await t.write('flipped', flipped))).toBe('DigestMismatch');
    }));

  const THEY_SIGN: { row: string; kind: SignerKind; args: string[]; opaque?: boolean; algorithm: string }[] =
    [
      {
        row: 'RSA, detached, -G -P (signingTime, capabilities)',
        kind: 'rsa',
        args: ['-T', '-G', '-P', '-Y', 'NONE'],
        algorithm: 'rsaEncryption',
      },
      { row: 'RSA, opaque', kind: 'rsa', args: ['-Y', 'NONE'], opaque: true, algorithm: 'rsaEncryption' },
      {
        row: 'ECDSA P-256, detached -H SHA384',
        kind: 'ec',
        args: ['-T', '-G', '-Y', 'NONE', '-H', 'SHA384'],
        algorithm: 'ecdsaWithSHA384',
      },
    ];
  for (const [i, c] of THEY_SIGN.entries()) {
    it(`cmsutil signs, we verify: ${c.row}`, () =>
      signatureMatrix.check(`they sign: ${c.row}`, `${LABEL} cmsutil`, async () => {
        const s = pki.signers[c.kind];
        const input = await t.write(`they-sign-${i}.txt`, CONTENT);
        const out = t.path(`they-${i}.p7s`);
        await nss('cmsutil', ['-S', '-N', s.name, '-i', input, '-d', db(), '-o', out, ...c.args]);
        const der = await readFile(out);
        const result = await verifySignedData(der, c.opaque ? {} : { content: CONTENT });
        const signer = result.signers[0]!;
        expect(signer.problems).toEqual([]);
        expect(signer).toMatchObject({
          signatureValid: true,
          digestMatches: true,
          signatureAlgorithm: c.algorithm,
        });
        expect(signer.signerCertificate?.equals(s.der)).toBe(true);
        if (c.opaque) expect(result.encapsulatedContent?.equals(CONTENT)).toBe(true);
        if (c.args.includes('-G')) expect(signer.signingTime).toBeInstanceOf(Date);
        if (!c.opaque) {
          const flipped = Buffer.from(CONTENT);
          flipped[CONTENT.length - 4] = (flipped[CONTENT.length - 4] as number) ^ 0x01;
          expect((await verifySignedData(der, { content: flipped })).signers[0]!.digestMatches).toBe(false);
        }
      }));
  }
});
