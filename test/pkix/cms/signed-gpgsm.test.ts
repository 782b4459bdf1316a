/**
 * CMS SignedData interop with gpgsm 2.2 (GnuPG's S/MIME), both directions, with the GNUPGHOME recipe from
 * INTEROP.md: CRL checks off, loopback pinentry, the test root in trustlist.txt.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signData, verifySignedData } from '../../../src/pkix/cms/signed-data.js';
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
} from './signed-fixtures.js';

const HAVE_GPGSM = HAVE_OPENSSL && haveOracle('gpgsm') && haveOracle('gpgconf');
const CONTENT = Buffer.from(
  'Content-Type: text/plain\r\n\r\nPassword reset link: https://bank.example/r/abc\r\n',
);
const matrix = new OracleMatrix();

describe.skipIf(!HAVE_GPGSM)('CMS SignedData ↔ gpgsm', () => {
  let pki: SigningPki;
  let env: NodeJS.ProcessEnv;

  const gpgsm = (args: string[]) => runIn(pki.dir, 'gpgsm', ['--batch', ...args], env);

  beforeAll(async () => {
    pki = await makeSigningPki();
    const home = pki.path('gnupg');
    await mkdir(home, { mode: 0o700 });
    env = { ...process.env, GNUPGHOME: home };
    await writeFile(`${home}/gpgsm.conf`, 'disable-crl-checks\n');
    await writeFile(`${home}/gpg-agent.conf`, 'allow-loopback-pinentry\n');
    const fingerprint = (
      await opensslOk(pki.dir, ['x509', '-in', pki.rootPath, '-noout', '-fingerprint', '-sha1'])
    )
      .trim()
      .split('=')[1];
    await writeFile(`${home}/trustlist.txt`, `${fingerprint} S relax\n`);
    await writeFile(pki.path('content'), CONTENT);
    const imported = await gpgsm(['--import', pki.rootPath, pki.intermediatePath]);
    expect(imported.code).toBe(0);
  });
  afterAll(async () => {
    matrix.print('CMS signature (gpgsm 2.2)');
    if (env) await runIn(pki.dir, 'gpgconf', ['--kill', 'gpg-agent'], env);
    await pki?.cleanup();
  });

  const ROWS: { row: string; kind: SignerKind; timestamp?: boolean }[] = [
    { row: 'RSA PKCS#1 v1.5, detached', kind: 'rsa' },
    { row: 'RSA + signature timestamp (CAdES-T)', kind: 'rsa', timestamp: true },
    { row: 'ECDSA P-256, detached', kind: 'ec' },
  ];

  for (const [i, c] of ROWS.entries()) {
    it(`we sign, gpgsm verifies: ${c.row}`, () =>
      matrix.check(`we sign: ${c.row}`, 'gpgsm', async () => {
        const s = pki.signers[c.kind];
        const sig = await signData(CONTENT, {
          signer: s.key,
          certificate: s.der,
          chain: [pki.intermediateDer],
          ...(c.timestamp ? { timestamp: inProcessTsa(pki.tsa) } : {}),
        });
        await writeFile(pki.path(`we-${i}.p7s`), sig);
        const r = await gpgsm(['--verify', `we-${i}.p7s`, 'content']);
        expect(r.stderr).toContain(`Good signature from "/CN=${s.name}`);
        expect(r.code).toBe(0);
      }));
  }

  it('we sign, gpgsm rejects a flipped content byte', () =>
    matrix.check('we sign: flipped content byte is rejected', 'gpgsm', async () => {
      const s = pki.signers.rsa;
      await writeFile(
        pki.path('flip.p7s'),
        await signData(CONTENT, { signer: s.key, certificate: s.der, chain: [pki.intermediateDer] }),
      );
      const flipped = Buffer.from(CONTENT);
      flipped[20] = (flipped[20] as number) ^ 0x02;
      await writeFile(pki.path('flipped'), flipped);
      const r = await gpgsm(['--verify', 'flip.p7s', 'flipped']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('message digest attribute does not match');
    }));

  it('gpgsm signs (RSA, BER output), we verify', () =>
    matrix.check('they sign: RSA detached', 'gpgsm', async () => {
      const s = pki.signers.rsa;
      // gpgsm imports PKCS#12 only with PBE-SHA1-3DES (INTEROP.md): OpenSSL's -legacy export.
      await opensslOk(pki.dir, [
        'pkcs12',
        '-export',
        '-legacy',
        '-in',
        s.certPath,
        '-inkey',
        s.keyPath,
        '-name',
        s.name,
        '-passout',
        'pass:pw',
        '-out',
        'gpgsm.p12',
      ]);
      await writeFile(pki.path('pw'), 'pw\n');
      const withPassword = (args: string[]) =>
        runIn(
          pki.dir,
          'sh',
          ['-c', `gpgsm --batch --pinentry-mode loopback --passphrase-fd 0 ${args.join(' ')} < pw`],
          env,
        );
      expect((await withPassword(['--import', 'gpgsm.p12'])).code).toBe(0);
      const signed = await withPassword([
        '-u',
        s.email,
        '--detach-sign',
        '--include-certs',
        '-1',
        '-o',
        'they.p7s',
        'content',
      ]);
      expect(signed.code).toBe(0);
      const result = await verifySignedData(await readFile(pki.path('they.p7s')), { content: CONTENT });
      const signer = result.signers[0]!;
      expect(signer.problems).toEqual([]);
      expect(signer).toMatchObject({ signatureValid: true, digestMatches: true });
      expect(signer.signerCertificate?.equals(s.der)).toBe(true);
      const flipped = Buffer.from(CONTENT);
      flipped[1] = (flipped[1] as number) ^ 0x01;
      expect(
        (await verifySignedData(await readFile(pki.path('they.p7s')), { content: flipped })).signers[0]!
          .digestMatches,
      ).toBe(false);
    }));
});
