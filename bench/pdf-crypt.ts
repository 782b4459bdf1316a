/**
 * Public-key PDF encryption (issue 5): 1 MB statements per second, encrypted for two recipients
 * (customer + archive, RSA-2048, AES-256) and encrypted-then-signed (`protect`, PAdES B-B), each as a
 * ratio to the primitives' bound measured in the same run — AES-256-CBC over the bytes, one RSA key
 * transport per recipient, and for protect SHA-256 over the file plus one RSA-2048 signature (target
 * ≥ 0.5); and the peak RSS while encrypting a 1 GB PDF file to a file (target < 256 MB).
 */
import { X509Certificate, createCipheriv, createHash, publicEncrypt, randomBytes, sign } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encryptPdf, encryptPdfFile } from '../src/pdf/encrypt/index.js';
import { protectPdf } from '../src/pdf/encrypt/protect.js';
import { signerFromPkcs12 } from '../src/pdf/sign/index.js';
import { buildPdf, makeRecipients, P12_PASSWORD } from '../test/pdf/pubsec-fixtures.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { figure, rate, report } from './harness.js';
import { writeStreamedPdf } from '../test/pdf/fixtures/streamed-pdf.js';

const STATEMENT_BYTES = 1024 * 1024;
const LARGE_MB = Number(process.env.BENCH_PDF_CRYPT_LARGE_MB ?? 1024);

export async function main(): Promise<void> {
  const people = await makeRecipients();
  const work = await mkdtemp(join(tmpdir(), 'sealpost-bench-pdf-crypt-'));
  try {
    const recipients = [people.rsa, people.archive].map((p) => ({ certificate: p.certificate }));
    const statement = buildPdf(randomBytes(STATEMENT_BYTES));
    const statementPath = join(work, 'statement.pdf');
    await writeFile(statementPath, statement);
    const signer = signerFromPkcs12(await readFile(people.archive.p12), P12_PASSWORD);
    const signingKey = people.archive.privateKey;
    const publicKeys = [people.rsa, people.archive].map((p) => new X509Certificate(p.certificate).publicKey);

    // The primitives' bound: what any implementation must spend per document.
    const aesAndTransport = async (): Promise<void> => {
      const c = createCipheriv('aes-256-cbc', randomBytes(32), randomBytes(16));
      c.update(statement);
      c.final();
      for (const k of publicKeys) publicEncrypt(k, randomBytes(32));
    };
    const boundProtectOp = async (): Promise<void> => {
      await aesAndTransport();
      createHash('sha256').update(statement).digest();
      sign('sha256', randomBytes(32), signingKey);
    };
    let n = 0;
    const encryptOp = () => encryptPdf(statement, { recipients });
    const protectOp = () =>
      protectPdf({
        input: statementPath,
        output: join(work, `protected-${n++ % 4}.pdf`),
        recipients,
        signer,
        level: 'B-B',
      });
    // The machine is shared: measure ours and the bound in alternating rounds and keep each one's best,
    // so that a burst of outside load does not land on one side only.
    const rounds = { bound: [], boundProtect: [], encrypt: [], protect: [] } as Record<
      string,
      Awaited<ReturnType<typeof rate>>[]
    >;
    for (let round = 0; round < 3; round++) {
      rounds.bound!.push(await rate(aesAndTransport, { ms: 1000, warmup: 5 }));
      rounds.encrypt!.push(await rate(encryptOp, { ms: 1000, warmup: 5 }));
      rounds.boundProtect!.push(await rate(boundProtectOp, { ms: 1000, warmup: 5 }));
      rounds.protect!.push(await rate(protectOp, { ms: 1000, warmup: 5 }));
    }
    const best = (k: string) => rounds[k]!.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
    const [bound, encrypt, boundProtect, protect] = ['bound', 'encrypt', 'boundProtect', 'protect'].map(
      best,
    ) as [
      Awaited<ReturnType<typeof rate>>,
      Awaited<ReturnType<typeof rate>>,
      Awaited<ReturnType<typeof rate>>,
      Awaited<ReturnType<typeof rate>>,
    ];

    // Peak RSS while encrypting a large file to a file: the stream must pass through in chunks.
    const large = join(work, 'large.pdf');
    await writeStreamedPdf(large, LARGE_MB * 1024 * 1024);
    // In a fresh process, so the figure is the encryptor's memory, not what this process already holds.
    const { seconds, maxRssKb } = await largeFileChild(large, join(work, 'large-enc.pdf'), recipients);
    const largeSize = (await stat(large)).size;

    await report(
      'pdf-crypt',
      [
        figure({
          name: 'encrypt 1 MB statement, 2 RSA recipients, AES-256',
          unit: 'docs/s',
          value: encrypt.perSecond,
          baselineName: 'AES-256-CBC 1 MB + 2 RSA key transports',
          baseline: bound.perSecond,
          target: '≥ 0.5',
          p50Ms: encrypt.p50Ms,
          p99Ms: encrypt.p99Ms,
        }),
        figure({
          name: 'protect (encrypt + PAdES B-B sign) 1 MB',
          unit: 'docs/s',
          value: protect.perSecond,
          baselineName: 'AES + 2 key transports + SHA-256 1 MB + RSA-2048 sign',
          baseline: boundProtect.perSecond,
          target: '≥ 0.5',
          p50Ms: protect.p50Ms,
          p99Ms: protect.p99Ms,
        }),
        figure({
          name: `peak RSS encrypting a ${(largeSize / 2 ** 30).toFixed(2)} GB PDF`,
          unit: 'MB',
          value: maxRssKb / 1024,
          target: '< 256 MB',
        }),
        figure({
          name: 'large-file encryption throughput',
          unit: 'MB/s',
          value: largeSize / 2 ** 20 / seconds,
        }),
      ],
      [
        'the large file is encrypted in a child process (peak RSS = its maxRSS, node runtime included)',
        'best of 3 alternating 1 s rounds for each figure and its bound (the machine is shared)',
        'protect reads the statement from a file, encrypts in memory and appends the signature to a new file; encrypt is in memory',
      ],
    );
  } finally {
    await rm(work, { recursive: true, force: true });
    await people.cleanup();
  }
}

/** Encrypt `input` to `output` in a child process; its wall time and peak RSS. */
function largeFileChild(
  input: string,
  output: string,
  recipients: { certificate: Buffer }[],
): Promise<{ seconds: number; maxRssKb: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--large', input, output],
      {
        env: {
          ...process.env,
          BENCH_RECIPIENTS: JSON.stringify(recipients.map((r) => r.certificate.toString('base64'))),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`large-file encryption child exited ${code}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { seconds: number; maxRssKb: number });
    });
  });
}

async function largeFile(input: string, output: string): Promise<void> {
  const certificates = JSON.parse(process.env.BENCH_RECIPIENTS ?? '[]') as string[];
  const t0 = performance.now();
  await encryptPdfFile(input, output, {
    recipients: certificates.map((c) => ({ certificate: Buffer.from(c, 'base64') })),
  });
  process.stdout.write(
    JSON.stringify({ seconds: (performance.now() - t0) / 1000, maxRssKb: process.resourceUsage().maxRSS }) +
      '\n',
  );
}

if (process.argv[2] === '--large') await largeFile(process.argv[3] ?? '', process.argv[4] ?? '');
