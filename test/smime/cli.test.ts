/** `sealpost smime …` end to end: files in, files out, exit status 0 only on success (verify: only when valid). */
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { haveOracle, sealpost } from '../helpers/run.js';
import { P12_PASSWORD, exec, sampleMessage, startPki, type SmimePki } from './fixtures.js';

describe('sealpost smime CLI', () => {
  let pki: SmimePki;
  beforeAll(async () => {
    pki = await startPki();
    await writeFile(pki.path('pw'), `${P12_PASSWORD}\n`);
    await writeFile(pki.path('msg.eml'), sampleMessage());
    await writeFile(pki.path('forged.eml'), sampleMessage('Boss <ceo@bank.example>'));
  }, 60_000);
  afterAll(async () => pki?.close());

  const p = (name: string) => pki.path(name);

  /** The CLI in process (one spawn below proves the real binary): exit status and what it printed. */
  async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    try {
      const code = await main(args);
      return { code, stdout: out.join(''), stderr: err.join('') };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  }

  it('sign → verify (valid, exit 0, --json); forged From → address-mismatch, exit 1; garbage → one-line error', async () => {
    const { alice } = pki.users;
    const sign = await cli([
      'smime',
      'sign',
      '--in',
      p('msg.eml'),
      '--signer',
      alice.signing.p12Path,
      '--password-file',
      p('pw'),
      '--tsa',
      pki.tsaUrl,
      '--encryption-cert',
      alice.encryption.certPath,
      '--out',
      p('signed.eml'),
    ]);
    expect(sign.code, sign.stderr).toBe(0);
    expect(sign.stdout).toContain('signed (multipart-signed, timestamped)');
    const verify = await sealpost([
      'smime',
      'verify',
      '--in',
      p('signed.eml'),
      '--trust',
      pki.rootPath,
      '--json',
    ]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const result = JSON.parse(verify.stdout) as { verdict: string; checks: { name: string; ok: boolean }[] };
    expect(result.verdict).toBe('valid');
    expect(result.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['signature', 'chain', 'address', 'timestamp token']),
    );
    if (haveOracle('openssl')) {
      const r = await exec(
        'openssl',
        ['smime', '-verify', '-in', 'signed.eml', '-CAfile', 'root.pem'],
        pki.dir,
      );
      expect(r.code, r.stderr).toBe(0);
    }

    await cli([
      'smime',
      'sign',
      '--in',
      p('forged.eml'),
      '--signer',
      alice.signing.p12Path,
      '--password',
      P12_PASSWORD,
      '--out',
      p('forged-signed.eml'),
    ]);
    const mismatch = await cli(['smime', 'verify', '--in', p('forged-signed.eml'), '--trust', pki.rootPath]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stdout).toMatch(/^ADDRESS-MISMATCH: /);
    expect(mismatch.stdout).toContain('✗ address: the message is from ceo@bank.example');

    await writeFile(
      p('garbage.eml'),
      'Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n\r\nAAAA\r\n',
    );
    const garbled = await cli(['smime', 'verify', '--in', p('garbage.eml'), '--trust', pki.rootPath]);
    expect(garbled.code).toBe(1);
    expect(garbled.stdout).toMatch(/^MALFORMED: /);
    const wrongPassword = await cli([
      'smime',
      'sign',
      '--in',
      p('msg.eml'),
      '--signer',
      alice.signing.p12Path,
      '--password',
      'nope',
      '--out',
      p('x.eml'),
    ]);
    expect(wrongPassword.code).toBe(1);
    expect(wrongPassword.stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);

  it('encrypt → decrypt with historical keys; send-ready → verify --key decrypts then verifies', async () => {
    const { alice, bob, carol } = pki.users;
    const enc = await cli([
      'smime',
      'encrypt',
      '--in',
      p('msg.eml'),
      '--to',
      bob.encryption.certPath,
      '--from-cert',
      alice.encryption.certPath,
      '--protect-headers',
      '--out',
      p('enc.eml'),
    ]);
    expect(enc.code, enc.stderr).toBe(0);
    expect(enc.stdout).toContain('encrypted (aes-256-cbc)');
    const noSelf = await cli([
      'smime',
      'encrypt',
      '--in',
      p('msg.eml'),
      '--to',
      bob.encryption.certPath,
      '--out',
      p('enc2.eml'),
    ]);
    expect(noSelf.code).toBe(1);
    expect(noSelf.stderr).toContain('--from-cert');
    // Carol's key first (not a recipient), then Bob's: keys are tried by recipient identifier.
    const dec = await cli([
      'smime',
      'decrypt',
      '--in',
      p('enc.eml'),
      '--key',
      carol.encryption.p12Path,
      '--key',
      bob.encryption.p12Path,
      '--password-file',
      p('pw'),
      '--out',
      p('plain.eml'),
    ]);
    expect(dec.code, dec.stderr).toBe(0);
    const plain = await readFile(p('plain.eml'), 'utf8');
    expect(plain).toContain('Grüße aus der Bank');
    expect(plain).not.toContain('[...]');
    const wrong = await cli([
      'smime',
      'decrypt',
      '--in',
      p('enc.eml'),
      '--key',
      carol.encryption.p12Path,
      '--password-file',
      p('pw'),
      '--out',
      p('x.eml'),
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('no recipient matches');

    const ready = await cli([
      'smime',
      'send-ready',
      '--in',
      p('msg.eml'),
      '--signer',
      alice.signing.p12Path,
      '--password-file',
      p('pw'),
      '--to',
      bob.encryption.certPath,
      '--encryption-cert',
      alice.encryption.certPath,
      '--tsa',
      pki.tsaUrl,
      '--out',
      p('ready.eml'),
    ]);
    expect(ready.code, ready.stderr).toBe(0);
    const verify = await cli([
      'smime',
      'verify',
      '--in',
      p('ready.eml'),
      '--trust',
      pki.rootPath,
      '--key',
      bob.encryption.p12Path,
      '--password-file',
      p('pw'),
      '--out',
      p('ready-plain.eml'),
    ]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^VALID: /);
    expect(verify.stdout).toContain('layers: encrypted (aes-256-cbc) → signed (valid)');
    expect(await readFile(p('ready-plain.eml'), 'utf8')).toContain('Zweite Zeile');
    const noKey = await cli(['smime', 'verify', '--in', p('ready.eml'), '--trust', pki.rootPath]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('pass the recipient key (--key)');
  }, 60_000);
});
