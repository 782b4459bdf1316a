/**
 * Interop: a root → issuing → S/MIME hierarchy and CRL made only by Sealpost, checked by the OpenSSL CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIssuedBy, parseCertificate } from '../../src/pkix/certificate.js';
import { parseCrl, signCrl } from '../../src/pkix/crl.js';
import { verifySignature } from '../../src/pkix/algorithms.js';
import { OID_KP, OID_POLICY } from '../../src/pkix/oids.js';
import { toPem } from '../../src/pkix/pem.js';
import { haveOracle, run } from '../helpers/run.js';
import { hierarchy, issue, tempDir, URLS, type Hierarchy, type Issued } from './fixtures.js';

const hasOpenssl = haveOracle('openssl');

describe.each(['rsa-2048', 'ec-p256'] as const)('chain with %s keys', (alg) => {
  let h: Hierarchy;
  let signing: Issued;
  let encryption: Issued;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    h = await hierarchy(alg);
    const subject = { commonName: 'Alice Example', organization: 'Example Bank AG', country: 'DE' };
    const emails = ['alice@bank.example'];
    signing = await issue(subject, { profile: 'smime-signing', emails, ...URLS }, alg, h.issuing);
    encryption = await issue(subject, { profile: 'smime-encryption', emails, ...URLS }, alg, h.issuing);
    tmp = await tempDir('chain');
    files.root = await tmp.write('root.pem', toPem(h.root.cert.der, 'CERTIFICATE'));
    files.issuing = await tmp.write('issuing.pem', toPem(h.issuing.cert.der, 'CERTIFICATE'));
    files.user = await tmp.write('user.pem', toPem(signing.cert.der, 'CERTIFICATE'));
    files.enc = await tmp.write('enc.pem', toPem(encryption.cert.der, 'CERTIFICATE'));
    files.both = await tmp.write(
      'cas.pem',
      toPem(h.issuing.cert.der, 'CERTIFICATE') + toPem(h.root.cert.der, 'CERTIFICATE'),
    );
  });
  afterAll(() => tmp?.cleanup());

  it('parses what it signed and links each certificate to its issuer', () => {
    expect(isIssuedBy(h.root.cert, h.root.cert)).toBe(true);
    expect(isIssuedBy(h.issuing.cert, h.root.cert)).toBe(true);
    expect(isIssuedBy(signing.cert, h.issuing.cert)).toBe(true);
    expect(isIssuedBy(signing.cert, h.root.cert)).toBe(false);
    expect(h.root.cert.isCa).toBe(true);
    expect(h.root.cert.pathLen).toBeUndefined();
    expect(h.issuing.cert.pathLen).toBe(0);
    expect(h.issuing.cert.authorityKeyId).toEqual(h.root.cert.subjectKeyId);
    expect(signing.cert).toMatchObject({
      isCa: false,
      keyAlgorithm: alg,
      keyUsage: ['digitalSignature', 'nonRepudiation'],
      extKeyUsage: [OID_KP.emailProtection],
      emails: ['alice@bank.example'],
      ocspUrls: [URLS.ocspUrl],
      caIssuersUrls: [URLS.caIssuersUrl],
      crlUrls: [URLS.crlUrl],
      policies: [OID_POLICY.smimeMailboxStrict],
      subjectString: 'CN=Alice Example,O=Example Bank AG,C=DE',
      issuerString: `CN=Bank Issuing ${alg},O=Example Bank AG,C=DE`,
    });
    expect(encryption.cert.keyUsage).toEqual([alg === 'rsa-2048' ? 'keyEncipherment' : 'keyAgreement']);
  });

  it('shares one parsed view per certificate, whose lists no caller can change', () => {
    const again = parseCertificate(Buffer.from(signing.cert.der));
    expect(again).toBe(parseCertificate(signing.cert.der));
    expect(() => (again.emails as string[]).push('mallory@evil.example')).toThrow(TypeError);
    expect(parseCertificate(signing.cert.der).emails).toEqual(['alice@bank.example']);
  });

  it('openssl verify -purpose smimesign accepts the signing certificate', async (ctx) => {
    if (!hasOpenssl) return ctx.skip();
    const r = await run('openssl', [
      'verify',
      '-purpose',
      'smimesign',
      '-CAfile',
      files.root!,
      '-untrusted',
      files.issuing!,
      files.user!,
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`${files.user}: OK`);
  });

  // INTEROP.md: OpenSSL wrongly rejects EC certificates with keyAgreement only for smimeencrypt.
  it.runIf(alg === 'rsa-2048')(
    'openssl verify -purpose smimeencrypt accepts the RSA encryption certificate',
    async (ctx) => {
      if (!hasOpenssl) return ctx.skip();
      const r = await run('openssl', [
        'verify',
        '-purpose',
        'smimeencrypt',
        '-CAfile',
        files.root!,
        '-untrusted',
        files.issuing!,
        files.enc!,
      ]);
      expect(r.stdout.trim()).toBe(`${files.enc}: OK`);
    },
  );

  it('openssl x509 -text shows the profile extensions', async (ctx) => {
    if (!hasOpenssl) return ctx.skip();
    const r = await run('openssl', ['x509', '-in', files.user!, '-noout', '-text']);
    expect(r.code).toBe(0);
    const text = r.stdout;
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Non Repudiation/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s+E-mail Protection\n/);
    expect(text).toMatch(/X509v3 Subject Alternative Name:\s+email:alice@bank.example/);
    expect(text).toMatch(/X509v3 Certificate Policies:\s+Policy: 2\.23\.140\.1\.5\.1\.3/);
    expect(text).toContain(`OCSP - URI:${URLS.ocspUrl}`);
    expect(text).toContain(`CA Issuers - URI:${URLS.caIssuersUrl}`);
    expect(text).toContain(`URI:${URLS.crlUrl}`);
    expect(text).toContain('X509v3 Authority Key Identifier');
    expect(text).toContain('X509v3 Subject Key Identifier');
    const ca = await run('openssl', ['x509', '-in', files.issuing!, '-noout', '-text']);
    expect(ca.stdout).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(ca.stdout).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
  });

  it('signs a CRL that openssl verifies and that revokes the certificate', async (ctx) => {
    const thisUpdate = new Date(Date.now() - 60_000 + 123); // milliseconds must be dropped
    const crl = await signCrl({
      issuer: h.issuing.cert,
      issuerKey: h.issuing.key,
      hash: 'sha256',
      crlNumber: 2n ** 70n + 5n,
      thisUpdate,
      nextUpdate: new Date(thisUpdate.getTime() + 7 * 86_400_000),
      revoked: [
        {
          serialHex: signing.cert.serialHex,
          revokedAt: new Date(thisUpdate.getTime() - 1000),
          reason: 'keyCompromise',
        },
        { serialHex: '80ff', revokedAt: thisUpdate, reason: 'unspecified' },
      ],
    });
    const parsed = parseCrl(crl);
    expect(parsed.crlNumber).toBe(2n ** 70n + 5n);
    expect(parsed.thisUpdate.getTime()).toBe(Math.floor(thisUpdate.getTime() / 1000) * 1000);
    expect(parsed.revoked).toEqual([
      {
        serialHex: signing.cert.serialHex,
        revokedAt: new Date(Math.floor(thisUpdate.getTime() / 1000) * 1000 - 1000),
        reason: 'keyCompromise',
      },
      { serialHex: '80ff', revokedAt: new Date(Math.floor(thisUpdate.getTime() / 1000) * 1000) },
    ]);
    expect(parsed.authorityKeyId).toEqual(h.issuing.cert.subjectKeyId);
    expect(
      verifySignature(h.issuing.cert.spki, parsed.signatureAlgorithm, parsed.tbs, parsed.signature),
    ).toBe(true);

    if (!hasOpenssl) return ctx.skip();
    const crlPath = await tmp.write('issuing.crl', toPem(crl, 'X509 CRL'));
    const check = await run('openssl', ['crl', '-in', crlPath, '-CAfile', files.both!, '-noout']);
    expect(check.code).toBe(0);
    expect(check.stderr.trim()).toBe('verify OK');
    const text = await run('openssl', ['crl', '-in', crlPath, '-noout', '-text']);
    expect(text.stdout).toContain('X509v3 CRL Number');
    expect(text.stdout).toContain('Key Compromise');
    expect(text.stdout).not.toMatch(/Unspecified/);
    const revoked = await run('openssl', [
      'verify',
      '-crl_check',
      '-CRLfile',
      crlPath,
      '-CAfile',
      files.root!,
      '-untrusted',
      files.issuing!,
      files.user!,
    ]);
    expect(revoked.code).not.toBe(0);
    expect(revoked.stdout + revoked.stderr).toContain('certificate revoked');
    const good = await run('openssl', [
      'verify',
      '-crl_check',
      '-CRLfile',
      crlPath,
      '-CAfile',
      files.root!,
      '-untrusted',
      files.issuing!,
      files.enc!,
    ]);
    expect(good.stdout.trim()).toBe(`${files.enc}: OK`);
  });
});

describe('certificates made by OpenSSL', () => {
  it('parses an OpenSSL self-signed certificate with the same fields openssl prints', async (ctx) => {
    if (!hasOpenssl) return ctx.skip();
    const tmp = await tempDir('ossl-cert');
    try {
      const r = await run('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-384',
        '-nodes',
        '-keyout',
        tmp.path('k.pem'),
        '-subj',
        '/C=DE/O=Other Bank/CN=Other Root',
        '-days',
        '30',
        '-out',
        tmp.path('c.der'),
        '-outform',
        'DER',
        '-addext',
        'subjectAltName=email:Bob@Other.Example',
      ]);
      expect(r.code).toBe(0);
      const { readFile } = await import('node:fs/promises');
      const cert = parseCertificate(await readFile(tmp.path('c.der')));
      expect(cert.subjectString).toBe('CN=Other Root,O=Other Bank,C=DE');
      expect(cert.keyAlgorithm).toBe('ec-p384');
      expect(cert.isCa).toBe(true);
      expect(cert.emails).toEqual(['bob@other.example']);
      expect(isIssuedBy(cert, cert)).toBe(true);
      const serial = await run('openssl', [
        'x509',
        '-in',
        tmp.path('c.der'),
        '-inform',
        'DER',
        '-noout',
        '-serial',
      ]);
      expect(serial.stdout.trim().toLowerCase()).toBe(`serial=${cert.serialHex}`);
    } finally {
      await tmp.cleanup();
    }
  });
});
