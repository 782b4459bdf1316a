/**
 * Test PKI for the CMS signature tests, made with the openssl CLI (an independent implementation): root →
 * intermediate → S/MIME signers (RSA-2048, EC P-256, Ed25519) with emailProtection + digitalSignature, a TSA,
 * and a separate encryption certificate. Also the in-process TSA callback and the oracle result matrix.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SoftwareKey } from '../../../src/crypto/software-key.js';
import { fromPem } from '../../../src/pkix/pem.js';
import { TimeStampSigner, parseTimeStampResponse } from '../../../src/pkix/tsp.js';
import { haveOracle } from '../../helpers/run.js';

export type SignerKind = 'rsa' | 'ec' | 'ed25519';

export interface TestIdentity {
  name: string;
  email: string;
  certPath: string;
  keyPath: string;
  /** PKCS#8 DER key file (made by `openssl pkcs8 -topk8 -nocrypt -outform DER`). */
  keyDerPath: string;
  der: Buffer;
  key: SoftwareKey;
}

export interface SigningPki {
  dir: string;
  rootPath: string;
  rootDer: Buffer;
  intermediatePath: string;
  intermediateDer: Buffer;
  signers: Record<SignerKind, TestIdentity>;
  encryption: TestIdentity;
  tsa: TestIdentity;
  path(name: string): string;
  cleanup(): Promise<void>;
}

