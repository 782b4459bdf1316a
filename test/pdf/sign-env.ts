/**
 * Shared setup for the PDF signing tests: a Sealpost installation served in-process (CA, OCSP, CRL, TSA)
 * whose seal certificate signs, an NSS database trusting its root for pdfsig, the PDFBox checker, and
 * inputs made by real producers (the reader's fixture script: Ghostscript, qpdf).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { deflateSync } from 'node:zlib';
import { openSealpost, type Sealpost } from '../../src/app/context.js';
import { freePort } from '../../src/app/free-port.js';
import { initialise } from '../../src/app/init.js';
import { startServer, type RunningServer } from '../../src/app/runtime.js';
import { loadConfig } from '../../src/config/config.js';
import type { KeyAlgorithm } from '../../src/crypto/key-handle.js';
import type { PdfSigner } from '../../src/pdf/sign/index.js';
import { toPem } from '../../src/pkix/pem.js';
import { createLogger } from '../../src/util/logger.js';
import { haveOracle, run } from '../helpers/run.js';
import { fixtureDir } from './fixtures/fixtures.js';

const execFileAsync = promisify(execFile);

/** Whether an oracle is usable; under CI=true a missing one fails instead of skipping (haveOracle does both). */
export const requireOracle = haveOracle;

export interface SignEnv {
  dir: string;
  fixtures: string;
  ctx: Sealpost;
  server: RunningServer;
  tsaUrl: string;
  /**
   * An S/MIME signing certificate of our CA (RSA-2048). pdfsig validates signer certificates with NSS
   * for email signing, so only a certificate with the emailProtection EKU is reported "Trusted".
   */
  signer: PdfSigner;
  /** The organisation seal (documentSigning EKU): pdfsig checks its signatures but not its trust. */
  seal: PdfSigner;
  /** Another user signing certificate of our CA, for ECDSA / other keys. */
  userSigner(alg: KeyAlgorithm): Promise<PdfSigner>;
  root: Buffer;
  /** PEM file: issuing + root. */
  chainPem: string;
  nssDir: string;
  cleanup(): Promise<void>;
}

