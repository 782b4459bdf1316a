/**
 * A real PKI for the S/MIME message tests: Sealpost's own server in process (CA, OCSP, CRL, TSA), as
 * test/e2e/server.test.ts starts it. Users get a signing and an encryption certificate from the CA; their keys are
 * written as PEM (for OpenSSL), legacy PKCS#12 (for gpgsm and our CLI) and loaded as credentials.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/util/logger.js';
import { openSealpost, type Sealpost } from '../../src/app/context.js';
import { initialise } from '../../src/app/init.js';
import { startServer, type RunningServer } from '../../src/app/runtime.js';
import { toPem, fromPem } from '../../src/pkix/pem.js';
import { buildPkcs12 } from '../../src/pkix/pkcs12.js';
import { credentialFromPkcs12, type SmimeCredential } from '../../src/smime/index.js';

export const P12_PASSWORD = 'correct horse battery';

export interface KeyFiles {
  credential: SmimeCredential;
  serial: string;
  certPath: string;
  keyPath: string;
  p12Path: string;
}

export interface TestUser {
  email: string;
  signing: KeyFiles;
  encryption: KeyFiles;
}

export interface SmimePki {
  dir: string;
  ctx: Sealpost;
  server: RunningServer;
  tsaUrl: string;
  rootDer: Buffer;
  rootPath: string;
  /** Issuing CA + root, PEM. */
  chainPath: string;
  users: Record<'alice' | 'bob' | 'carol', TestUser>;
  path(name: string): string;
  issue(email: string, name: string): Promise<TestUser>;
  close(): Promise<void>;
}

export interface ExecResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Run a program in `cwd`; resolves with the exit code instead of throwing. */
export function exec(
  cmd: string,
  args: string[],
  cwd: string,
  o: { env?: NodeJS.ProcessEnv; input?: Buffer } = {},
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        cwd,
        encoding: 'buffer',
        maxBuffer: 256 * 1024 * 1024,
        timeout: 60_000,
        ...(o.env ? { env: o.env } : {}),
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr: stderr.toString() });
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(o.input ?? Buffer.alloc(0));
  });
}

export async function startPki(): Promise<SmimePki> {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-smime-'));
  const config = loadConfig({ dataDir: join(dir, 'data'), env: {}, overrides: { port: 0 } });
  const ctx = await openSealpost(config, createLogger('silent'), { createMasterKey: true });
  await initialise(ctx, { orgName: 'S/MIME Test Bank', actor: 'test' });
  const server = await startServer(ctx, {
    roles: ['ca', 'ocsp', 'tsa'],
    host: '127.0.0.1',
    port: 0,
    pollMs: 200,
  });
  const chainPem = await ctx.ca.chainPem();
  const [issuing, root] = fromPem(chainPem).map((b) => b.der) as [Buffer, Buffer];
  const path = (name: string): string => join(dir, name);
  await writeFile(path('chain.pem'), chainPem);
  await writeFile(path('root.pem'), toPem(root, 'CERTIFICATE'));

  async function keyFiles(
    name: string,
    issued: Awaited<ReturnType<Sealpost['ca']['issueUser']>>[number],
  ): Promise<KeyFiles> {
    const key = issued.generatedKey;
    if (!key) throw new Error('the CA did not generate a key');
    const cert = Buffer.from(issued.certificate.der);
    const p12 = buildPkcs12({
      privateKey: key.exportPkcs8(),
      certificate: cert,
      chain: [issuing, root],
      password: P12_PASSWORD,
      legacy: true,
      iterations: 2048,
    });
    const files = {
      certPath: path(`${name}.pem`),
      keyPath: path(`${name}.key`),
      p12Path: path(`${name}.p12`),
    };
    await writeFile(files.certPath, toPem(cert, 'CERTIFICATE'));
    await writeFile(files.keyPath, toPem(key.exportPkcs8(), 'PRIVATE KEY'));
    await writeFile(files.p12Path, p12);
    return { ...files, serial: issued.serial, credential: credentialFromPkcs12(p12, P12_PASSWORD) };
  }

  async function issue(email: string, name: string): Promise<TestUser> {
    const issued = await ctx.ca.issueUser({ email, usage: 'both', actor: 'test' });
    const signing = issued.find((i) => i.profile === 'smime-signing');
    const encryption = issued.find((i) => i.profile === 'smime-encryption');
    if (!signing || !encryption) throw new Error('expected a signing and an encryption certificate');
    return {
      email,
      signing: await keyFiles(`${name}-sign`, signing),
      encryption: await keyFiles(`${name}-enc`, encryption),
    };
  }

  const users = {
    alice: await issue('alice@bank.example', 'alice'),
    bob: await issue('bob@bank.example', 'bob'),
    carol: await issue('carol@bank.example', 'carol'),
  };
  return {
    dir,
    ctx,
    server,
    tsaUrl: `${server.url}/tsa`,
    rootDer: root,
    rootPath: path('root.pem'),
    chainPath: path('chain.pem'),
    users,
    path,
    issue,
    async close() {
      await server.close();
      await ctx.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A real-looking message: 8-bit UTF-8 text body, LF line endings, a binary attachment. */
export function sampleMessage(
  from = 'Alice <alice@bank.example>',
  attachment = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0a, 0x0d, 0x80, 0x81]),
): Buffer {
  const boundary = 'mixed-b0undary';
  return Buffer.from(
    [
      `From: ${from}`,
      'To: Bob <bob@bank.example>',
      'Subject: Kontoauszug März',
      'Date: Sat, 28 Nov 2026 08:00:00 +0000',
      'Message-ID: <m1@bank.example>',
      'MIME-Version: 1.0',
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Grüße aus der Bank — Ihr Kontoauszug liegt bei.',
      'Zweite Zeile.',
      `--${boundary}`,
      'Content-Type: application/octet-stream; name="statement.bin"',
      'Content-Disposition: attachment; filename="statement.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      attachment.toString('base64'),
      `--${boundary}--`,
      '',
    ].join('\n'),
    'utf8',
  );
}

export class MessageMatrix {
  private readonly rows = new Map<string, Map<string, string>>();
  private readonly columns: string[] = [];

  record(row: string, column: string, passed: boolean): void {
    if (!this.columns.includes(column)) this.columns.push(column);
    const cells = this.rows.get(row) ?? new Map<string, string>();
    cells.set(column, passed ? '✓' : '✗');
    this.rows.set(row, cells);
  }

  async check(row: string, column: string, check: () => Promise<void>): Promise<void> {
    try {
      await check();
      this.record(row, column, true);
    } catch (e) {
      this.record(row, column, false);
      throw e;
    }
  }

  print(title: string): void {
    if (this.rows.size === 0) return;
    const head = `| message | ${this.columns.join(' | ')} |\n| --- |${this.columns.map(() => ' --- |').join('')}`;
    const lines = [...this.rows].map(
      ([row, cells]) => `| ${row} | ${this.columns.map((c) => cells.get(c) ?? '—').join(' | ')} |`,
    );
    console.log(`\n${title}:\n${[head, ...lines].join('\n')}\n`);
  }
}
