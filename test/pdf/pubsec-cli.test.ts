/** `sealpost pdf encrypt | decrypt | protect` through commander, as registerPdfCrypt wires them. */
import { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerPdfCrypt } from '../../src/cli/commands/pdf-crypt.js';
import { PdfDocument } from '../../src/pdf/index.js';
import { FIXTURES, P12_PASSWORD, makeRecipients, type Recipients } from './pubsec-fixtures.js';

let r: Recipients;
beforeAll(async () => {
  r = await makeRecipients();
});
afterAll(async () => r?.cleanup());

async function sealpostPdf(...args: string[]): Promise<unknown> {
  const program = new Command().option('--json').exitOverride();
  registerPdfCrypt(program.command('pdf'));
  const writes: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    writes.push(String(s));
    return true;
  });
  try {
    await program.parseAsync(['--json', 'pdf', ...args], { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return JSON.parse(writes.join(''));
}

describe('sealpost pdf encrypt / decrypt / protect', () => {
  it('encrypts for two certificates with AES-128 and permissions, and the archive key decrypts it', async () => {
    const enc = join(r.dir, 'cli-enc.pdf');
    const plain = join(r.dir, 'cli-plain.pdf');
    const encrypted = await sealpostPdf(
      'encrypt',
      '--in',
      join(FIXTURES, 'classic.pdf'),
      '--out',
      enc,
      '--to',
      r.rsa.certPem,
      '--to',
      r.archive.certPem,
      '--aes',
      '128',
      '--permissions',
      'print,copy',
    );
    expect(encrypted).toMatchObject({ aes: 128, recipients: 2, permissions: ['print', 'copy'] });
    const decrypted = await sealpostPdf(
      'decrypt',
      '--in',
      enc,
      '--out',
      plain,
      '--key',
      r.archive.p12,
      '--password',
      P12_PASSWORD,
    );
    expect(decrypted).toMatchObject({ filter: 'Adobe.PubSec', permissionNames: ['print', 'copy'] });
    const doc = await PdfDocument.openFile(plain);
    expect(doc.encryption).toBeUndefined();
    expect((await doc.pages()).length).toBe(2);
    await doc.close();
  });

  it('protect encrypts, then signs', async () => {
    const out = join(r.dir, 'cli-protected.pdf');
    const res = await sealpostPdf(
      'protect',
      '--in',
      join(FIXTURES, 'objstm.pdf'),
      '--out',
      out,
      '--to',
      r.rsa.certPem,
      '--key',
      r.archive.p12,
      '--password',
      P12_PASSWORD,
    );
    expect(res).toMatchObject({ encryption: { keyBits: 256, recipients: 1 }, signature: { level: 'B-B' } });
    expect((await readFile(out)).includes('/Adobe.PubSec')).toBe(true);
  });

  it('says what is missing', async () => {
    await expect(
      sealpostPdf('encrypt', '--in', join(FIXTURES, 'classic.pdf'), '--out', join(r.dir, 'x.pdf')),
    ).rejects.toThrow(/at least one recipient certificate with --to/);
    await expect(
      sealpostPdf(
        'encrypt',
        '--in',
        join(FIXTURES, 'classic.pdf'),
        '--out',
        join(r.dir, 'x.pdf'),
        '--to',
        r.rsa.certPem,
        '--permissions',
        'fly',
      ),
    ).rejects.toThrow(/unknown permission fly/);
  });
});