export async function createSignEnv(): Promise<SignEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-pdfsign-'));
  const port = await freePort('127.0.0.1');
  const config = loadConfig({ dataDir: join(dir, 'data'), env: {}, overrides: { port, host: '127.0.0.1' } });
  const ctx = await openSealpost(config, createLogger('silent'), { createMasterKey: true });
  await initialise(ctx, { orgName: 'PDF Test Bank', actor: 'test' });
  const server = await startServer(ctx, {
    roles: ['ca', 'ocsp', 'tsa', 'api'],
    host: '127.0.0.1',
    port,
    pollMs: 200,
  });
  const seal = await ctx.ca.serviceCredentials('seal');
  const [issuing, root] = seal.chain;
  const chainPem = join(dir, 'chain.pem');
  await writeFile(chainPem, toPem(issuing!.der, 'CERTIFICATE') + toPem(root!.der, 'CERTIFICATE'));
  const nssDir = join(dir, 'nss');
  await mkdir(nssDir);
  if (haveOracle('certutil')) {
    await execFileAsync('certutil', ['-N', '-d', `sql:${nssDir}`, '--empty-password']);
    const rootFile = join(dir, 'root.pem');
    await writeFile(rootFile, toPem(root!.der, 'CERTIFICATE'));
    await execFileAsync('certutil', [
      '-A',
      '-d',
      `sql:${nssDir}`,
      '-n',
      'root',
      '-t',
      'CT,C,C',
      '-i',
      rootFile,
    ]);
  }
  const fx = await fixtureDir();
  let users = 0;
  const userSigner = async (alg: KeyAlgorithm): Promise<PdfSigner> => {
    const [issued] = await ctx.ca.issueUser({
      email: `signer${++users}@pdf-test.example`,
      usage: 'signing',
      keyAlgorithm: alg,
      actor: 'test',
    });
    if (!issued?.generatedKey) throw new Error('the CA did not generate a key');
    return { key: issued.generatedKey, certificate: issued.certificate.der, chain: [issuing!.der] };
  };
  return {
    dir,
    fixtures: fx.dir,
    ctx,
    server,
    tsaUrl: `${server.url}/tsa`,
    signer: await userSigner('rsa-2048'),
    seal: { key: seal.key.handle, certificate: seal.certificate.der, chain: [issuing!.der] },
    userSigner,
    root: root!.der,
    chainPem,
    nssDir,
    async cleanup() {
      await server.close();
      await ctx.close();
      await fx.cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface PdfsigSignature {
  valid: boolean;
  trusted: boolean;
  digestMismatch: boolean;
  text: string;
}

/** pdfsig's verdict per signature (document timestamps left out), in file order. */
export async function pdfsig(env: SignEnv, file: string, password?: string): Promise<PdfsigSignature[]> {
  const r = await run('pdfsig', [
    '-nssdir',
    `sql:${env.nssDir}`,
    ...(password ? ['-upw', password] : []),
    file,
  ]);
  return (
    r.stdout
      .split(/^Signature #\d+:/m)
      .slice(1)
      // Unsigned fields, and document timestamps, which pdfsig lists but does not check (INTEROP.md).
      .filter((text) => !/form field is not signed|Signature Type: (unknown|ETSI\.RFC3161)/.test(text))
      .map((text) => ({
        valid: /Signature Validation: Signature is Valid/.test(text),
        trusted: /Certificate Validation: Certificate is Trusted/.test(text),
        digestMismatch: /Digest Mismatch/.test(text),
        text,
      }))
  );
}

export async function qpdfCheck(file: string, password?: string): Promise<{ ok: boolean; out: string }> {
  const r = await run('qpdf', ['--check', ...(password ? [`--password=${password}`] : []), file]);
  // exit 0: no problems; 3: warnings only. Warnings are failures here too.
  return { ok: r.code === 0, out: r.stdout + r.stderr };
}

const PDFBOX_SRC = fileURLToPath(new URL('../tools/pdfbox/', import.meta.url));
const JARS = ['pdfbox2', 'fontbox2', 'commons-logging', 'bcprov', 'bcpkix', 'bcutil'].map(
  (j) => `/usr/share/java/${j}.jar`,
);

export function havePdfBox(): boolean {
  const ok = JARS.every((j) => existsSync(j)) && haveOracle('javac') && haveOracle('java');
  if (!ok && process.env.CI === 'true')
    throw new Error('PDFBox 2, Bouncy Castle and a JDK are required under CI');
  if (!ok)
    console.warn('skipping PDFBox checks: libpdfbox2-java/libbcpkix-java/default-jdk-headless missing');
  return ok;
}

export interface PdfBoxEntry {
  field: string;
  subFilter: string;
  type: 'signature' | 'timestamp';
  coversWholeDocument: boolean;
  digestOk: boolean;
  signatureOk: boolean;
  /** A signature timestamp token is embedded and its imprint covers the signature value. */
  signatureTimestamp: boolean;
  /** Uppercase hex SHA-1 of /Contents (the VRI key). */
  contentsSha1: string;
  error?: string;
}
export interface PdfBoxReport {
  signatures: PdfBoxEntry[];
  dss: { certs: number; ocsps: number; crls: number; vri: string[] } | null;
}

/** Compile the checker once per env (javac into env.dir) and run it. */
export async function pdfbox(env: SignEnv, file: string, password?: string): Promise<PdfBoxReport> {
  const classes = join(env.dir, 'pdfbox-classes');
  const cp = JARS.join(':');
  if (!existsSync(join(classes, 'PdfSigCheck.class'))) {
    await mkdir(classes, { recursive: true });
    await execFileAsync('javac', ['-nowarn', '-cp', cp, '-d', classes, join(PDFBOX_SRC, 'PdfSigCheck.java')]);
  }
  const r = await run(
    'java',
    ['-cp', `${cp}:${classes}`, 'PdfSigCheck', file, ...(password ? [password] : [])],
    { timeoutMs: 60_000 },
  );
  if (r.code !== 0) throw new Error(`PDFBox checker failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as PdfBoxReport;
}

/** A tiny RGBA PNG (a diagonal stroke with transparency), built here so no binary is committed. */
export function strokePng(w = 40, h = 20): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer): number => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const rows: number[] = [];
  for (let y = 0; y < h; y++) {
    rows.push(0); // filter type None
    for (let x = 0; x < w; x++) rows.push(0, 0, 128, Math.abs(x / 2 - y) < 1.5 ? 255 : 0);
  }
  const raw = Buffer.from(rows);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
