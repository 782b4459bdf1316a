/**
 * S/MIME at the message level against OpenSSL 3 (`openssl smime` / `openssl cms`), both directions, with
 * certificates, OCSP and TSA from Sealpost's own server running in process. Prints the message matrix.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decryptMessage,
  encryptMessage,
  openMessage,
  sendReadyMessage,
  signMessage,
  verifyMessage,
} from '../../src/smime/index.js';
import { haveOracle } from '../helpers/run.js';
import { MessageMatrix, exec, sampleMessage, startPki, type SmimePki } from './fixtures.js';

const HAVE_OPENSSL = haveOracle('openssl');
const matrix = new MessageMatrix();
const OPENSSL = 'OpenSSL 3.0 (`openssl smime`/`cms`)';

describe.skipIf(!HAVE_OPENSSL)('S/MIME messages ↔ OpenSSL', () => {
  let pki: SmimePki;
  const openssl = (args: string[], input?: Buffer) => exec('openssl', args, pki.dir, input ? { input } : {});
  const trust = () => ({ trustAnchors: [pki.rootDer] });

  beforeAll(async () => {
    pki = await startPki();
  }, 60_000);
  afterAll(async () => {
    matrix.print('S/MIME messages (OpenSSL 3.0)');
    await pki?.close();
  });

  const aliceSigner = () => ({
    signer: pki.users.alice.signing.credential,
    encryptionCertificate: pki.users.alice.encryption.credential.certificate,
  });

  for (const format of ['multipart-signed', 'opaque'] as const) {
    it(`we sign (${format}) → openssl smime -verify outputs the original content; a flipped byte fails`, async () => {
      await matrix.check(`we sign (${format}) → they verify, content intact`, OPENSSL, async () => {
        const signed = await signMessage(sampleMessage(), { ...aliceSigner(), format });
        await writeFile(pki.path(`signed-${format}.eml`), signed);
        const r = await openssl(['smime', '-verify', '-in', `signed-${format}.eml`, '-CAfile', 'root.pem']);
        expect(r.stderr).toContain('Verification successful');
        expect(r.code).toBe(0);
        const out = r.stdout.toString('utf8');
        expect(out).toContain('Gr=C3=BC=C3=9Fe aus der Bank'); // the 8-bit body, now quoted-printable
        expect(out).toContain(Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0a, 0x0d, 0x80, 0x81]).toString('base64'));
        expect((await verifyMessage(signed, trust())).verdict).toBe('valid');
      });
      await matrix.check(`we sign (${format}), one byte flipped → they reject`, OPENSSL, async () => {
        const signed = await signMessage(sampleMessage(), { ...aliceSigner(), format });
        const text = signed.toString('latin1');
        const at =
          format === 'opaque'
            ? text.indexOf('\r\n\r\n', text.indexOf('smime.p7m')) + 200
            : text.indexOf('Zweite Zeile');
        const flipped = Buffer.from(signed);
        flipped[at] = (flipped[at] as number) ^ (format === 'opaque' ? 0x01 : 0x20);
        await writeFile(pki.path('flipped.eml'), flipped);
        const r = await openssl(['smime', '-verify', '-in', 'flipped.eml', '-CAfile', 'root.pem']);
        expect(r.code).not.toBe(0);
        expect(['tampered', 'malformed']).toContain((await verifyMessage(flipped, trust())).verdict);
      });
    });
  }

  it('openssl smime -sign (detached and -nodetach) and openssl cms -sign with LF-only input → we verify valid', async () => {
    const { alice } = pki.users;
    const body = Buffer.from(
      'Content-Type: text/plain; charset=us-ascii\n\nPlease confirm the transfer of EUR 10.\nRegards\n',
    );
    await writeFile(pki.path('body-lf.txt'), body);
    await writeFile(
      pki.path('issuing.pem'),
      (await readFile(pki.chainPath, 'latin1')).split('-----END CERTIFICATE-----')[0] +
        '-----END CERTIFICATE-----\n',
    );
    const common = [
      '-in',
      'body-lf.txt',
      '-signer',
      alice.signing.certPath,
      '-inkey',
      alice.signing.keyPath,
      '-certfile',
      'issuing.pem',
      '-from',
      alice.email,
      '-to',
      'bob@bank.example',
      '-subject',
      'Transfer',
    ];
    const variants: [string, string[]][] = [
      ['openssl smime -sign, detached', ['smime', '-sign', ...common]],
      ['openssl smime -sign -nodetach', ['smime', '-sign', '-nodetach', ...common]],
      ['openssl cms -sign, LF-only input', ['cms', '-sign', ...common]],
    ];
    for (const [row, args] of variants) {
      await matrix.check(`they sign (${row}) → we verify valid`, OPENSSL, async () => {
        const r = await openssl(args);
        expect(r.code, r.stderr).toBe(0);
        const v = await verifyMessage(r.stdout, trust());
        expect(v.verdict, JSON.stringify(v.checks)).toBe('valid');
        expect(v.from).toBe(alice.email);
        expect(v.content?.toString()).toContain('Please confirm the transfer of EUR 10.\r\n');
      });
    }
  });

  it('a relay that rewrote the signed part CRLF→LF makes it tampered', async () => {
    await matrix.check('signed part rewritten CRLF→LF by a relay → we say tampered', OPENSSL, async () => {
      const signed = (await signMessage(sampleMessage(), aliceSigner())).toString('latin1');
      const start = signed.indexOf('Content-Type: multipart/mixed');
      const end = signed.indexOf('--mixed-b0undary--') + 20;
      const rewritten =
        signed.slice(0, start) + signed.slice(start, end).replace(/\r\n/g, '\n') + signed.slice(end);
      const v = await verifyMessage(Buffer.from(rewritten, 'latin1'), trust());
      expect(v.verdict).toBe('tampered');
      expect(v.ok).toBe(false);
    });
  });

  it('we encrypt → openssl smime -decrypt; they encrypt (-aes256) → we decrypt', async () => {
    const { bob, alice } = pki.users;
    await matrix.check(
      'we encrypt (AES-256-CBC, RSA v1.5, sender added) → they decrypt',
      OPENSSL,
      async () => {
        const encrypted = await encryptMessage(sampleMessage(), {
          recipients: [{ certificate: bob.encryption.credential.certificate }],
          sender: { certificate: alice.encryption.credential.certificate },
        });
        await writeFile(pki.path('enc.eml'), encrypted);
        expect(encrypted.toString()).toContain('smime-type=enveloped-data');
        for (const user of [bob, alice]) {
          const r = await openssl([
            'smime',
            '-decrypt',
            '-in',
            'enc.eml',
            '-recip',
            user.encryption.certPath,
            '-inkey',
            user.encryption.keyPath,
          ]);
          expect(r.code, r.stderr).toBe(0);
          expect(r.stdout.toString('utf8')).toContain('Grüße aus der Bank');
        }
      },
    );
    await matrix.check('they encrypt (-aes256) → we decrypt', OPENSSL, async () => {
      await writeFile(pki.path('plain.eml'), sampleMessage());
      const r = await openssl([
        'smime',
        '-encrypt',
        '-aes256',
        '-in',
        'plain.eml',
        '-from',
        alice.email,
        '-subject',
        'Encrypted',
        bob.encryption.certPath,
      ]);
      expect(r.code, r.stderr).toBe(0);
      const d = await decryptMessage(r.stdout, [bob.encryption.credential]);
      expect(d.cipher).toBe('aes-256-cbc');
      expect(d.message.toString('utf8')).toContain('Grüße aus der Bank');
      expect(d.message.toString('utf8')).toMatch(/^From: alice@bank\.example\r?$/m);
    });
  });

  it('AES-GCM only for recipients who advertise it (AuthEnvelopedData); octet-stream *.p7m is decrypted too', async () => {
    const { bob } = pki.users;
    await matrix.check(
      'we encrypt to a GCM-capable recipient (AuthEnvelopedData, OAEP) → they decrypt',
      OPENSSL,
      async () => {
        const signedByBob = await verifyMessage(
          await signMessage(sampleMessage('Bob <bob@bank.example>'), { signer: bob.signing.credential }),
          trust(),
        );
        const capabilities = signedByBob.signer?.capabilities; // harvested from Bob's signed mail
        expect(capabilities?.length).toBeGreaterThan(0);
        const encrypted = await encryptMessage(sampleMessage(), {
          recipients: [
            { certificate: bob.encryption.credential.certificate, ...(capabilities ? { capabilities } : {}) },
          ],
          includeSender: false,
        });
        expect(encrypted.toString()).toContain('smime-type=authEnveloped-data');
        await writeFile(pki.path('gcm.eml'), encrypted);
        const r = await openssl([
          'cms',
          '-decrypt',
          '-in',
          'gcm.eml',
          '-recip',
          bob.encryption.certPath,
          '-inkey',
          bob.encryption.keyPath,
        ]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout.toString('utf8')).toContain('Grüße aus der Bank');
        expect((await decryptMessage(encrypted, [bob.encryption.credential])).cipher).toBe('aes-256-gcm');
      },
    );
    const plain = await encryptMessage(sampleMessage(), {
      recipients: [{ certificate: bob.encryption.credential.certificate }],
      includeSender: false,
    });
    const relabelled = Buffer.from(
      plain
        .toString('latin1')
        .replace(
          /Content-Type: application\/pkcs7-mime;[^\r]*/,
          'Content-Type: application/octet-stream; name="smime.p7m"',
        ),
      'latin1',
    );
    expect(relabelled.toString()).toContain('application/octet-stream');
    expect(
      (await decryptMessage(relabelled, [bob.encryption.credential])).message.toString('utf8'),
    ).toContain('Zweite Zeile');
  });

  it('send-ready (sign + timestamp + encrypt) → openssl smime -decrypt | openssl smime -verify', async () => {
    const { bob } = pki.users;
    await matrix.check(
      'send-ready (sign + TSA timestamp + encrypt) → they decrypt then verify',
      OPENSSL,
      async () => {
        const out = await sendReadyMessage(sampleMessage(), {
          ...aliceSigner(),
          timestamp: pki.tsaUrl,
          recipients: [{ certificate: bob.encryption.credential.certificate }],
        });
        await writeFile(pki.path('ready.eml'), out);
        const d = await openssl([
          'smime',
          '-decrypt',
          '-in',
          'ready.eml',
          '-recip',
          bob.encryption.certPath,
          '-inkey',
          bob.encryption.keyPath,
        ]);
        expect(d.code, d.stderr).toBe(0);
        const v = await openssl(['smime', '-verify', '-CAfile', 'root.pem'], d.stdout);
        expect(v.stderr).toContain('Verification successful');
        expect(v.stdout.toString('utf8')).toContain('Zweite Zeile');
        const ours = await openMessage(out, { ...trust(), keys: [bob.encryption.credential] });
        expect(ours.layers.map((l) => l.type)).toEqual(['encrypted', 'signed']);
        expect(ours.verification.verdict).toBe('valid');
        expect(ours.verification.signer?.timestampTime).toBeInstanceOf(Date);
        expect(ours.verification.checks.some((c) => c.name === 'timestamp token' && c.ok)).toBe(true);
      },
    );
    await matrix.check('triple wrap → they verify the outer layer, we open all three', OPENSSL, async () => {
      const out = await sendReadyMessage(sampleMessage(), {
        ...aliceSigner(),
        recipients: [{ certificate: bob.encryption.credential.certificate }],
        tripleWrap: true,
      });
      await writeFile(pki.path('triple.eml'), out);
      const outer = await openssl(['smime', '-verify', '-in', 'triple.eml', '-CAfile', 'root.pem']);
      expect(outer.code, outer.stderr).toBe(0);
      const ours = await openMessage(out, { ...trust(), keys: [bob.encryption.credential] });
      expect(ours.layers.map((l) => l.type)).toEqual(['signed', 'encrypted', 'signed']);
      expect(ours.verification.verdict).toBe('valid');
    });
  });

  it('a revoked signer → revoked; From differs from the certificate → address-mismatch', async () => {
    const dave = await pki.issue('dave@bank.example', 'dave');
    const signed = await signMessage(sampleMessage('Dave <dave@bank.example>'), {
      signer: dave.signing.credential,
    });
    expect((await verifyMessage(signed, trust())).verdict).toBe('valid');
    await pki.ctx.ca.revoke({ serial: dave.signing.serial, reason: 'keyCompromise', actor: 'test' });
    await matrix.check('signer revoked (OCSP from our server) → we say revoked', OPENSSL, async () => {
      const v = await verifyMessage(signed, trust());
      expect(v.verdict, JSON.stringify(v.checks)).toBe('revoked');
    });
    await matrix.check('From ≠ certificate address → we say address-mismatch', OPENSSL, async () => {
      const forged = await signMessage(sampleMessage('Boss <ceo@bank.example>'), aliceSigner());
      const v = await verifyMessage(forged, trust());
      expect(v.verdict).toBe('address-mismatch');
      expect(v.checks.find((c) => c.name === 'address')?.detail).toContain('ceo@bank.example');
    });
    const untrusted = await verifyMessage(await signMessage(sampleMessage(), aliceSigner()), {
      trustAnchors: [],
    });
    expect(untrusted.verdict).toBe('untrusted');
    const plain = await verifyMessage(sampleMessage(), trust());
    expect(plain.verdict).toBe('no-signature');
  });

  it('header protection: inner headers, Subject "[...]" outside, HP-Outer; decryption restores the real Subject', async () => {
    const { bob, alice } = pki.users;
    const encrypted = await encryptMessage(sampleMessage(), {
      recipients: [{ certificate: bob.encryption.credential.certificate }],
      sender: { certificate: alice.encryption.credential.certificate },
      protectHeaders: true,
    });
    expect(encrypted.toString('utf8')).toMatch(/^Subject: \[\.\.\.\]\r$/m);
    matrix.record(
      'header protection (RFC 9788) → they decrypt, see hp="cipher" + HP-Outer; we restore',
      OPENSSL,
      false,
    );
    await writeFile(pki.path('hp.eml'), encrypted);
    const r = await openssl([
      'smime',
      '-decrypt',
      '-in',
      'hp.eml',
      '-recip',
      bob.encryption.certPath,
      '-inkey',
      bob.encryption.keyPath,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString('utf8')).toMatch(/hp="cipher"/);
    expect(r.stdout.toString('utf8')).toMatch(/HP-Outer: Subject: \[\.\.\.\]/);
    const d = await decryptMessage(encrypted, [bob.encryption.credential]);
    expect(d.headers.hp).toBe('cipher');
    const restored = d.message.toString('utf8');
    expect(restored).toContain('Subject: =?'); // the protected (encoded) real subject
    expect(restored).not.toContain('[...]');
    expect(restored).not.toContain('HP-Outer');
    matrix.record(
      'header protection (RFC 9788) → they decrypt, see hp="cipher" + HP-Outer; we restore',
      OPENSSL,
      true,
    );
  });
});
