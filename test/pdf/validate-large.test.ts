/**
 * Validation of a 300 MB signed PDF (issue 4, scope 4 "Streaming"): the ByteRange digest is computed by
 * reading the file in chunks, so validating it must not grow memory with the file's size, and one flipped
 * byte deep inside the signed range must still be found.
 */
import { mkdtemp, open, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signPdf } from '../../src/pdf/sign/index.js';
import { formatReport, validatePdf, type PdfValidationReport } from '../../src/pdf/validate/index.js';
import { run } from '../helpers/run.js';
import { requireOracle } from './sign-env.js';
import { makeValidatePki, type ValidatePki } from './validate-pki.js';
import { writeStreamedPdf } from './fixtures/streamed-pdf.js';

const MB = 1024 * 1024;
const STREAM_SIZE = 300 * MB;
/** The input and its signed copy, plus headroom for the rest of the test run. */
const DISK_NEEDED = 2 * 1024 * MB;
const OFFLINE = { mode: 'if-available', onUnreachable: 'soft-fail', fetch: false } as const;

const free = await statfs(tmpdir());
const enoughDisk = free.bavail * free.bsize >= DISK_NEEDED;
if (!enoughDisk)
  console.warn(
    `skipping the 300 MB validation test: ${tmpdir()} has ${Math.round((free.bavail * free.bsize) / MB)} MB free, it needs 2 GB`,
  );

/** Validate `file` while sampling RSS; returns the report and the peak growth over the starting RSS. */
async function validateWatchingRss(file: string): Promise<{ report: PdfValidationReport; growthMb: number }> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2);
  try {
    const report = await validatePdf(file, { trustAnchors: [pki.rootDer], revocation: OFFLINE });
    peak = Math.max(peak, process.memoryUsage.rss());
    return { report, growthMb: (peak - before) / MB };
  } finally {
    clearInterval(sampler);
  }
}

let pki: ValidatePki;
let dir: string;
let signed: string;
let streamStart: number;

describe.skipIf(!enoughDisk)('validating a 300 MB signed PDF', () => {
  beforeAll(async () => {
    pki = await makeValidatePki();
    dir = await mkdtemp(join(tmpdir(), 'sealpost-pdf-validate-large-'));
    const input = join(dir, 'large.pdf');
    signed = join(dir, 'large-signed.pdf');
    ({ streamStart } = await writeStreamedPdf(input, STREAM_SIZE));
    await signPdf({
      input,
      output: signed,
      signer: { key: pki.signer.key, certificate: pki.signer.der },
      level: 'B-B',
    });
    await rm(input);
  }, 60_000);
  afterAll(async () => {
    await pki?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is valid, covers the whole file, and validation grows RSS by less than 64 MB', async () => {
    const { report, growthMb } = await validateWatchingRss(signed);
    console.log(`300 MB signed PDF: RSS grew by ${growthMb.toFixed(1)} MB during validation`);
    const [sig] = report.signatures;
    expect(report.signatures).toHaveLength(1);
    expect(sig!.verdict, formatReport(report)).toBe('valid');
    expect(sig!.coverage.coversWholeFile).toBe(true);
    expect(growthMb).toBeLessThan(64);
    if (requireOracle('pdfsig')) {
      const out = (await run('pdfsig', [signed])).stdout;
      expect(out).toContain('Signature Validation: Signature is Valid');
    }
  });

  it('one byte flipped in the middle of the large stream makes it invalid with a digest mismatch', async () => {
    const middle = streamStart + STREAM_SIZE / 2;
    const fh = await open(signed, 'r+');
    try {
      const { buffer } = await fh.read(Buffer.alloc(1), 0, 1, middle);
      await fh.write(Buffer.from([buffer[0]! ^ 0x01]), 0, 1, middle);
    } finally {
      await fh.close();
    }
    const { report, growthMb } = await validateWatchingRss(signed);
    console.log(
      `300 MB signed PDF, one byte flipped: RSS grew by ${growthMb.toFixed(1)} MB during validation`,
    );
    const sig = report.signatures[0]!;
    expect(sig.verdict, formatReport(report)).toBe('invalid');
    expect(report.ok).toBe(false);
    expect(sig.reasons).toContain('the signed bytes were changed (ByteRange digest mismatch)');
    expect(sig.checks.find((c) => c.name === 'cms-signature')?.ok).toBe(false);
    // The file's structure is untouched: only the digest tells.
    expect(sig.checks.find((c) => c.name === 'integrity')?.ok).toBe(true);
    expect(growthMb).toBeLessThan(64);
    // poppler agrees, reading the same bytes with its own code.
    if (requireOracle('pdfsig')) expect((await run('pdfsig', [signed])).stdout).toContain('Digest Mismatch');
  });
});
