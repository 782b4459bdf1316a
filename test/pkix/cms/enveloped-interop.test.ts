/**
 * EnvelopedData / AuthEnvelopedData interop, both directions, against OpenSSL cms, NSS cmsutil (3.87) and gpgsm.
 * Prints the resulting matrix at the end (it goes into the README).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveOracle, run } from '../../helpers/run.js';
import {
  decryptEnvelopedData,
  encryptEnvelopedData,
  type DecryptionKey,
  type EnvelopeOptions,
} from '../../../src/pkix/cms/enveloped-data.js';
import {
  gpgsmHome,
  InteropMatrix,
  nssDatabase,
  opensslCms,
  opensslDecrypt,
  opensslRecipient,
  runBinary,
  stopGpgAgent,
  tempDir,
  type TempDir,
  type TestRecipient,
} from './envelope-fixtures.js';

const HAVE_OPENSSL = haveOracle('openssl');
const HAVE_NSS = haveOracle('cmsutil') && haveOracle('certutil') && haveOracle('pk12util');
const HAVE_GPGSM = haveOracle('gpgsm') && haveOracle('gpgconf');

const matrix = new InteropMatrix();
const CONTENT = Buffer.from(
  'Content-Type: text/plain\r\n\r\nStatement for account 0042: balance 1,234.56 EUR\r\n',
);

let t: TempDir;
let rsa: TestRecipient;
let ec: TestRecipient;
let ec384: TestRecipient;
let keys: DecryptionKey[];

beforeAll(async () => {
  if (!HAVE_OPENSSL) return;
  t = await tempDir('envelope-interop');
  [rsa, ec, ec384] = await Promise.all([
    opensslRecipient(t, 'bob', 'rsa'),
    opensslRecipient(t, 'carol', 'P-256'),
    opensslRecipient(t, 'dave', 'P-384'),
  ]);
  keys = [rsa, ec, ec384].map((r) => ({ certificate: r.certificate, privateKey: r.privateKey }));
});

afterAll(async () => {
  console.log(`\nEnvelopedData interop matrix (we = Sealpost):\n${matrix.toMarkdown()}\n`);
  await t?.cleanup();
});

describe.skipIf(!HAVE_OPENSSL)('we encrypt → OpenSSL cms -decrypt', () => {
  const rows: [string, () => EnvelopeOptions, () => TestRecipient[]][] = [
    ['RSA v1.5 + AES-256-CBC', () => ({ recipients: [{ certificate: rsa.certificate }] }), () => [rsa]],
    [
      'RSA v1.5 + AES-128-CBC',
      () => ({ recipients: [{ certificate: rsa.certificate }], cipher: 'aes-128-cbc' }),
      () => [rsa],
    ],
    [
      'RSA-OAEP-SHA256 + AES-256-CBC',
      () => ({ recipients: [{ certificate: rsa.certificate, keyTransport: 'rsa-oaep-sha256' }] }),
      () => [rsa],
    ],
    [
      'RSA v1.5, SubjectKeyIdentifier recipient',
      () => ({ recipients: [{ certificate: rsa.certificate, identifier: 'subjectKeyIdentifier' }] }),
      () => [rsa],
    ],
    [
      'ECDH P-256 (no ukm) + AES-256-CBC',
      () => ({ recipients: [{ certificate: ec.certificate }] }),
      () => [ec],
    ],
    ['ECDH P-256 with ukm', () => ({ recipients: [{ certificate: ec.certificate }], ukm: true }), () => [ec]],
    [
      'ECDH P-256 + AES-128-CBC (aes128-wrap)',
      () => ({ recipients: [{ certificate: ec.certificate }], cipher: 'aes-128-cbc' }),
      () => [ec],
    ],
    ['ECDH P-384 (sha384 KDF)', () => ({ recipients: [{ certificate: ec384.certificate }] }), () => [ec384]],
    [
      'ECDH P-256, SubjectKeyIdentifier recipient',
      () => ({ recipients: [{ certificate: ec.certificate, identifier: 'subjectKeyIdentifier' }] }),
      () => [ec],
    ],
    [
      'AES-256-GCM AuthEnvelopedData (RSA)',
      () => ({ recipients: [{ certificate: rsa.certificate }], cipher: 'aes-256-gcm' }),
      () => [rsa],
    ],
    [
      'AES-128-GCM AuthEnvelopedData (ECDH)',
      () => ({ recipients: [{ certificate: ec.certificate }], cipher: 'aes-128-gcm' }),
      () => [ec],
    ],
    [
      'three recipients (RSA, ECDH P-256, ECDH P-384)',
      () => ({ recipients: [rsa, ec, ec384].map((r) => ({ certificate: r.certificate })) }),
      () => [rsa, ec, ec384],
    ],
  ];
  for (const [row, options, recipients] of rows) {
    it(row, async () => {
      await matrix.check(row, 'OpenSSL 3.0 reads ours', async () => {
        const der = await encryptEnvelopedData(CONTENT, options());
        for (const r of recipients()) expect(await opensslDecrypt(t, der, r)).toEqual(CONTENT);
        // and we read our own, with all keys offered
        expect((await decryptEnvelopedData(der, keys)).content).toEqual(CONTENT);
      });
    });
  }
});

describe.skipIf(!HAVE_OPENSSL)('OpenSSL cms -encrypt → we decrypt', () => {
  const rows: [string, () => string[], string, string][] = [
    ['RSA v1.5 + AES-256-CBC', () => ['-aes256', '-recip', rsa.certPath], 'aes-256-cbc', 'rsa-pkcs1'],
    [
      'RSA-OAEP-SHA256 + AES-256-CBC',
      () => [
        '-aes256',
        '-recip',
        rsa.certPath,
        '-keyopt',
        'rsa_padding_mode:oaep',
        '-keyopt',
        'rsa_oaep_md:sha256',
      ],
      'aes-256-cbc',
      'rsa-oaep-sha256',
    ],
    [
      'RSA-OAEP (SHA-1 default params)',
      () => ['-aes256', '-recip', rsa.certPath, '-keyopt', 'rsa_padding_mode:oaep'],
      'aes-256-cbc',
      'rsa-oaep-sha1',
    ],
    [
      'RSA v1.5, SubjectKeyIdentifier recipient (-keyid)',
      () => ['-aes256', '-keyid', '-recip', rsa.certPath],
      'aes-256-cbc',
      'rsa-pkcs1',
    ],
    [
      'ECDH P-256 sha256 KDF (no ukm)',
      () => ['-aes256', '-recip', ec.certPath, '-keyopt', 'ecdh_kdf_md:sha256'],
      'aes-256-cbc',
      'ecdh-P-256-sha256kdf-aes256-wrap',
    ],
    [
      'ECDH P-256 sha1 KDF (OpenSSL default)',
      () => ['-aes256', '-recip', ec.certPath],
      'aes-256-cbc',
      'ecdh-P-256-sha1kdf-aes256-wrap',
    ],
    [
      'ECDH P-256 sha512 KDF',
      () => ['-aes128', '-recip', ec.certPath, '-keyopt', 'ecdh_kdf_md:sha512'],
      'aes-128-cbc',
      'ecdh-P-256-sha512kdf-aes128-wrap',
    ],
    [
      'ECDH P-384 sha384 KDF',
      () => ['-aes256', '-recip', ec384.certPath, '-keyopt', 'ecdh_kdf_md:sha384'],
      'aes-256-cbc',
      'ecdh-P-384-sha384kdf-aes256-wrap',
    ],
    [
      'ECDH P-256, SubjectKeyIdentifier recipient (-keyid)',
      () => ['-aes256', '-keyid', '-recip', ec.certPath, '-keyopt', 'ecdh_kdf_md:sha256'],
      'aes-256-cbc',
      'ecdh-P-256-sha256kdf-aes256-wrap',
    ],
    [
      'AES-256-GCM AuthEnvelopedData (RSA)',
      () => ['-aes-256-gcm', '-recip', rsa.certPath],
      'aes-256-gcm',
      'rsa-pkcs1',
    ],
    [
      'AES-128-GCM AuthEnvelopedData (ECDH)',
      () => ['-aes-128-gcm', '-recip', ec.certPath, '-keyopt', 'ecdh_kdf_md:sha256'],
      'aes-128-gcm',
      'ecdh-P-256-sha256kdf-aes128-wrap',
    ],
    ['legacy 3DES-CBC (RSA)', () => ['-des3', '-recip', rsa.certPath], 'des-ede3-cbc', 'rsa-pkcs1'],
    [
      'legacy 3DES-CBC (ECDH, CMS 3DES key wrap)',
      () => ['-des3', '-recip', ec.certPath, '-keyopt', 'ecdh_kdf_md:sha256'],
      'des-ede3-cbc',
      'ecdh-P-256-sha256kdf-cms3des-wrap',
    ],
    [
      'BER indefinite length (-stream)',
      () => ['-aes256', '-stream', '-recip', rsa.certPath],
      'aes-256-cbc',
      'rsa-pkcs1',
    ],
  ];
  for (const [row, args, cipher, keyTransport] of rows) {
    it(row, async () => {
      await matrix.check(row, 'we read OpenSSL', async () => {
        const res = await opensslCms(['-encrypt', '-binary', '-outform', 'DER', ...args()], CONTENT);
        expect(res.code, res.stderr).toBe(0);
        const out = await decryptEnvelopedData(res.out, keys);
        expect(out.content).toEqual(CONTENT);
        expect(out.cipher).toBe(cipher);
        expect(out.recipient.keyTransport).toBe(keyTransport);
      });
    });
  }
});

describe.skipIf(!HAVE_OPENSSL || !HAVE_NSS)('NSS cmsutil (system NSS)', () => {
  let db: string;
  beforeAll(async () => {
    db = await nssDatabase(t, rsa);
  });

  for (const cipher of ['aes-256-cbc', 'aes-128-cbc'] as const) {
    const row = `RSA v1.5 + ${cipher.toUpperCase()}`;
    it(`cmsutil -D reads ours: ${row}`, async () => {
      await matrix.check(row, 'NSS 3.87 reads ours', async () => {
        const der = await encryptEnvelopedData(CONTENT, {
          recipients: [{ certificate: rsa.certificate }],
          cipher,
        });
        const file = await t.write(`nss-${cipher}.der`, der);
        const res = await runBinary('cmsutil', ['-D', '-i', file, '-d', db]);
        expect(res.code, res.stderr).toBe(0);
        expect(res.out).toEqual(CONTENT);
      });
    });
  }

  it('we read cmsutil -E output', async () => {
    await matrix.check('RSA v1.5 + AES-256-CBC', 'we read NSS 3.87', async () => {
      const input = await t.write('nss-in.txt', CONTENT);
      const res = await runBinary('cmsutil', ['-E', '-r', rsa.name, '-i', input, '-d', db]);
      expect(res.code, res.stderr).toBe(0);
      const out = await decryptEnvelopedData(res.out, keys);
      expect(out.content).toEqual(CONTENT);
      expect(out.recipient.keyTransport).toBe('rsa-pkcs1');
    });
  });
});

describe.skipIf(!HAVE_OPENSSL || !HAVE_GPGSM)('gpgsm', () => {
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    env = await gpgsmHome(t, rsa);
  });
  afterAll(async () => {
    if (env) await stopGpgAgent(env);
  });

  it('gpgsm --decrypt reads ours: RSA v1.5 + AES-256-CBC', async () => {
    await matrix.check('RSA v1.5 + AES-256-CBC', 'gpgsm 2.2 reads ours', async () => {
      const der = await encryptEnvelopedData(CONTENT, { recipients: [{ certificate: rsa.certificate }] });
      const file = await t.write('gpgsm.der', der);
      const res = await runBinary(
        'gpgsm',
        ['--batch', '--pinentry-mode', 'loopback', '--passphrase-fd', '0', '--decrypt', file],
        Buffer.from('pw\n'),
        env,
      );
      expect(res.code, res.stderr).toBe(0);
      expect(res.out).toEqual(CONTENT);
    });
  });

  it('we read gpgsm --encrypt output', async () => {
    await matrix.check('RSA v1.5 + AES-256-CBC', 'we read gpgsm 2.2', async () => {
      const input = await t.write('gpgsm-in.txt', CONTENT);
      const res = await runBinary(
        'gpgsm',
        ['--batch', '--cipher-algo', 'AES256', '--encrypt', '-r', rsa.name + '@example.com', input],
        undefined,
        env,
      );
      expect(res.code, res.stderr).toBe(0);
      const out = await decryptEnvelopedData(res.out, keys);
      expect(out.content).toEqual(CONTENT);
    });
  });
});

it.skipIf(!HAVE_OPENSSL)('sanity: the oracle recipients are what the rows claim', async () => {
  const text = await run('openssl', ['x509', '-in', ec.certPath, '-noout', '-text']);
  expect(text.stdout).toContain('Key Agreement');
  expect(text.stdout).toContain('E-mail Protection');
});
