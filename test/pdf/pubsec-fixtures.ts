/**
 * Recipients for the public-key encryption tests: RSA-2048 and P-256 key pairs with self-signed
 * certificates and PKCS#12 files made by the OpenSSL CLI (an independent producer), in a temp dir.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pemOrDer } from '../../src/pkix/pem.js';
import { run } from '../helpers/run.js';

export const P12_PASSWORD = 'pw';
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export interface TestRecipient {
  name: string;
  certificate: Buffer;
  privateKey: KeyObject;
  /** Paths in the temp dir. */
  certPem: string;
  keyPem: string;
  p12: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await run('openssl', args, { cwd });
  if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

async function makeRecipient(dir: string, name: string, keyArgs: string[]): Promise<TestRecipient> {
  const keyPem = join(dir, `${name}.key`);
  const certPem = join(dir, `${name}.pem`);
  const p12 = join(dir, `${name}.p12`);
  await openssl(
    [
      'req',
      '-x509',
      ...keyArgs,
      '-nodes',
      '-keyout',
      keyPem,
      '-out',
      certPem,
      '-subj',
      `/CN=${name}`,
      '-days',
      '30',
    ],
    dir,
  );
  await openssl(
    [
      'pkcs12',
      '-export',
      '-inkey',
      keyPem,
      '-in',
      certPem,
      '-out',
      p12,
      '-passout',
      `pass:${P12_PASSWORD}`,
      '-name',
      name,
    ],
    dir,
  );
  return {
    name,
    certificate: pemOrDer(await readFile(certPem, 'utf8')),
    privateKey: createPrivateKey(await readFile(keyPem)),
    certPem,
    keyPem,
    p12,
  };
}

export interface Recipients {
  dir: string;
  rsa: TestRecipient;
  /** A second RSA holder: the bank's archive key. */
  archive: TestRecipient;
  ec: TestRecipient;
  cleanup(): Promise<void>;
}

export async function makeRecipients(): Promise<Recipients> {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-pubsec-'));
  const [rsa, archive, ec] = await Promise.all([
    makeRecipient(dir, 'customer', ['-newkey', 'rsa:2048']),
    makeRecipient(dir, 'archive', ['-newkey', 'rsa:2048']),
    makeRecipient(dir, 'ec-customer', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']),
  ]);
  return { dir, rsa, archive, ec, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The committed reader fixtures (made by Ghostscript and qpdf). */
export const fixture = (name: string): Promise<Buffer> => readFile(join(FIXTURES, name));

const PDFBOX_JARS = ['pdfbox2', 'fontbox2', 'commons-logging', 'bcprov', 'bcpkix', 'bcutil'].map(
  (j) => `/usr/share/java/${j}.jar`,
);
export const PDFBOX_TOOLS_JAR = '/usr/share/java/pdfbox2-tools.jar';

/** PDFBox's jars, or undefined (with the reason printed) when absent; under CI absence is a failure. */
export function pdfboxClasspath(): string[] | undefined {
  const missing = [...PDFBOX_JARS, PDFBOX_TOOLS_JAR].filter((j) => !existsSync(j));
  const javac = spawnable('javac');
  if (missing.length === 0 && javac) return PDFBOX_JARS;
  const reason = `PDFBox oracle missing: ${[...missing, ...(javac ? [] : ['javac'])].join(', ')} (apt-get install libpdfbox2-java libbcprov-java libbcpkix-java libbcutil-java default-jdk-headless)`;
  if (process.env.CI === 'true') throw new Error(reason);
  console.warn(`skipping: ${reason}`);
  return undefined;
}

function spawnable(program: string): boolean {
  return ['/usr/bin', '/usr/local/bin'].some((d) => existsSync(join(d, program)));
}

/**
 * A one-page PDF with a classic xref whose content stream is `content` (unfiltered) and whose /Info
 * has a /Title: the smallest input that exercises strings and a stream of any size.
 */
export function buildPdf(content: Buffer, title = 'Statement 2026-11'): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  const offsets: number[] = [];
  let pos = parts[0]!.length;
  const add = (b: Buffer): void => {
    parts.push(b);
    pos += b.length;
  };
  const obj = (num: number, body: Buffer[]): void => {
    offsets[num] = pos;
    add(Buffer.from(`${num} 0 obj\n`, 'latin1'));
    for (const b of body) add(b);
    add(Buffer.from('\nendobj\n', 'latin1'));
  };
  const text = (s: string): Buffer => Buffer.from(s, 'latin1');
  obj(1, [text('<< /Type /Catalog /Pages 2 0 R >>')]);
  obj(2, [text('<< /Type /Pages /Kids [3 0 R] /Count 1 >>')]);
  obj(3, [text('<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>')]);
  obj(4, [text(`<< /Length ${content.length} >>\nstream\n`), content, text('\nendstream')]);
  obj(5, [text(`<< /Title (${title}) /Producer (sealpost test) >>`)]);
  const xref = pos;
  let table = 'xref\n0 6\n0000000000 65535 f\r\n';
  for (let n = 1; n <= 5; n++) table += `${String(offsets[n]).padStart(10, '0')} 00000 n\r\n`;
  add(text(`${table}trailer\n<< /Size 6 /Root 1 0 R /Info 5 0 R >>\nstartxref\n${xref}\n%%EOF\n`));
  return Buffer.concat(parts);
}
