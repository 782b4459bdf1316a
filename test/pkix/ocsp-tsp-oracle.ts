/**
 * OpenSSL CLI as the independent oracle for the OCSP and TSP tests: runs it in a temp dir and makes the test PKI
 * (root CA, OCSP responder with OCSPSigning + ocsp nocheck, TSA with critical timeStamping, plain leaves).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Extension } from '@peculiar/asn1-x509';
import { SoftwareKey } from '../../src/crypto/software-key.js';
import { randomSerial, signCertificate } from '../../src/pkix/certificate.js';
import { basicConstraints, extKeyUsage, keyUsage, ocspNoCheck } from '../../src/pkix/extensions.js';
import { buildName } from '../../src/pkix/name.js';
import { OID_KP } from '../../src/pkix/oids.js';
import { fromPem } from '../../src/pkix/pem.js';

function opensslPresent(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const HAVE_OPENSSL = opensslPresent();
if (!HAVE_OPENSSL) {
  if (process.env.CI === 'true')
    throw new Error('openssl CLI is required under CI=true (apt-get install openssl)');
  console.warn('openssl CLI not found: skipping OCSP/TSP interop tests');
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run openssl; resolves with the exit code instead of throwing so tests can show its output. */
export function openssl(args: string[], cwd: string): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile('openssl', args, { cwd, timeout: 30_000, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Run openssl and throw with its stderr on failure. */
export async function opensslOk(args: string[], cwd: string): Promise<string> {
  const r = await openssl(args, cwd);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout + r.stderr;
}

export async function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export type TestKeyType = 'ec' | 'rsa';

export interface TestCert {
  name: string;
  certPath: string;
  keyPath: string;
  der: Buffer;
  key: SoftwareKey;
}

function keyArgs(type: TestKeyType): string[] {
  return type === 'ec'
    ? ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']
    : ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'];
}

async function load(dir: string, name: string): Promise<TestCert> {
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  const der = fromPem(await readFile(certPath, 'latin1'))[0]?.der;
  const keyDer = fromPem(await readFile(keyPath, 'latin1'))[0]?.der;
  if (!der || !keyDer) throw new Error(`could not read ${name} certificate or key`);
  return { name, certPath, keyPath, der, key: SoftwareKey.fromPkcs8(keyDer) };
}

export async function makeRootCa(dir: string, name = 'root', type: TestKeyType = 'ec'): Promise<TestCert> {
  await opensslOk(['genpkey', ...keyArgs(type), '-out', `${name}.key`], dir);
  await opensslOk(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '30',
      '-subj',
      `/O=Sealpost Test/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return load(dir, name);
}

export const OCSP_SIGNER_EXT =
  'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\nnoCheck=ignored\n';
export const TSA_EXT =
  'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n';
export const LEAF_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n';

let serialCounter = 0;
const nextSerial = (): string =>
  `0x${((BigInt(Date.now()) << 16n) | BigInt(serialCounter++ & 0xffff)).toString(16)}`;

/** A certificate for `name` issued by `ca` with the extensions in `ext` (an openssl -extfile body). */
export async function issue(
  dir: string,
  ca: TestCert,
  name: string,
  ext: string,
  type: TestKeyType = 'ec',
): Promise<TestCert> {
  await opensslOk(['genpkey', ...keyArgs(type), '-out', `${name}.key`], dir);
  await opensslOk(
    ['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=Sealpost Test/CN=${name}`],
    dir,
  );
  await writeFile(join(dir, `${name}.ext`), ext);
  await opensslOk(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      ca.certPath,
      '-CAkey',
      ca.keyPath,
      '-set_serial',
      nextSerial(),
      '-days',
      '30',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    ],
    dir,
  );
  return load(dir, name);
}

/** Test certificates made in process (for property and client tests that need no oracle). */
export interface InProcessPki {
  root: { der: Buffer; key: SoftwareKey };
  tsa: { der: Buffer; key: SoftwareKey };
  responder: { der: Buffer; key: SoftwareKey };
}

export async function makeInProcessPki(): Promise<InProcessPki> {
  const now = Date.now();
  const validity = { notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000) };
  const rootKey = await SoftwareKey.generate('ec-p256');
  const rootName = buildName({ organization: 'Sealpost Test', commonName: 'In-process Root' });
  const root = await signCertificate(
    {
      serial: randomSerial(),
      issuer: rootName,
      subject: rootName,
      ...validity,
      spki: rootKey.spki,
      extensions: [basicConstraints(true), keyUsage(['keyCertSign', 'cRLSign'])],
    },
    rootKey,
    'sha256',
  );
  const leaf = async (commonName: string, extensions: Extension[]) => {
    const key = await SoftwareKey.generate('ec-p256');
    const der = await signCertificate(
      {
        serial: randomSerial(),
        issuer: rootName,
        subject: buildName({ organization: 'Sealpost Test', commonName }),
        ...validity,
        spki: key.spki,
        extensions: [basicConstraints(false), keyUsage(['digitalSignature']), ...extensions],
      },
      rootKey,
      'sha256',
    );
    return { der, key };
  };
  return {
    root: { der: root, key: rootKey },
    tsa: await leaf('In-process TSA', [extKeyUsage([OID_KP.timeStamping], true)]),
    responder: await leaf('In-process OCSP', [extKeyUsage([OID_KP.ocspSigning]), ocspNoCheck()]),
  };
}
