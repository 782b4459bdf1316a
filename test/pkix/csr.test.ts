/** CSRs: ours are accepted by `openssl req -verify`; `openssl req -new` output is parsed; forgeries are rejected. */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SoftwareKey } from '../../src/crypto/software-key.js';
import { buildCsr, parseCsr } from '../../src/pkix/csr.js';
import { CsrError } from '../../src/pkix/errors.js';
import { toPem } from '../../src/pkix/pem.js';
import { haveOracle, run } from '../helpers/run.js';
import { tempDir } from './fixtures.js';

const hasOpenssl = haveOracle('openssl');
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir('csr');
});
afterAll(() => tmp?.cleanup());

describe.each(['rsa-2048', 'ec-p256', 'ed25519'] as const)('buildCsr with %s', (alg) => {
  it('round-trips and openssl req -verify accepts it', async (ctx) => {
    const key = await SoftwareKey.generate(alg);
    const der = await buildCsr(key, { commonName: 'Alice Example', organization: 'Bank', country: 'DE' }, [
      'Alice@Bank.Example',
    ]);
    const csr = parseCsr(toPem(der, 'CERTIFICATE REQUEST'));
    expect(csr).toMatchObject({
      subjectString: 'CN=Alice Example,O=Bank,C=DE',
      keyAlgorithm: alg,
      emails: ['alice@bank.example'],
    });
    expect(csr.spki).toEqual(key.spki);
    if (!hasOpenssl) return ctx.skip();
    const path = await tmp.write(`ours-${alg}.csr`, toPem(der, 'CERTIFICATE REQUEST'));
    const r = await run('openssl', ['req', '-in', path, '-verify', '-noout', '-text']);
    expect(r.stderr).toMatch(/verify OK|Certificate request self-signature verify OK/);
    expect(r.stdout).toContain('email:Alice@Bank.Example');
  });
});

describe('CSRs written by openssl req -new', () => {
  const requests: [string, string[], string][] = [
    ['rsa', ['-newkey', 'rsa:2048'], 'rsa-2048'],
    ['ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], 'ec-p384'],
    ['ed25519', ['-newkey', 'ed25519'], 'ed25519'],
  ];
  it.for(requests)('parses a %s request with an email SAN', async ([name, args, alg], ctx) => {
    if (!hasOpenssl) return ctx.skip();
    const out = tmp.path(`ossl-${name}.csr`);
    const r = await run('openssl', [
      'req',
      '-new',
      ...args,
      '-nodes',
      '-keyout',
      tmp.path(`ossl-${name}.key`),
      '-out',
      out,
      '-subj',
      '/C=DE/O=Example Bank AG/CN=Bob Example',
      '-addext',
      'subjectAltName=email:bob@bank.example',
    ]);
    expect(r.code).toBe(0);
    const pem = await readFile(out, 'utf8');
    const csr = parseCsr(pem);
    expect(csr).toMatchObject({
      subjectString: 'CN=Bob Example,O=Example Bank AG,C=DE',
      keyAlgorithm: alg,
      emails: ['bob@bank.example'],
    });
    // Also as DER bytes.
    expect(parseCsr(csr.der).spki).toEqual(csr.spki);
  });
});

describe('rejections', () => {
  it('rejects a CSR whose signature does not verify (no proof of possession)', async () => {
    const key = await SoftwareKey.generate('ec-p256');
    const der = await buildCsr(key, { commonName: 'Mallory' });
    const tampered = Buffer.from(der);
    // Flip a byte inside the subject name: the structure stays valid, the signature no longer matches.
    const at = tampered.indexOf(Buffer.from('Mallory'));
    tampered[at] = 'N'.charCodeAt(0);
    expect(() => parseCsr(tampered)).toThrow(CsrError);
    expect(() => parseCsr(tampered)).toThrow(/proof of possession/);
  });

  it('rejects a CSR signed by a different key than the one it contains', async () => {
    const key = await SoftwareKey.generate('rsa-2048');
    const other = await SoftwareKey.generate('rsa-2048');
    const impostor = { ...other, algorithm: other.algorithm, spki: key.spki, sign: other.sign.bind(other) };
    const der = await buildCsr(impostor as unknown as SoftwareKey, { commonName: 'Impostor' });
    expect(() => parseCsr(der)).toThrow(/proof of possession/);
  });

  it('rejects an unsupported key type with a CsrError', async (ctx) => {
    if (!hasOpenssl) return ctx.skip();
    const out = tmp.path('rsa1024.csr');
    await run('openssl', [
      'req',
      '-new',
      '-newkey',
      'rsa:1024',
      '-nodes',
      '-keyout',
      tmp.path('rsa1024.key'),
      '-out',
      out,
      '-subj',
      '/CN=weak',
    ]);
    expect(() => parseCsr(readFileSync(out, 'utf8'))).toThrow(CsrError);
    expect(() => parseCsr(readFileSync(out, 'utf8'))).toThrow(/unsupported RSA key size 1024/);
  });

  it('rejects garbage, oversize input and PEM without a request', () => {
    expect(() => parseCsr(Buffer.from([0x30, 0x03, 0x02, 0x01]))).toThrow(CsrError);
    expect(() => parseCsr(Buffer.alloc(70_000, 0x30))).toThrow(CsrError);
    expect(() => parseCsr('-----BEGIN NOTHING-----\n-----END NOTHING-----\n')).toThrow(CsrError);
  });
});