export const HAVE_OPENSSL = haveOracle('openssl');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program in `cwd` with no stdin; resolves with the exit code instead of throwing. */
export function runIn(cwd: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    const options = { cwd, timeout: 60_000, maxBuffer: 16 * 1024 * 1024, ...(env ? { env } : {}) };
    execFile(cmd, args, options, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export async function opensslOk(cwd: string, args: string[]): Promise<string> {
  const r = await runIn(cwd, 'openssl', args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout + r.stderr;
}

const KEY_ARGS: Record<SignerKind, string[]> = {
  rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  ec: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  ed25519: ['-algorithm', 'ED25519'],
};

const CA_EXT = [
  'basicConstraints=critical,CA:TRUE',
  'keyUsage=critical,keyCertSign,cRLSign',
  'subjectKeyIdentifier=hash',
  'authorityKeyIdentifier=keyid',
].join('\n');

const smimeExt = (email: string, usage: string): string =>
  [
    'basicConstraints=CA:FALSE',
    `keyUsage=critical,${usage}`,
    'extendedKeyUsage=emailProtection',
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
    `subjectAltName=email:${email}`,
  ].join('\n');

const TSA_EXT = [
  'basicConstraints=CA:FALSE',
  'keyUsage=critical,digitalSignature',
  'extendedKeyUsage=critical,timeStamping',
  'subjectKeyIdentifier=hash',
].join('\n');

let serial = 1;

async function identity(
  dir: string,
  name: string,
  kind: SignerKind,
  ext: string,
  issuer: { certPath: string; keyPath: string },
  email = `${name}@bank.example`,
): Promise<TestIdentity> {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.pem`);
  const keyDerPath = join(dir, `${name}.p8`);
  await opensslOk(dir, ['genpkey', ...KEY_ARGS[kind], '-out', keyPath]);
  await opensslOk(dir, [
    'req',
    '-new',
    '-key',
    keyPath,
    '-out',
    `${name}.csr`,
    '-subj',
    `/O=Example Bank/CN=${name}/emailAddress=${email}`,
  ]);
  await writeFile(join(dir, `${name}.ext`), ext);
  await opensslOk(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    issuer.certPath,
    '-CAkey',
    issuer.keyPath,
    '-set_serial',
    String(1000 + serial++),
    '-days',
    '30',
    '-sha256',
    '-extfile',
    `${name}.ext`,
    '-out',
    certPath,
  ]);
  await opensslOk(dir, [
    'pkcs8',
    '-topk8',
    '-nocrypt',
    '-in',
    keyPath,
    '-outform',
    'DER',
    '-out',
    keyDerPath,
  ]);
  return {
    name,
    email,
    certPath,
    keyPath,
    keyDerPath,
    der: pemDer(await readFile(certPath, 'latin1')),
    key: SoftwareKey.fromPkcs8(await readFile(keyDerPath)),
  };
}

function pemDer(text: string): Buffer {
  const der = fromPem(text)[0]?.der;
  if (!der) throw new Error('no PEM block');
  return der;
}

export async function makeSigningPki(): Promise<SigningPki> {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-cms-signed-'));
  const path = (name: string): string => join(dir, name);
  await opensslOk(dir, ['genpkey', ...KEY_ARGS.rsa, '-out', 'root.key']);
  await writeFile(path('ca.ext'), CA_EXT);
  await opensslOk(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    'root.key',
    '-out',
    'root.pem',
    '-days',
    '30',
    '-sha256',
    '-subj',
    '/O=Example Bank/CN=Example Bank Test Root',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-addext',
    'subjectKeyIdentifier=hash',
  ]);
  const root = { certPath: path('root.pem'), keyPath: path('root.key') };
  const intermediate = await identity(dir, 'issuing', 'rsa', CA_EXT, root, 'pki@bank.example');
  const signers = {
    rsa: await identity(
      dir,
      'alice-rsa',
      'rsa',
      smimeExt('alice-rsa@bank.example', 'digitalSignature,nonRepudiation'),
      intermediate,
    ),
    ec: await identity(
      dir,
      'alice-ec',
      'ec',
      smimeExt('alice-ec@bank.example', 'digitalSignature,nonRepudiation'),
      intermediate,
    ),
    ed25519: await identity(
      dir,
      'alice-ed',
      'ed25519',
      smimeExt('alice-ed@bank.example', 'digitalSignature'),
      intermediate,
    ),
  };
  const encryption = await identity(
    dir,
    'alice-enc',
    'rsa',
    smimeExt('alice-rsa@bank.example', 'keyEncipherment'),
    intermediate,
  );
  const tsa = await identity(dir, 'tsa', 'ec', TSA_EXT, root, 'tsa@bank.example');
  return {
    dir,
    rootPath: root.certPath,
    rootDer: pemDer(await readFile(root.certPath, 'latin1')),
    intermediatePath: intermediate.certPath,
    intermediateDer: intermediate.der,
    signers,
    encryption,
    tsa,
    path,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

const TSA_POLICY = '1.3.6.1.4.1.55555.1.1';

/** SignOptions.timestamp backed by our TimeStampSigner in process: a token over SHA-256(signature value). */
export function inProcessTsa(tsa: TestIdentity): (signatureValue: Buffer) => Promise<Buffer> {
  const signer = new TimeStampSigner({
    certificate: tsa.der,
    key: tsa.key,
    hash: 'sha256',
    policy: TSA_POLICY,
  });
  let next = 1n;
  return async (signatureValue) => {
    const messageImprint = createHash('sha256').update(signatureValue).digest();
    const response = await signer.sign({ hash: 'sha256', messageImprint, certReq: true }, next++, new Date());
    const token = parseTimeStampResponse(response).token?.token;
    if (!token) throw new Error('the TSA returned no token');
    return token;
  };
}

/** Which interop rows passed with which oracle; printed once per test file for the README. */
export class OracleMatrix {
  private readonly rows = new Map<string, Map<string, boolean>>();
  private readonly oracles: string[] = [];

  record(row: string, oracle: string, passed: boolean): void {
    if (!this.oracles.includes(oracle)) this.oracles.push(oracle);
    const cells = this.rows.get(row) ?? new Map<string, boolean>();
    cells.set(oracle, passed);
    this.rows.set(row, cells);
  }

  /** Run `fn` (the test's assertions) and record whether it passed. */
  async check(row: string, oracle: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
      this.record(row, oracle, true);
    } catch (e) {
      this.record(row, oracle, false);
      throw e;
    }
  }

  print(title: string): void {
    if (this.rows.size === 0) return;
    const lines = [
      `| ${title} | ${this.oracles.join(' | ')} |`,
      `| --- |${' --- |'.repeat(this.oracles.length)}`,
    ];
    for (const [row, cells] of this.rows) {
      const marks = this.oracles.map((o) => (cells.has(o) ? (cells.get(o) ? '✓' : '✗') : ' '));
      lines.push(`| ${row} | ${marks.join(' | ')} |`);
    }
    console.log(lines.join('\n'));
  }
}

/** `cmsutil -D` arguments that verify a SignedData (detached when `contentFile` is given) against `dbDir`. */
export function cmsutilVerifyArgs(file: string, dbDir: string, contentFile?: string): string[] {
  return ['-D', '-i', file, ...(contentFile ? ['-c', contentFile] : []), '-d', dbDir, '-n', '-h', '2'];
}

/** Signer 0's status from `cmsutil -D -h 2` output, e.g. "GoodSignature" or "DigestMismatch". */
export function signer0Status(cmsutilOutput: string): string {
  return /signer0\.status=(\w+)/.exec(cmsutilOutput)?.[1] ?? `no status in: ${cmsutilOutput}`;
}
