import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveOracle } from '../helpers/run.js';
import { validateTimestampToken } from '../../src/validation/index.js';
import { makeOpensslPki, opensslOracle, type OpensslPki } from './openssl-pki.js';

const hasOpenssl = haveOracle('openssl');
const DATA = Buffer.from('Statement for account 42, November 2026\n');

describe.skipIf(!hasOpenssl)('validateTimestampToken on tokens made by openssl ts -reply', () => {
  let pki: OpensslPki;
  let token: Buffer;

  beforeAll(async () => {
    pki = await makeOpensslPki();
    const f = pki.file;
    await writeFile(f('statement.txt'), DATA);
    await writeFile(f('tsaserial'), '01\n');
    await writeFile(
      f('tsa.cnf'),
      `[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\ndir = ${pki.dir}\nserial = $dir/tsaserial\nsigner_cert = $dir/tsa.pem\n` +
        `certs = $dir/int.pem\nsigner_key = $dir/tsa.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\n` +
        `digests = sha256, sha384\naccuracy = secs:1\ness_cert_id_alg = sha256\n`,
    );
    const steps = [
      ['ts', '-query', '-data', f('statement.txt'), '-sha256', '-cert', '-out', f('q.tsq')],
      ['ts', '-reply', '-config', f('tsa.cnf'), '-queryfile', f('q.tsq'), '-out', f('r.tsr')],
      [
        'ts',
        '-reply',
        '-config',
        f('tsa.cnf'),
        '-queryfile',
        f('q.tsq'),
        '-token_out',
        '-out',
        f('token.der'),
      ],
    ];
    for (const args of steps) {
      const r = await opensslOracle(args);
      if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.out}`);
    }
    token = await readFile(f('token.der'));
  });
  afterAll(async () => {
    await pki?.close();
  });

  it('a token over the data is valid, its TSA chain checked at genTime; openssl ts -verify agrees', async () => {
    const r = await validateTimestampToken(token, { data: DATA, trustAnchors: [pki.der('root')] });
    expect(r.verdict).toBe('valid');
    expect(r.genTime && Math.abs(r.genTime.getTime() - Date.now())).toBeLessThan(120_000);
    expect(r.path.map((c) => c.subjectString)).toEqual(['CN=tsa', 'CN=Test Issuing CA', 'CN=Test Root CA']);
    expect(r.checks[0]?.detail).toMatch(
      /token signed by the TSA at .* ±1000 ms, serial \d+; it covers the given data/,
    );
    const byDigest = await validateTimestampToken(token, {
      digest: createHash('sha256').update(DATA).digest(),
      trustAnchors: [pki.der('root')],
    });
    expect(byDigest.verdict).toBe('valid');
    const ossl = await opensslOracle([
      'ts',
      '-verify',
      '-data',
      pki.file('statement.txt'),
      '-in',
      pki.file('r.tsr'),
      '-CAfile',
      pki.file('root.pem'),
      '-untrusted',
      pki.file('int.pem'),
    ]);
    expect(ossl.out).toContain('Verification: OK');
  });

  it('other data is "tampered" (not ok), as openssl ts -verify fails too', async () => {
    const other = Buffer.from('Statement for account 43\n');
    const r = await validateTimestampToken(token, { data: other, trustAnchors: [pki.der('root')] });
    expect(r.ok).toBe(false);
    expect(r.verdict).toBe('tampered');
    expect(r.checks[0]?.detail).toContain('message imprint mismatch');
    await writeFile(pki.file('other.txt'), other);
    const ossl = await opensslOracle([
      'ts',
      '-verify',
      '-data',
      pki.file('other.txt'),
      '-in',
      pki.file('r.tsr'),
      '-CAfile',
      pki.file('root.pem'),
      '-untrusted',
      pki.file('int.pem'),
    ]);
    expect(ossl.out).toContain('Verification: FAILED');
  });

  it('an untrusted TSA, a flipped byte and garbage give untrusted / not ok / malformed', async () => {
    const untrusted = await validateTimestampToken(token, {
      data: DATA,
      trustAnchors: [pki.der('other-root')],
    });
    expect(untrusted.verdict).toBe('untrusted');
    const flipped = Buffer.from(token);
    flipped[flipped.length - 10] = (flipped[flipped.length - 10] as number) ^ 0x01;
    const bad = await validateTimestampToken(flipped, { data: DATA, trustAnchors: [pki.der('root')] });
    expect(bad.ok).toBe(false);
    const garbage = await validateTimestampToken(Buffer.from('not a token'), {
      trustAnchors: [pki.der('root')],
    });
    expect(garbage.verdict).toBe('malformed');
  });
});
