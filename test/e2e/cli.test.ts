import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, readFile, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { run, sealpost, haveOracle } from '../helpers/run.js';
import { opensslVerify, splitChain } from '../helpers/openssl.js';

const hasOpenssl = haveOracle('openssl');

describe('sealpost CLI on the embedded default (SQLite, software keys)', () => {
  let dir: string;
  let data: string;
  const pw = 'correct horse battery';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealpost-cli-'));
    data = join(dir, 'data');
    await writeFile(join(dir, 'pw.txt'), pw + '\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('init creates the CA, a sealed master key and an admin API key, and is idempotent', async () => {
    const first = await sealpost([
      'init',
      '--org',
      'Example Bank',
      '--country',
      'DE',
      '--data',
      data,
      '--json',
    ]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const out = JSON.parse(first.stdout);
    expect(out.created).toBe(true);
    expect(out.orgName).toBe('Example Bank');
    const keyFile = await stat(out.adminKeyFile);
    expect(keyFile.mode & 0o077).toBe(0);
    expect((await readFile(out.adminKeyFile, 'utf8')).trim()).toMatch(/^sp_[0-9a-f]{16}\./);
    expect((await stat(join(data, 'master.key'))).mode & 0o077).toBe(0);

    const again = await sealpost(['init', '--org', 'Other Name', '--data', data, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ created: false, orgName: 'Example Bank' });

    // No private key is stored in clear: every software key row holds only a sealed blob.
    const db = new Database(join(data, 'sealpost.db'), { readonly: true });
    const rows = db.prepare('select sealed from keys').all() as { sealed: Buffer }[];
    db.close();
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const r of rows) expect(r.sealed.includes(Buffer.from('BEGIN PRIVATE KEY'))).toBe(false);
  });

  it.skipIf(!hasOpenssl)(
    'issues signing and encryption certificates that OpenSSL verifies for S/MIME',
    async () => {
      const out = join(dir, 'alice');
      const r = await sealpost([
        'ca',
        'issue',
        '--email',
        'Alice@Bank.Example',
        '--name',
        'Alice Example',
        '--out',
        out,
        '--password-file',
        join(dir, 'pw.txt'),
        '--data',
        data,
        '--json',
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const result = JSON.parse(r.stdout);
      expect(result.certificates.map((c: { profile: string }) => c.profile).sort()).toEqual([
        'smime-encryption',
        'smime-signing',
      ]);

      const ca = await splitChain(join(out, 'chain.pem'), out);
      const signing = await opensslVerify({ purpose: 'smimesign', ...ca, cert: join(out, 'signing.pem') });
      expect(signing.stdout).toContain('OK');
      expect(signing.code).toBe(0);
      const enc = await opensslVerify({ purpose: 'smimeencrypt', ...ca, cert: join(out, 'encryption.pem') });
      expect(enc.code).toBe(0);

      const text = await run('openssl', ['x509', '-in', join(out, 'signing.pem'), '-noout', '-text']);
      expect(text.stdout).toContain('email:alice@bank.example');
      // Sponsor-validated (a name was given): the organisation comes from the issuing CA's subject.
      expect(text.stdout).toMatch(/Subject: .*O = Example Bank, CN = Alice Example/);
      expect(text.stdout).toContain('E-mail Protection');
      expect(text.stdout).toMatch(/Digital Signature, Non Repudiation/);
      const encText = await run('openssl', ['x509', '-in', join(out, 'encryption.pem'), '-noout', '-text']);
      expect(encText.stdout).toContain('Key Encipherment');
      expect(encText.stdout).not.toContain('Digital Signature');

      const p12 = await run('openssl', [
        'pkcs12',
        '-info',
        '-noout',
        '-in',
        join(out, 'signing.p12'),
        '-passin',
        `pass:${pw}`,
      ]);
      expect(p12.code).toBe(0);
      expect(p12.stderr).toMatch(/AES-256-CBC/);
      const wrong = await run('openssl', [
        'pkcs12',
        '-info',
        '-noout',
        '-in',
        join(out, 'signing.p12'),
        '-passin',
        'pass:wrong-password',
      ]);
      expect(wrong.code).not.toBe(0);
    },
  );

  it.skipIf(!hasOpenssl)('certifies the key of an OpenSSL CSR', async () => {
    const key = join(dir, 'bob.key');
    const csr = join(dir, 'bob.csr');
    const made = await run('openssl', [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      '/CN=bob@bank.example',
      '-addext',
      'subjectAltName=email:bob@bank.example',
    ]);
    expect(made.code).toBe(0);
    const out = join(dir, 'bob');
    const r = await sealpost([
      'ca',
      'issue',
      '--email',
      'bob@bank.example',
      '--csr',
      csr,
      '--usage',
      'signing',
      '--out',
      out,
      '--data',
      data,
      '--json',
    ]);
    expect(r.code).toBe(0);
    const pub1 = await run('openssl', ['x509', '-in', join(out, 'signing.pem'), '-noout', '-pubkey']);
    const pub2 = await run('openssl', ['pkey', '-in', key, '-pubout']);
    expect(pub1.stdout).toBe(pub2.stdout);

    const mismatch = await sealpost([
      'ca',
      'issue',
      '--email',
      'mallory@bank.example',
      '--csr',
      csr,
      '--usage',
      'signing',
      '--out',
      join(dir, 'm'),
      '--data',
      data,
    ]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr.trim().split('\n')).toHaveLength(1);
    expect(mismatch.stderr).toContain('bob@bank.example');
  });

  it.skipIf(!hasOpenssl)('revocation lands in the CRL and OpenSSL then rejects the certificate', async () => {
    const out = join(dir, 'carol');
    const issued = await sealpost([
      'ca',
      'issue',
      '--email',
      'carol@bank.example',
      '--usage',
      'signing',
      '--out',
      out,
      '--password',
      pw,
      '--data',
      data,
      '--json',
    ]);
    expect(issued.code).toBe(0);
    const serial: string = JSON.parse(issued.stdout).certificates[0].serial;
    const revoke = await sealpost([
      'ca',
      'revoke',
      '--serial',
      serial,
      '--reason',
      'keyCompromise',
      '--data',
      data,
      '--json',
    ]);
    expect(revoke.code).toBe(0);
    expect(JSON.parse(revoke.stdout)).toMatchObject({ status: 'revoked', revocationReason: 'keyCompromise' });
    const twice = await sealpost(['ca', 'revoke', '--serial', serial, '--data', data]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/already revoked/);

    const crlFile = join(dir, 'ca.crl');
    const crl = await sealpost(['ca', 'crl', '--out', crlFile, '--data', data, '--json']);
    expect(crl.code).toBe(0);
    const chain = join(dir, 'chain.pem');
    expect((await sealpost(['ca', 'export', '--out', chain, '--data', data])).code).toBe(0);
    const parsed = await run('openssl', ['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text']);
    expect(parsed.code).toBe(0);
    expect(parsed.stdout.toUpperCase()).toContain(serial.toUpperCase());
    expect(parsed.stdout).toContain('Key Compromise');
    const pemCrl = join(dir, 'ca.crl.pem');
    await run('openssl', ['crl', '-inform', 'DER', '-in', crlFile, '-out', pemCrl]);
    const verdict = await run('openssl', [
      'verify',
      '-crl_check',
      '-CAfile',
      chain,
      '-CRLfile',
      pemCrl,
      join(out, 'signing.pem'),
    ]);
    expect(verdict.code).not.toBe(0);
    expect(verdict.stdout + verdict.stderr).toContain('certificate revoked');
    // A certificate that was not revoked still passes the same check.
    const good = await run('openssl', [
      'verify',
      '-crl_check',
      '-CAfile',
      chain,
      '-CRLfile',
      pemCrl,
      join(dir, 'alice', 'signing.pem'),
    ]);
    expect(good.code).toBe(0);
  });

  it('audit verify passes on the real log and fails, with one line, after tampering', async () => {
    const ok = await sealpost(['audit', 'verify', '--data', data, '--json']);
    expect(ok.code).toBe(0);
    const report = JSON.parse(ok.stdout);
    expect(report.ok).toBe(true);
    expect(report.count).toBeGreaterThan(10);

    const listed = await sealpost([
      'audit',
      'list',
      '--action',
      'certificate.revoke',
      '--data',
      data,
      '--json',
    ]);
    expect(JSON.parse(listed.stdout).records).toHaveLength(1);

    const db = new Database(join(data, 'sealpost.db'));
    db.prepare(
      "update audit_log set details = replace(details, 'keyCompromise', 'superseded') where action = 'certificate.revoke'",
    ).run();
    db.close();
    const bad = await sealpost(['audit', 'verify', '--data', data]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/TAMPERED/);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('every command has --help, and usage errors exit non-zero with a one-line reason', async () => {
    for (const args of [
      ['--help'],
      ['init', '--help'],
      ['serve', '--help'],
      ['ca', 'issue', '--help'],
      ['ca', 'revoke', '--help'],
      ['ca', 'crl', '--help'],
      ['ca', 'export', '--help'],
      ['ca', 'list', '--help'],
      ['audit', 'verify', '--help'],
      ['apikey', 'create', '--help'],
    ]) {
      const r = await sealpost(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toContain('Usage:');
    }
    const missing = await sealpost(['ca', 'revoke', '--data', data]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/--serial/);
    const badReason = await sealpost([
      'ca',
      'revoke',
      '--serial',
      '01',
      '--reason',
      'boredom',
      '--data',
      data,
    ]);
    expect(badReason.code).toBe(1);
    expect(badReason.stderr.trim().split('\n')).toHaveLength(1);
    const unknown = await sealpost(['ca', 'show', '--serial', 'abcdef', '--data', data]);
    expect(unknown.code).toBe(1);
  });
});
