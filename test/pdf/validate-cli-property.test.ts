/**
 * `pdf verify` through commander (exit status and --json), and property tests: mutated signed PDFs give a
 * report or a PdfError, never another exception, within bounded time.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerPdfVerify } from '../../src/cli/commands/pdf-verify.js';
import { CliError } from '../../src/cli/common.js';
import { BufferSource, PdfError } from '../../src/pdf/index.js';
import { validatePdf } from '../../src/pdf/validate/index.js';
import { fixtureDir } from './fixtures/fixtures.js';
import { appendRevision, openBytes, signPdf, streamBody } from './validate-signing-helper.js';
import { makeValidatePki, type ValidatePki } from './validate-pki.js';

let pki: ValidatePki;
let signed: Buffer;
let attacked: Buffer;

beforeAll(async () => {
  pki = await makeValidatePki();
  const fixtures = await fixtureDir();
  const classic = await readFile(join(fixtures.dir, 'classic.pdf'));
  await fixtures.cleanup();
  signed = await signPdf(classic, { key: pki.signer.key, cert: pki.signer.der, contentsBytes: 4096 });
  const doc = await openBytes(signed);
  const contents = (await doc.pages())[0]!.dict.get('Contents') as { num: number };
  await doc.close();
  attacked = await appendRevision(signed, [{ num: contents.num, body: streamBody('<<>>', 'BT ET') }]);
}, 60_000);
afterAll(() => pki?.cleanup());

/** Run `sealpost [--json] pdf verify …` in process; returns the exit status and what was printed. */
async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const program = new Command('sealpost').option('--json').exitOverride();
  const pdf = program.command('pdf').exitOverride();
  registerPdfVerify(pdf);
  for (const c of pdf.commands) c.exitOverride();
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, out };
  } catch (e) {
    if (e instanceof CliError) return { code: e.exitCode, out: out + e.message };
    throw e;
  } finally {
    spy.mockRestore();
  }
}

describe('sealpost pdf verify', () => {
  it('exits 0 for a valid signature and 1 after an incremental saving attack; --json gives the report', async () => {
    const good = join(pki.dir, 'good.pdf');
    const bad = join(pki.dir, 'bad.pdf');
    await writeFile(good, signed);
    await writeFile(bad, attacked);
    const ok = await cli(['pdf', 'verify', '--in', good, '--trust', pki.rootPath, '--no-fetch']);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain('Result: every signature is valid.');
    const ko = await cli(['--json', 'pdf', 'verify', '--in', bad, '--trust', pki.rootPath, '--no-fetch']);
    expect(ko.code).toBe(1);
    const report = JSON.parse(ko.out) as {
      ok: boolean;
      signatures: { verdict: string; reasons: string[] }[];
    };
    expect(report.ok).toBe(false);
    expect(report.signatures[0]!.verdict).toBe('invalid');
    expect(report.signatures[0]!.reasons.join(' ')).toContain('page content changed after signing');
    const missingTrust = await cli(['pdf', 'verify', '--in', good]);
    expect(missingTrust.code).not.toBe(0);
  });
});

describe('validatePdf on mutated signed PDFs', () => {
  const options = {
    trustAnchors: [] as Buffer[],
    revocation: { mode: 'off', onUnreachable: 'soft-fail' } as const,
  };

  async function judge(bytes: Buffer): Promise<void> {
    const started = Date.now();
    try {
      const r = await validatePdf(new BufferSource(bytes), { ...options, trustAnchors: [pki.rootDer] });
      for (const s of r.signatures) expect(['valid', 'invalid', 'indeterminate']).toContain(s.verdict);
    } catch (e) {
      if (!(e instanceof PdfError)) throw e;
    }
    expect(Date.now() - started).toBeLessThan(5000);
  }

  it('byte flips, truncations and splices anywhere: a report or a PdfError', async () => {
    for (const base of [signed, attacked]) {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
            minLength: 1,
            maxLength: 8,
          }),
          fc.option(fc.nat(base.length), { nil: undefined }),
          async (flips, cut) => {
            const m = Buffer.from(base);
            for (const [at, v] of flips) m[at] = v;
            await judge(cut === undefined ? m : m.subarray(0, cut));
          },
        ),
        { numRuns: 60 },
      );
    }
  }, 60_000);

  it('mutations aimed at the signature dictionary and the xref tail', async () => {
    const text = signed.toString('latin1');
    const hot = [
      text.lastIndexOf('/ByteRange'),
      text.lastIndexOf('/Contents'),
      text.lastIndexOf('xref'),
      text.lastIndexOf('startxref'),
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...hot),
        fc.integer({ min: 0, max: 60 }),
        fc.constantFrom('0', '9', ' ', '<', '>', ']', '[', '/', '-', 'R', 'x'),
        async (base, delta, ch) => {
          const m = Buffer.from(signed);
          m.write(ch, Math.min(m.length - 1, base + delta), 'latin1');
          await judge(m);
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);
});
