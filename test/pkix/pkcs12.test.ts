/**
 * PKCS#12 interop: our AES file opens in OpenSSL, our legacy file imports into NSS (pk12util) and gpgsm, and we
 * read what `openssl pkcs12 -export` writes in its default and -legacy forms.
 */
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SoftwareKey } from '../../src/crypto/software-key.js';
import { Pkcs12Error } from '../../src/pkix/errors.js';
import { buildPkcs12, parsePkcs12, pkcs12Kdf } from '../../src/pkix/pkcs12.js';
import { toPem } from '../../src/pkix/pem.js';
import { haveOracle, run } from '../helpers/run.js';
import { hierarchy, issue, tempDir, URLS, type Hierarchy, type Issued } from './fixtures.js';

const PASSWORD = 'Grüße 2024!';
const hasOpenssl = haveOracle('openssl');
const hasNss = haveOracle('pk12util') && haveOracle('certutil');
const hasGpgsm = haveOracle('gpgsm');

let h: Hierarchy;
let user: Issued;
let tmp: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  h = await hierarchy('rsa-2048');
  user = await issue(
    { commonName: 'Alice Example', country: 'DE' },
    { profile: 'smime-encryption', emails: ['alice@bank.example'], ...URLS },
    'rsa-2048',
    h.issuing,
  );
  tmp = await tempDir('p12');
});
afterAll(() => tmp?.cleanup());

function contents() {
  return {
    privateKey: user.key.exportPkcs8(),
    certificate: user.cert.der,
    chain: [h.issuing.cert.der, h.root.cert.der],
    friendlyName: 'Alice Example',
  };
}

describe('PKCS#12 key derivation', () => {
  it('matches the RFC 7292 KDF as OpenSSL computes it (3DES key for password "smeg")', () => {
    // Test vector from OpenSSL's PKCS#12 KDF tests (test/recipes/30-test_evp_data/evpkdf_pkcs12.txt).
    const pw = Buffer.from('0073006d006500670000', 'hex');
    const key = pkcs12Kdf('sha1', pw, Buffer.from('0a58cf64530d823f', 'hex'), 1, 1, 24);
    expect(key.toString('hex')).toBe('8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3');
  });
});

