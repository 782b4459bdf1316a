/**
 * S/MIME messages against NSS 3.87 `cmsutil` and gpgsm 2.2, which read CMS but not MIME: the parts are
 * extracted from (or wrapped into) our messages exactly as a mail client would. Prints the message matrix.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptMessage, encryptMessage, signMessage, verifyMessage } from '../../src/smime/index.js';
import {
  buildMultipartSigned,
  buildPkcs7Mime,
  decodeBody,
  parseMime,
  partBytes,
} from '../../src/smime/mime/index.js';
import { haveOracle } from '../helpers/run.js';
import { MessageMatrix, P12_PASSWORD, exec, sampleMessage, startPki, type SmimePki } from './fixtures.js';

const HAVE_NSS =
  haveOracle('openssl') && haveOracle('cmsutil') && haveOracle('certutil') && haveOracle('pk12util');
const HAVE_GPGSM = haveOracle('openssl') && haveOracle('gpgsm') && haveOracle('gpgconf');
const matrix = new MessageMatrix();
const NSS = 'NSS 3.87 `cmsutil`';
const GPGSM = 'gpgsm 2.2';

/** The signed part (exact bytes) and the detached signature DER of a multipart/signed message. */
function detachedParts(message: Buffer): { content: Buffer; signature: Buffer } {
  const root = parseMime(message);
  const [content, signature] = root.children ?? [];
  if (!content || !signature) throw new Error('not multipart/signed');
  return { content: Buffer.from(partBytes(message, content)), signature: decodeBody(message, signature) };
}

