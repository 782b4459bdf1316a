/**
 * CMS SignedData interop with NSS `cmsutil` (system NSS), both directions. NSS writes BER with indefinite
 * lengths, which our reader must accept while hashing the signed attributes exactly as received.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signData, verifySignedData, type SignOptions } from '../../../src/pkix/cms/signed-data.js';
import { smimeCapabilityName } from '../../../src/pkix/cms/smime-capabilities.js';
import { parseCertificate } from '../../../src/pkix/certificate.js';
import { haveOracle } from '../../helpers/run.js';
import {
  HAVE_OPENSSL,
  OracleMatrix,
  inProcessTsa,
  makeSigningPki,
  opensslOk,
  runIn,
  type SignerKind,
  type SigningPki,
  cmsutilVerifyArgs,
  signer0Status,
} from './signed-fixtures.js';

const HAVE_NSS = HAVE_OPENSSL && haveOracle('cmsutil') && haveOracle('certutil') && haveOracle('pk12util');
const CONTENT = Buffer.from('Content-Type: text/plain\r\n\r\nYour one-time code is 493 117.\r\n');
const matrix = new OracleMatrix();

describe.skipIf(!HAVE_NSS)('CMS SignedData ↔ NSS cmsutil', () => {
  let pki: SigningPki;
  const db = (): string => `sql:${pki.path('nssdb')}`;

  /** Run an NSS tool and fail with its output when it exits non-zero. */
  async function nss(cmd: string, args: string[]): Promise<string> {
    const r = await runIn(pki.dir, cmd, args);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout + r.stderr;
  }

  beforeAll(async () => {
    pki = await makeSigningPki();
    await writeFile(pki.path('content'), CONTENT);
    await nss('mkdir', ['nssdb']);
    await nss('certutil', ['-N', '-d', db(), '--empty-password']);
    await nss('certutil', ['-A', '-d', db(), '-n', 'root', '-t', 'CT,C,C', '-i', pki.rootPath]);
    // cmsutil -Y only names a certificate whose private key is in the database, so all three go in as PKCS#12.
    for (const s of [pki.signers.rsa, pki.signers.ec, pki.encryption]) {
      await opensslOk(pki.dir, [
        'pkcs12',
        '-export',
        '-in',
        s.certPath,
        '-inkey',
        s.keyPath,
        '-certfile',
        pki.intermediatePath,
        '-name',
        s.name,
        '-passout',
        'pass:pw',
        '-out',
        `${s.name}.p12`,
      ]);
      await nss('pk12util', ['-i', `${s.name}.p12`, '-W', 'pw', '-d', db()]);
    }
  });
  afterAll(async () => {
    matrix.print('CMS signature (NSS 3.87 cmsutil)');
    await pki?.cleanup();
  });

  /** `cmsutil -D` status line for signer 0, e.g. "GoodSignature" or "DigestMismatch". */
  async function nssStatus(file: string, contentFile?: string): Promise<string> {
    return signer0Status(await nss('cmsutil', cmsutilVerifyArgs(file, db(), contentFile)));
  }

  const WE_SIGN: { row: string; kind: SignerKind; options?: Partial<SignOptions> }[] = [
    { row: 'RSA PKCS#1 v1.5, detached', kind: 'rsa' },
    {
      row: 'RSA PKCS#1 v1.5, opaque, SubjectKeyIdentifier',
      kind: 'rsa',
      options: { detached: false, identifier: 'subjectKeyIdentifier' },
    },
    { row: 'RSASSA-PSS, detached', kind: 'rsa', options: { pss: true } },
    { row: 'ECDSA P-256, detached', kind: 'ec' },
    { row: 'ECDSA P-256 SHA-384, opaque', kind: 'ec', options: { hash: 'sha384', detached: false } },
    { row: 'RSA + signature timestamp (CAdES-T)', kind: 'rsa', options: { timestamp: undefined } },
  ];

  for (const [i, c] of WE_SIGN.entries()) {
    it(`we sign, cmsutil verifies: ${c.row}`, () =>
      matrix.check(`we sign: ${c.row}`, 'NSS cmsutil', async () => {
        const s = pki.signers[c.kind];
        const options: SignOptions = {
          signer: s.key,
          certificate: s.der,
          chain: [pki.intermediateDer],
          ...c.options,
        };
        if (c.row.includes('timestamp')) options.timestamp = inProcessTsa(pki.tsa);
        await writeFile(pki.path(`we-${i}.p7s`), await signData(CONTENT, options));
        const detached = c.options?.detached !== false;
        expect(await nssStatus(`we-${i}.p7s`, detached ? 'content' : undefined)).toBe('GoodSignature');
      }));
  }

  it('we sign, cmsutil reports DigestMismatch for a flipped content byte', () =>
    matrix.check('we sign: flipped content byte is rejected', 'NSS cmsutil', async () => {
      const s = pki.signers.ec;
      await writeFile(
        pki.path('flip.p7s'),
        await signData(CONTENT, { signer: s.key, certificate: s.der, chain: [pki.intermediateDer] }),
      );
      const flipped = Buffer.from(CONTENT);
      flipped[5] = (flipped[5] as number) ^ 0x04;
      await writeFile(pki.path('flipped'), flipped);
      expect(await nssStatus('flip.p7s', 'flipped')).toBe('DigestMismatch');
    }));

  const THEY_SIGN: { row: string; kind: SignerKind; args: string[]; opaque?: boolean; algorithm: string }[] =
    [
      {
        row: 'RSA, detached, -G -P -Y (signingTime, capabilities, key preference)',
        kind: 'rsa',
        args: ['-T', '-G', '-P', '-Y', 'alice-enc'],
        algorithm: 'rsaEncryption',
      },
      {
        row: 'RSA, opaque (BER, indefinite lengths)',
        kind: 'rsa',
        args: ['-Y', 'NONE'],
        opaque: true,
        algorithm: 'rsaEncryption',
      },
      {
        row: 'ECDSA P-256, detached -H SHA384',
        kind: 'ec',
        args: ['-T', '-G', '-Y', 'NONE', '-H', 'SHA384'],
        algorithm: 'ecdsaWithSHA384',
      },
    ];

  for (const [i, c] of THEY_SIGN.entries()) {
    it(`cmsutil signs, we verify: ${c.row}`, () =>
      matrix.check(`they sign: ${c.row}`, 'NSS cmsutil', async () => {
        const s = pki.signers[c.kind];
        await nss('cmsutil', [
          '-S',
          '-N',
          s.name,
          '-i',
          'content',
          '-d',
          db(),
          '-o',
          `they-${i}.p7s`,
          ...c.args,
        ]);
        const der = await readFile(pki.path(`they-${i}.p7s`));
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
        if (c.args.includes('-P'))
          expect(signer.capabilities?.map(smimeCapabilityName)).toContain('aes256-cbc');
        if (c.args.includes('alice-enc')) {
          const enc = parseCertificate(pki.encryption.der);
          expect(signer.encryptionKeyPreference).toMatchObject({ serialHex: enc.serialHex });
        }
        if (!c.opaque) {
          const flipped = Buffer.from(CONTENT);
          flipped[CONTENT.length - 4] = (flipped[CONTENT.length - 4] as number) ^ 0x01;
          expect((await verifySignedData(der, { content: flipped })).signers[0]!.digestMatches).toBe(false);
        }
      }));
  }
});
