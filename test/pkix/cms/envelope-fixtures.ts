/**
 * Recipients for the EnvelopedData tests: certificates made by the OpenSSL CLI (the interop tests) or by our own
 * signCertificate (the fast unit and property tests), and the oracle runners (OpenSSL cms, NSS cmsutil, gpgsm).
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SoftwareKey } from '../../../src/crypto/software-key.js';
import { randomSerial, signCertificate } from '../../../src/pkix/certificate.js';
import { keyUsage, subjectKeyIdentifier } from '../../../src/pkix/extensions.js';
import { buildName } from '../../../src/pkix/name.js';
import { fromPem } from '../../../src/pkix/pem.js';
import { buildPkcs12 } from '../../../src/pkix/pkcs12.js';
import { run, type RunResult } from '../../helpers/run.js';

export interface TempDir {
  dir: string;
  path(name: string): string;
  write(name: string, data: string | Buffer): Promise<string>;
  cleanup(): Promise<void>;
}

export async function tempDir(prefix: string): Promise<TempDir> {
  const dir = await mkdtemp(join(tmpdir(), `sealpost-${prefix}-`));
  return {
    dir,
    path: (name) => join(dir, name),
    async write(name, data) {
      await writeFile(join(dir, name), data);
      return join(dir, name);
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface TestRecipient {
  name: string;
  certPath: string;
  keyPath: string;
  certificate: Buffer;
  privateKey: KeyObject;
}

async function ok(r: Promise<RunResult>, what: string): Promise<RunResult> {
  const res = await r;
  if (res.code !== 0) throw new Error(`${what} failed (${res.code}): ${res.stderr}${res.stdout}`);
  return res;
}

/** A self-signed S/MIME encryption certificate from `openssl req -x509` (emailProtection EKU, SKI added). */
export async function opensslRecipient(
  t: TempDir,
  name: string,
  keyType: 'rsa' | 'P-256' | 'P-384',
): Promise<TestRecipient> {
  const certPath = t.path(`${name}.pem`);
  const keyPath = t.path(`${name}.key`);
  const newkey =
    keyType === 'rsa'
      ? ['-newkey', 'rsa:2048']
      : ['-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${keyType}`];
  const usage = keyType === 'rsa' ? 'keyEncipherment' : 'keyAgreement';
  await ok(
    run('openssl', [
      'req',
      '-x509',
      ...newkey,
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '30',
      '-subj',
      `/CN=${name}/emailAddress=${name}@example.com`,
      '-addext',
      `keyUsage=critical,${usage}`,
      '-addext',
      'extendedKeyUsage=emailProtection',
      '-addext',
      `subjectAltName=email:${name}@example.com`,
    ]),
    'openssl req',
  );
  const pem = await readFile(certPath, 'latin1');
  return {
    name,
    certPath,
    keyPath,
    certificate: (fromPem(pem)[0] as { der: Buffer }).der,
    privateKey: createPrivateKey(await readFile(keyPath)),
  };
}

/** A recipient made in-process (fast): RSA-2048, P-256, P-384 or X25519, signed by a throwaway EC CA. */
export async function localRecipient(
  name: string,
  keyType: 'rsa' | 'P-256' | 'P-384' | 'x25519',
  usages?: string[],
): Promise<TestRecipient> {
  const pair =
    keyType === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : keyType === 'x25519'
        ? generateKeyPairSync('x25519')
        : generateKeyPairSync('ec', { namedCurve: keyType });
  const spki = pair.publicKey.export({ format: 'der', type: 'spki' });
  const ca = await SoftwareKey.generate('ec-p256');
  const now = Date.now();
  const certificate = await signCertificate(
    {
      serial: randomSerial(),
      issuer: buildName({ commonName: 'Envelope Test CA' }),
      subject: buildName({ commonName: name }),
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      spki,
      extensions: [
        keyUsage(usages ?? [keyType === 'rsa' ? 'keyEncipherment' : 'keyAgreement']),
        subjectKeyIdentifier(spki),
      ],
    },
    ca,
    'sha256',
  );
  return { name, certPath: '', keyPath: '', certificate, privateKey: pair.privateKey };
}

export const opensslCms = (args: string[], input?: Buffer): Promise<RunResult> =>
  run('openssl', ['cms', ...args], input ? { input } : {});

/** A program's run with binary output (`out`); the shared runner (test/helpers/run.ts). */
export const runBinary = (
  cmd: string,
  args: string[],
  input?: Buffer,
  env?: NodeJS.ProcessEnv,
): Promise<RunResult> => run(cmd, args, { ...(input ? { input } : {}), ...(env ? { env } : {}) });

/** openssl cms -decrypt of a DER file with the recipient's certificate and key; the recovered content. */
export async function opensslDecrypt(t: TempDir, der: Buffer, r: TestRecipient): Promise<Buffer> {
  const file = await t.write(`dec-${r.name}-${Date.now()}.der`, der);
  const res = await opensslCms([
    '-decrypt',
    '-inform',
    'DER',
    '-in',
    file,
    '-recip',
    r.certPath,
    '-inkey',
    r.keyPath,
  ]);
  if (res.code !== 0) throw new Error(`openssl cms -decrypt failed: ${res.stderr}`);
  return res.out;
}

/** A legacy (PBE-SHA1-3DES) PKCS#12 for NSS and gpgsm, built by our own writer. */
export function legacyPkcs12(r: TestRecipient, password: string): Buffer {
  return buildPkcs12({
    privateKey: r.privateKey.export({ format: 'der', type: 'pkcs8' }),
    certificate: r.certificate,
    chain: [],
    friendlyName: r.name,
    password,
    legacy: true,
    iterations: 2048,
  });
}

/** A fresh NSS database holding `r`'s key and certificate under the nickname r.name. */
export async function nssDatabase(t: TempDir, r: TestRecipient): Promise<string> {
  const db = `sql:${t.path('nssdb')}`;
  await run('mkdir', ['-p', t.path('nssdb')]);
  await ok(run('certutil', ['-N', '-d', db, '--empty-password']), 'certutil -N');
  const p12 = await t.write(`${r.name}.p12`, legacyPkcs12(r, 'pw'));
  await ok(run('pk12util', ['-i', p12, '-d', db, '-W', 'pw']), 'pk12util -i');
  return db;
}

/** A GNUPGHOME (INTEROP.md recipe) with `r`'s PKCS#12 imported; returns the env to run gpgsm with. */
export async function gpgsmHome(t: TempDir, r: TestRecipient): Promise<NodeJS.ProcessEnv> {
  const home = t.path('gnupg');
  await run('mkdir', ['-m', '700', '-p', home]);
  await writeFile(join(home, 'gpgsm.conf'), 'disable-crl-checks\n');
  await writeFile(join(home, 'gpg-agent.conf'), 'allow-loopback-pinentry\n');
  const fp = await ok(
    run('openssl', ['x509', '-in', r.certPath, '-noout', '-fingerprint', '-sha1']),
    'fingerprint',
  );
  await writeFile(join(home, 'trustlist.txt'), `${fp.stdout.trim().split('=')[1]} S relax\n`);
  const env = { ...process.env, GNUPGHOME: home };
  const p12 = await t.write(`${r.name}-gpgsm.p12`, legacyPkcs12(r, 'pw'));
  await ok(
    run('gpgsm', ['--batch', '--pinentry-mode', 'loopback', '--passphrase-fd', '0', '--import', p12], {
      env,
      input: 'pw\n',
    }),
    'gpgsm --import',
  );
  return env;
}

export async function stopGpgAgent(env: NodeJS.ProcessEnv): Promise<void> {
  await run('gpgconf', ['--kill', 'gpg-agent'], { env });
}

/** The matrix the interop tests print (for the README): row → oracle → result. */
export class InteropMatrix {
  private readonly rows = new Map<string, Map<string, string>>();
  private readonly oracles: string[] = [];

  record(row: string, oracle: string, passed: boolean): void {
    if (!this.oracles.includes(oracle)) this.oracles.push(oracle);
    const cells = this.rows.get(row) ?? new Map<string, string>();
    cells.set(oracle, passed ? '✓' : '✗');
    this.rows.set(row, cells);
  }

  /** Run `check`, record pass/fail, and rethrow failures so the test fails too. */
  async check(row: string, oracle: string, check: () => Promise<void>): Promise<void> {
    try {
      await check();
      this.record(row, oracle, true);
    } catch (e) {
      this.record(row, oracle, false);
      throw e;
    }
  }

  toMarkdown(): string {
    const head = `| message | ${this.oracles.join(' | ')} |\n| --- |${this.oracles.map(() => ' --- |').join('')}`;
    const lines = [...this.rows].map(
      ([row, cells]) => `| ${row} | ${this.oracles.map((o) => cells.get(o) ?? '—').join(' | ')} |`,
    );
    return [head, ...lines].join('\n');
  }
}