describe.skipIf(!HAVE_NSS && !HAVE_GPGSM)('S/MIME messages ↔ NSS cmsutil and gpgsm', () => {
  let pki: SmimePki;
  let gpgEnv: NodeJS.ProcessEnv;
  const db = (): string => `sql:${pki.path('nssdb')}`;

  beforeAll(async () => {
    pki = await startPki();
    await writeFile(pki.path('pw'), `${P12_PASSWORD}\n`);
    if (HAVE_NSS) {
      await mkdir(pki.path('nssdb'));
      expect((await exec('certutil', ['-N', '-d', db(), '--empty-password'], pki.dir)).code).toBe(0);
      expect(
        (
          await exec(
            'certutil',
            ['-A', '-d', db(), '-n', 'root', '-t', 'CT,C,C', '-i', pki.rootPath],
            pki.dir,
          )
        ).code,
      ).toBe(0);
      const imported = await exec(
        'pk12util',
        ['-i', pki.users.bob.encryption.p12Path, '-W', P12_PASSWORD, '-d', db()],
        pki.dir,
      );
      expect(imported.code, imported.stderr).toBe(0);
    }
    if (HAVE_GPGSM) {
      const home = pki.path('gnupg');
      await mkdir(home, { mode: 0o700 });
      gpgEnv = { ...process.env, GNUPGHOME: home };
      await writeFile(`${home}/gpgsm.conf`, 'disable-crl-checks\n');
      await writeFile(`${home}/gpg-agent.conf`, 'allow-loopback-pinentry\n');
      const fp = (
        await exec('openssl', ['x509', '-in', pki.rootPath, '-noout', '-fingerprint', '-sha1'], pki.dir)
      ).stdout
        .toString()
        .trim()
        .split('=')[1];
      await writeFile(`${home}/trustlist.txt`, `${fp} S relax\n`);
      expect((await gpgsm(['--import', pki.chainPath])).code).toBe(0);
      for (const p12 of [pki.users.bob.encryption.p12Path, pki.users.alice.signing.p12Path]) {
        const r = await gpgsmWithPassword(['--import', p12]);
        expect(r.code, r.stderr).toBe(0);
      }
    }
  }, 60_000);
  afterAll(async () => {
    matrix.print('S/MIME messages (NSS 3.87, gpgsm 2.2)');
    if (gpgEnv) await exec('gpgconf', ['--kill', 'gpg-agent'], pki.dir, { env: gpgEnv });
    await pki?.close();
  });

  const gpgsm = (args: string[]) => exec('gpgsm', ['--batch', ...args], pki.dir, { env: gpgEnv });
  const gpgsmWithPassword = (args: string[]) =>
    exec(
      'sh',
      ['-c', `gpgsm --batch --pinentry-mode loopback --passphrase-fd 0 ${args.join(' ')} < pw`],
      pki.dir,
      { env: gpgEnv },
    );

  const signed = async () =>
    signMessage(sampleMessage(), {
      signer: pki.users.alice.signing.credential,
      encryptionCertificate: pki.users.alice.encryption.credential.certificate,
    });
  const encrypted = async () =>
    encryptMessage(sampleMessage(), {
      recipients: [{ certificate: pki.users.bob.encryption.credential.certificate }],
      sender: { certificate: pki.users.alice.encryption.credential.certificate },
    });

  it.skipIf(!HAVE_NSS)('NSS: cmsutil verifies our multipart/signed parts and decrypts our p7m', async () => {
    await matrix.check('we sign (multipart/signed) → they verify the extracted parts', NSS, async () => {
      const { content, signature } = detachedParts(await signed());
      await writeFile(pki.path('signedpart'), content);
      await writeFile(pki.path('smime.p7s'), signature);
      const r = await exec(
        'cmsutil',
        ['-D', '-c', 'signedpart', '-i', 'smime.p7s', '-d', db(), '-n', '-h', '2'],
        pki.dir,
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.toString()).toMatch(/signer0\.status=GoodSignature/);
      const flipped = Buffer.from(content);
      flipped[flipped.length - 40] = (flipped[flipped.length - 40] as number) ^ 0x01;
      await writeFile(pki.path('signedpart-flipped'), flipped);
      const bad = await exec(
        'cmsutil',
        ['-D', '-c', 'signedpart-flipped', '-i', 'smime.p7s', '-d', db(), '-n', '-h', '2'],
        pki.dir,
      );
      expect(bad.stdout.toString()).not.toMatch(/signer0\.status=GoodSignature/);
    });
    await matrix.check('we encrypt → they decrypt the extracted p7m', NSS, async () => {
      const message = await encrypted();
      await writeFile(pki.path('smime.p7m'), decodeBody(message, parseMime(message)));
      const r = await exec('cmsutil', ['-D', '-i', 'smime.p7m', '-d', db()], pki.dir);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.toString('utf8')).toContain('Grüße aus der Bank');
    });
    await matrix.check('they encrypt → we decrypt the wrapped p7m', NSS, async () => {
      await writeFile(
        pki.path('entity'),
        'Content-Type: text/plain; charset=us-ascii\r\n\r\nNSS says hello.\r\n',
      );
      const nick = (await exec('certutil', ['-L', '-d', db()], pki.dir)).stdout
        .toString()
        .split('\n')
        .find((l) => /bob/i.test(l))
        ?.replace(/\s+u,u,u\s*$/, '')
        .trim();
      const r = await exec('cmsutil', ['-E', '-r', nick ?? 'bob', '-i', 'entity', '-d', db()], pki.dir);
      expect(r.code, r.stderr).toBe(0);
      const message = buildPkcs7Mime({
        der: r.stdout,
        smimeType: 'enveloped-data',
        headers: [['From', 'nss@bank.example']],
      });
      const d = await decryptMessage(message, [pki.users.bob.encryption.credential]);
      expect(d.message.toString()).toContain('NSS says hello.');
    });
  });

  it.skipIf(!HAVE_GPGSM)(
    'gpgsm: verifies our parts, decrypts our p7m; we verify its signature and decrypt its output',
    async () => {
      await matrix.check('we sign (multipart/signed) → they verify the extracted parts', GPGSM, async () => {
        const { content, signature } = detachedParts(await signed());
        await writeFile(pki.path('g-signedpart'), content);
        await writeFile(pki.path('g.p7s'), signature);
        const r = await gpgsm(['--verify', 'g.p7s', 'g-signedpart']);
        expect(r.stderr).toContain('Good signature');
        expect(r.code).toBe(0);
      });
      await matrix.check('we encrypt → they decrypt the extracted p7m', GPGSM, async () => {
        const message = await encrypted();
        await writeFile(pki.path('g.p7m'), decodeBody(message, parseMime(message)));
        const r = await gpgsmWithPassword(['--decrypt', 'g.p7m']);
        // gpgsm 2.2 decrypts with Bob's key but exits 2 because it cannot look up the other recipient (the sender
        // copy for Alice), whose certificate it has never seen; that is the only error allowed here.
        const errors = r.stderr.split('\n').filter((l) => /error|fail/i.test(l));
        expect(
          errors.every((l) => l.includes('failed to find the certificate')),
          r.stderr,
        ).toBe(true);
        expect(r.stdout.toString('utf8')).toContain('Grüße aus der Bank');
      });
      await matrix.check(
        'they sign detached, wrapped as multipart/signed → we verify valid',
        GPGSM,
        async () => {
          const entity = Buffer.from(
            'Content-Type: text/plain; charset=us-ascii\r\n\r\nSigned by gpgsm.\r\n',
          );
          await writeFile(pki.path('g-entity'), entity);
          const r = await gpgsmWithPassword([
            '-u',
            pki.users.alice.email,
            '--detach-sign',
            '--include-certs',
            '-1',
            '-o',
            'g-they.p7s',
            'g-entity',
          ]);
          expect(r.code, r.stderr).toBe(0);
          const message = buildMultipartSigned({
            signedPartBytes: entity,
            signatureDer: await readFile(pki.path('g-they.p7s')),
            micalg: 'sha-256',
            headers: [
              ['From', pki.users.alice.email],
              ['Subject', 'gpgsm'],
            ],
          });
          const v = await verifyMessage(message, { trustAnchors: [pki.rootDer] });
          expect(v.verdict, JSON.stringify(v.checks)).toBe('valid');
        },
      );
      await matrix.check('they encrypt → we decrypt the wrapped p7m', GPGSM, async () => {
        await writeFile(pki.path('g-plain'), 'Content-Type: text/plain\r\n\r\nEncrypted by gpgsm.\r\n');
        const r = await gpgsm(['--encrypt', '-r', pki.users.bob.email, '-o', 'g-they.p7m', 'g-plain']);
        expect(r.code, r.stderr).toBe(0);
        const message = buildPkcs7Mime({
          der: await readFile(pki.path('g-they.p7m')),
          smimeType: 'enveloped-data',
        });
        const d = await decryptMessage(message, [pki.users.bob.encryption.credential]);
        expect(d.message.toString()).toContain('Encrypted by gpgsm.');
      });
    },
  );
});
