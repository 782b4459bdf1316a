/**
 * PDF signing benchmark (issue 4): B-B signatures per second on 100 KB, 1 MB and 10 MB PDFs (RSA-2048
 * software key) against the physical bound measured in the same run (SHA-256 over the file + one
 * signature) and against @signpdf/signpdf and @libpdf/core on the same files; B-T over HTTP against our
 * own TSA; a 1 GB PDF: peak RSS and wall time against `sha256sum`.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { SoftwareKey } from '../src/crypto/software-key.js';
import { signPdf, signerFromPkcs12, type PdfSigner } from '../src/pdf/sign/index.js';
import { writeWholeFile } from '../src/pdf/writer/output.js';
import { figure, rate, report, type Figure } from './harness.js';
import { writeStreamedPdf } from '../test/pdf/fixtures/streamed-pdf.js';

const execFileAsync = promisify(execFile);

/** A one-page PDF with a classic xref, padded to about `size` bytes by an incompressible stream. */
export function makePdf(size: number): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  const offsets: number[] = [];
  let length = parts[0]!.length;
  const obj = (body: Buffer | string): void => {
    offsets.push(length);
    const b = Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1');
    parts.push(b);
    length += b.length;
  };
  const content = 'BT /F1 24 Tf 72 720 Td (Statement) Tj ET';
  const padding = Math.max(0, size - 1200);
  obj('1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n');
  obj('2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n');
  obj(
    '3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>\nendobj\n',
  );
  obj(`4 0 obj\n<< /Length ${content.length} >>\nstream\n${content}\nendstream\nendobj\n`);
  obj('5 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n');
  obj(
    Buffer.concat([
      Buffer.from(`6 0 obj\n<< /Length ${padding} >>\nstream\n`),
      randomBytes(padding),
      Buffer.from('\nendstream\nendobj\n'),
    ]),
  );
  const xref = length;
  let table = `xref\n0 ${offsets.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) table += `${String(o).padStart(10, '0')} 00000 n \n`;
  table += `trailer\n<< /Size ${offsets.length + 1} /Root 1 0 R /ID [<${randomBytes(16).toString('hex')}> <${randomBytes(16).toString('hex')}>] >>\nstartxref\n${xref}\n%%EOF\n`;
  parts.push(Buffer.from(table, 'latin1'));
  return Buffer.concat(parts);
}

async function credentials(
  dir: string,
): Promise<{ p12: Buffer; signer: PdfSigner; keyPem: string; certPem: string }> {
  const keyPem = join(dir, 'key.pem');
  const certPem = join(dir, 'cert.pem');
  await execFileAsync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyPem,
    '-out',
    certPem,
    '-days',
    '30',
    '-subj',
    '/CN=Bench Seal',
    '-addext',
    'keyUsage=critical,digitalSignature,nonRepudiation',
  ]);
  const p12File = join(dir, 'seal.p12');
  // PBE-SHA1-3DES: readable by every library compared here (node-forge included).
  await execFileAsync('openssl', [
    'pkcs12',
    '-export',
    '-inkey',
    keyPem,
    '-in',
    certPem,
    '-out',
    p12File,
    '-passout',
    'pass:bench',
    '-certpbe',
    'PBE-SHA1-3DES',
    '-keypbe',
    'PBE-SHA1-3DES',
    '-macalg',
    'sha1',
  ]);
  const p12 = await readFile(p12File);
  return { p12, signer: signerFromPkcs12(p12, 'bench'), keyPem, certPem };
}

async function peers(): Promise<{
  signpdf?: (pdf: Buffer, p12: Buffer) => Promise<Buffer>;
  libpdf?: (pdf: Buffer, p12: Buffer) => Promise<Buffer>;
  notes: string[];
}> {
  const notes: string[] = [];
  const out: Awaited<ReturnType<typeof peers>> = { notes };
  try {
    const { default: signpdf } = (await import('@signpdf/signpdf')) as unknown as {
      default: { sign(pdf: Buffer, signer: unknown): Promise<Buffer> };
    };
    const { P12Signer } = (await import('@signpdf/signer-p12')) as unknown as {
      P12Signer: new (p12: Buffer, o: { passphrase: string }) => unknown;
    };
    const { plainAddPlaceholder } = (await import('@signpdf/placeholder-plain')) as unknown as {
      plainAddPlaceholder(o: {
        pdfBuffer: Buffer;
        reason: string;
        contactInfo: string;
        name: string;
        location: string;
      }): Buffer;
    };
    out.signpdf = async (pdf, p12) =>
      signpdf.sign(
        plainAddPlaceholder({
          pdfBuffer: pdf,
          reason: 'bench',
          contactInfo: 'bench',
          name: 'bench',
          location: 'bench',
        }),
        new P12Signer(p12, { passphrase: 'bench' }),
      );
  } catch (e) {
    notes.push(`@signpdf/signpdf unavailable: ${(e as Error).message}`);
  }
  try {
    const lib = (await import('@libpdf/core')) as unknown as {
      PDF: {
        load(b: Uint8Array): Promise<{
          sign(o: { signer: unknown; reason?: string }): Promise<Uint8Array | { bytes: Uint8Array }>;
        }>;
      };
      P12Signer: { create(p12: Uint8Array, password: string): Promise<unknown> };
    };
    let signer: unknown;
    out.libpdf = async (pdf, p12) => {
      signer ??= await lib.P12Signer.create(p12, 'bench');
      const doc = await lib.PDF.load(pdf);
      const r = await doc.sign({ signer, reason: 'bench' });
      return Buffer.from(r instanceof Uint8Array ? r : r.bytes);
    };
  } catch (e) {
    notes.push(`@libpdf/core unavailable: ${(e as Error).message}`);
  }
  return out;
}

/** Signatures in flight at once, for every contender: two workers on this 2-core machine. */
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 2);

const SIZES: [string, number][] = [
  ['100 KB', 100 * 1024],
  ['1 MB', 1024 * 1024],
  ['10 MB', 10 * 1024 * 1024],
];

async function bigFileChild(input: string, output: string): Promise<void> {
  const { p12 } = JSON.parse(process.env.BENCH_P12 ?? '{}') as { p12: string };
  const signer = signerFromPkcs12(Buffer.from(p12, 'base64'), 'bench');
  const t = performance.now();
  await signPdf({ input, output, signer });
  const wall = performance.now() - t;
  process.stdout.write(JSON.stringify({ wallMs: wall, maxRssKb: process.resourceUsage().maxRSS }) + '\n');
}

export async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-bench-pdf-'));
  const figures: Figure[] = [];
  const notes: string[] = [];
  try {
    const cred = await credentials(dir);
    const key = cred.signer.key as SoftwareKey;
    const peer = await peers();
    notes.push(...peer.notes);
    const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
    for (const [label, size] of SIZES) {
      const pdf = makePdf(size);
      const input = join(dir, `in-${size}.pdf`);
      await writeFile(input, pdf);
      const output = join(dir, `out-${size}.pdf`);
      const ms = Number(process.env.BENCH_MS ?? (size >= 10 * 1024 * 1024 ? 2500 : 1500));
      // Each in-flight signature writes its own output file.
      const freeOutputs = Array.from({ length: CONCURRENCY }, (_, i) => `${output}.${i}`);
      const withOutput = async (fn: (out: string) => Promise<unknown>): Promise<void> => {
        const out = freeOutputs.pop()!;
        try {
          await fn(out);
        } finally {
          freeOutputs.push(out);
        }
      };
      // Every contender does the same job, file to file: read the input, sign, write the output (the
      // peers' output written the way ours is, so that the comparison is of the PDF libraries).
      const contenders: [string, () => Promise<unknown>][] = [
        [
          'bound',
          async () => {
            const digest = createHash('sha256').update(pdf).digest();
            await key.sign(digest, 'sha256');
          },
        ],
        ['ours', () => withOutput((out) => signPdf({ input, output: out, signer: cred.signer }))],
      ];
      for (const [name, fn] of [
        ['@signpdf/signpdf', peer.signpdf],
        ['@libpdf/core', peer.libpdf],
      ] as const) {
        if (!fn) continue;
        try {
          await fn(pdf, cred.p12);
          contenders.push([
            name,
            () => withOutput(async (out) => writeWholeFile(out, [await fn(await readFile(input), cred.p12)])),
          ]);
        } catch (e) {
          notes.push(`${name} failed on ${label}: ${(e as Error).message.split('\n')[0]}`);
        }
      }
      // The machine is shared: alternate the contenders round by round, all at the same concurrency,
      // and keep each one's best round, so that a burst of outside load does not land on one side only.
      const best = new Map<string, Awaited<ReturnType<typeof rate>>>();
      for (let round = 0; round < rounds; round++)
        for (const [name, fn] of contenders) {
          const r = await rate(fn, { ms, concurrency: CONCURRENCY, warmup: round ? 2 : 5 });
          if (r.perSecond > (best.get(name)?.perSecond ?? 0)) best.set(name, r);
        }
      const bound = best.get('bound')!;
      const ours = best.get('ours')!;
      figures.push(
        figure({
          name: `B-B ${label} vs physical bound`,
          unit: 'sig/s',
          value: ours.perSecond,
          baselineName: 'SHA-256 + 1 RSA sign',
          baseline: bound.perSecond,
          target: '≥ 0.6',
          p50Ms: ours.p50Ms,
          p99Ms: ours.p99Ms,
        }),
      );
      const peerRates = [...best].filter(([name]) => name !== 'bound' && name !== 'ours');
      const faster = [...peerRates].sort((a, b) => b[1].perSecond - a[1].perSecond)[0];
      for (const [name, r] of peerRates)
        figures.push(figure({ name: `  ${name} ${label}`, unit: 'sig/s', value: r.perSecond }));
      if (faster)
        figures.push(
          figure({
            name: `B-B ${label} vs faster peer`,
            unit: 'sig/s',
            value: ours.perSecond,
            baselineName: faster[0],
            baseline: faster[1].perSecond,
            target: '≥ 2',
          }),
        );
    }
    notes.push(
      `concurrency ${CONCURRENCY} for every contender (bound, ours, peers); best of ${rounds} alternating rounds each; every contender reads the input file and writes its output file (the bound only hashes and signs)`,
    );

    // B-T over HTTP against our own TSA (in-process server).
    const { openSealpost } = await import('../src/app/context.js');
    const { initialise } = await import('../src/app/init.js');
    const { startServer } = await import('../src/app/runtime.js');
    const { loadConfig } = await import('../src/config/config.js');
    const { createLogger } = await import('../src/util/logger.js');
    const ctx = await openSealpost(
      loadConfig({ dataDir: join(dir, 'data'), env: {}, overrides: { port: 0 } }),
      createLogger('silent'),
      { createMasterKey: true },
    );
    await initialise(ctx, { orgName: 'Bench Bank', actor: 'bench' });
    const server = await startServer(ctx, { roles: ['tsa'], host: '127.0.0.1', port: 0, pollMs: 1000 });
    try {
      const input = join(dir, `in-${1024 * 1024}.pdf`);
      const output = join(dir, 'bt.pdf');
      const bt = await rate(
        () =>
          signPdf({ input, output, signer: cred.signer, level: 'B-T', tsa: { url: `${server.url}/tsa` } }),
        { ms: 3000, warmup: 5 },
      );
      figures.push(
        figure({
          name: 'B-T 1 MB over HTTP (our TSA)',
          unit: 'sig/s',
          value: bt.perSecond,
          p50Ms: bt.p50Ms,
          p99Ms: bt.p99Ms,
        }),
      );
    } finally {
      await server.close();
      await ctx.close();
    }

    // 1 GB: peak RSS and wall time in a fresh process, against sha256sum of the same file.
    const big = join(dir, 'big.pdf');
    await writeStreamedPdf(big, 1024 * 1024 * 1024);
    await execFileAsync('sha256sum', [big]); // warm the page cache for both
    const t = performance.now();
    await execFileAsync('sha256sum', [big]);
    const shaMs = performance.now() - t;
    const child = await new Promise<string>((resolve, reject) => {
      const p = spawn(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(import.meta.url), '--big', big, join(dir, 'big-signed.pdf')],
        {
          env: { ...process.env, BENCH_P12: JSON.stringify({ p12: cred.p12.toString('base64') }) },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.on('error', reject);
      p.on('close', (code) =>
        code === 0 ? resolve(out) : reject(new Error(`1 GB signing child exited ${code}`)),
      );
    });
    const { wallMs, maxRssKb } = JSON.parse(child.trim().split('\n').at(-1)!) as {
      wallMs: number;
      maxRssKb: number;
    };
    figures.push(
      figure({
        name: '1 GB B-B wall time vs sha256sum',
        unit: 'ms',
        value: wallMs,
        baselineName: 'sha256sum',
        baseline: shaMs,
        target: '≤ 2',
      }),
    );
    figures.push(figure({ name: '1 GB B-B peak RSS', unit: 'MB', value: maxRssKb / 1024, target: '< 200' }));
    const fh = await open(join(dir, 'big-signed.pdf'), 'r');
    await fh.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  notes.push(
    'per small file most of the time is fixed cost: reading and writing the files, the reader opening the xref and walking fields/pages, the CMS around the signature',
  );
  await report('pdf', figures, notes);
}

if (process.argv[2] === '--big') await bigFileChild(process.argv[3]!, process.argv[4]!);
else if (import.meta.url === `file://${process.argv[1]}`) await main();