describe('default (PBES2/AES-256, HMAC-SHA256)', () => {
  let p12: Buffer;
  beforeAll(() => {
    p12 = buildPkcs12({ ...contents(), password: PASSWORD });
  });

  it('round-trips key, certificate, chain and friendly name', () => {
    const back = parsePkcs12(p12, PASSWORD);
    expect(back.privateKey).toEqual(user.key.exportPkcs8());
    expect(back.certificate).toEqual(user.cert.der);
    expect(back.chain).toEqual([h.issuing.cert.der, h.root.cert.der]);
    expect(back.friendlyName).toBe('Alice Example');
  });

  it('rejects a wrong password with Pkcs12Error', () => {
    expect(() => parsePkcs12(p12, 'wrong')).toThrow(Pkcs12Error);
    expect(() => parsePkcs12(p12, 'wrong')).toThrow(/wrong password/);
  });

  it('openssl pkcs12 -info opens it and reports AES-256 and SHA-256', async (ctx) => {
    if (!hasOpenssl) return ctx.skip();
    const path = await tmp.write('default.p12', p12);
    const r = await run('openssl', ['pkcs12', '-info', '-noout', '-in', path, '-passin', `pass:${PASSWORD}`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('MAC: sha256');
    expect(r.stderr).toContain('PBES2, PBKDF2, AES-256-CBC');
    expect(r.stderr).not.toContain('error');
    const keyOut = await run('openssl', [
      'pkcs12',
      '-in',
      path,
      '-passin',
      `pass:${PASSWORD}`,
      '-nocerts',
      '-nodes',
    ]);
    const pem = user.key.keyObject.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(keyOut.stdout).toContain(pem.trim());
    expect(keyOut.stdout).toContain('friendlyName: Alice Example');
  });
});

describe('legacy (PBE-SHA1-3DES, HMAC-SHA1)', () => {
  let p12: Buffer;
  let path: string;
  beforeAll(async () => {
    p12 = buildPkcs12({ ...contents(), password: PASSWORD, legacy: true });
    path = await tmp.write('legacy.p12', p12);
  });

  it('round-trips', () => {
    const back = parsePkcs12(p12, PASSWORD);
    expect(back.privateKey).toEqual(user.key.exportPkcs8());
    expect(back.certificate).toEqual(user.cert.der);
    expect(back.chain).toHaveLength(2);
  });

  it('openssl reports 3DES bags and a SHA-1 MAC', async (ctx) => {
    if (!hasOpenssl) return ctx.skip();
    const r = await run('openssl', [
      'pkcs12',
      '-info',
      '-noout',
      '-legacy',
      '-in',
      path,
      '-passin',
      `pass:${PASSWORD}`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('MAC: sha1');
    expect(r.stderr).toContain('pbeWithSHA1And3-KeyTripleDES-CBC');
  });

  it('pk12util imports it into a fresh NSS database', async (ctx) => {
    if (!hasNss) return ctx.skip();
    const db = `sql:${tmp.path('nssdb')}`;
    await run('mkdir', ['-p', tmp.path('nssdb')]);
    expect((await run('certutil', ['-N', '--empty-password', '-d', db])).code).toBe(0);
    const imp = await run('pk12util', ['-i', path, '-d', db, '-W', PASSWORD, '-K', '']);
    expect(imp.stdout + imp.stderr).toContain('PKCS12 IMPORT SUCCESSFUL');
    const certs = await run('certutil', ['-L', '-d', db]);
    expect(certs.stdout).toContain('Alice Example');
    const keys = await run('certutil', ['-K', '-d', db, '-f', '/dev/null']);
    expect(keys.stdout).toMatch(/rsa\s+[0-9a-f]+\s+Alice Example/);
  });

  it('gpgsm imports it with the secret key', async (ctx) => {
    if (!hasGpgsm) return ctx.skip();
    const home = tmp.path('gnupg');
    await run('mkdir', ['-m', '700', '-p', home]);
    await writeFile(`${home}/gpg-agent.conf`, 'allow-loopback-pinentry\n');
    const env = { ...process.env, GNUPGHOME: home };
    try {
      // gpgsm 2.2 ignores --passphrase when it decrypts a PKCS#12 file; the passphrase must come on a file descriptor.
      const imp = await run(
        'gpgsm',
        ['--batch', '--pinentry-mode', 'loopback', '--passphrase-fd', '0', '--import', path],
        {
          env,
          input: `${PASSWORD}\n`,
        },
      );
      expect(imp.stderr).toMatch(/secret keys imported: 1/);
      const list = await run('gpgsm', ['--batch', '--list-secret-keys'], { env });
      expect(list.stdout).toContain('CN=Alice Example');
    } finally {
      await run('gpgconf', ['--kill', 'gpg-agent'], { env }).catch(() => undefined);
    }
  });
});

describe('files written by openssl pkcs12 -export', () => {
  const forms: [string, string[]][] = [
    ['default', []],
    ['-legacy', ['-legacy']],
    [
      'EC key, AES-128, SHA-512 MAC',
      ['-keypbe', 'AES-128-CBC', '-certpbe', 'AES-128-CBC', '-macalg', 'sha512'],
    ],
  ];
  it.for(forms)('reads the %s form', async ([label, args], ctx) => {
    if (!hasOpenssl) return ctx.skip();
    const holder = label.startsWith('EC')
      ? await issue({ commonName: 'EC Holder' }, { profile: 'seal' }, 'ec-p256', h.issuing)
      : user;
    const keyPath = await tmp.write(
      `k-${label}.pem`,
      holder.key.keyObject.export({ type: 'pkcs8', format: 'pem' }) as string,
    );
    const certPath = await tmp.write(`c-${label}.pem`, toPem(holder.cert.der, 'CERTIFICATE'));
    const chainPath = await tmp.write(`chain-${label}.pem`, toPem(h.issuing.cert.der, 'CERTIFICATE'));
    const out = tmp.path(`ossl-${label}.p12`);
    const r = await run('openssl', [
      'pkcs12',
      '-export',
      '-inkey',
      keyPath,
      '-in',
      certPath,
      '-certfile',
      chainPath,
      '-name',
      'from openssl',
      '-out',
      out,
      '-passout',
      `pass:${PASSWORD}`,
      ...args,
    ]);
    expect(r.stderr).toBe('');
    const back = parsePkcs12(await readFile(out), PASSWORD);
    expect(back.privateKey).toEqual(SoftwareKey.fromPkcs8(back.privateKey).exportPkcs8());
    expect(SoftwareKey.fromPkcs8(back.privateKey).spki).toEqual(holder.key.spki);
    expect(back.certificate).toEqual(holder.cert.der);
    expect(back.chain).toEqual([h.issuing.cert.der]);
    expect(back.friendlyName).toBe('from openssl');
    expect(() => parsePkcs12(readFileSync(out), 'not it')).toThrow(Pkcs12Error);
  });
});
