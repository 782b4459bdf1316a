import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveOracle } from '../helpers/run.js';
import { RevocationCache, validateCertificate, type ValidationOptions } from '../../src/validation/index.js';
import { makeOpensslPki, opensslOracle, type OpensslPki } from './openssl-pki.js';

const hasOpenssl = haveOracle('openssl');

describe.skipIf(!hasOpenssl)(
  'validateCertificate against an OpenSSL-made PKI, cross-checked with openssl verify',
  () => {
    let pki: OpensslPki;
    let base: Omit<ValidationOptions, 'purpose'>;

    beforeAll(async () => {
      pki = await makeOpensslPki();
      await pki.startOcspResponder();
      base = {
        trustAnchors: [pki.der('root')],
        intermediates: [pki.der('int')],
        revocation: { mode: 'if-available', onUnreachable: 'soft-fail', fetch: false },
      };
    });
    afterAll(async () => {
      await pki?.close();
    });

    const opensslVerify = async (leaf: string, extra: string[] = []) => {
      return opensslOracle(['verify', '-CAfile', pki.file('root.pem'), ...extra, pki.file(`${leaf}.pem`)]);
    };
    const detail = (r: { checks: { name: string; detail: string }[] }, name: string) =>
      r.checks
        .filter((c) => c.name === name)
        .map((c) => c.detail)
        .join(' | ');

    it('a good S/MIME chain is valid, and openssl verify says OK', async () => {
      const r = await validateCertificate(pki.der('alice'), {
        ...base,
        purpose: 'smime-signing',
        email: 'Alice@BANK.example',
      });
      expect(r.verdict).toBe('valid');
      expect(r.ok).toBe(true);
      expect(r.path.map((c) => c.subjectString)).toEqual([
        'CN=alice',
        'CN=Test Issuing CA',
        'CN=Test Root CA',
      ]);
      expect(detail(r, 'chain')).toBe('CN=alice → CN=Test Issuing CA → CN=Test Root CA (trusted)');
      expect(r.validationData.certificates).toHaveLength(3);
      const ossl = await opensslVerify('alice', ['-untrusted', pki.file('int.pem'), '-purpose', 'smimesign']);
      expect(ossl.out).toContain(': OK');
    });

    it('an expired leaf is "expired" with its end date, as openssl says "certificate has expired"', async () => {
      const r = await validateCertificate(pki.der('carol'), { ...base, purpose: 'smime-signing' });
      expect(r.verdict).toBe('expired');
      expect(detail(r, 'validity')).toMatch(
        /signer's certificate \(CN=carol\) expired on 2021-01-01 00:00:00 UTC/,
      );
      const ossl = await opensslVerify('carol', ['-untrusted', pki.file('int.pem')]);
      expect(ossl.out).toContain('certificate has expired');
      // Inside the leaf's validity period (e.g. a timestamp's genTime), the CAs made today were not yet valid.
      const past = await validateCertificate(pki.der('carol'), {
        ...base,
        purpose: 'smime-signing',
        at: new Date('2020-06-01T00:00:00Z'),
      });
      expect(past.verdict).toBe('not-yet-valid');
      expect(detail(past, 'validity')).toMatch(
        /^the CA certificate CN=Test Issuing CA is valid only from 20\d\d-/,
      );
      expect(detail(past, 'validity')).not.toContain('CN=carol');
      const early = await validateCertificate(pki.der('carol'), {
        ...base,
        purpose: 'smime-signing',
        at: new Date('2019-06-01T00:00:00Z'),
      });
      expect(early.verdict).toBe('not-yet-valid');
    });

    it('a missing intermediate is "untrusted", as openssl says "unable to get local issuer certificate"', async () => {
      const r = await validateCertificate(pki.der('alice'), {
        trustAnchors: [pki.der('root')],
        purpose: 'smime-signing',
      });
      expect(r.verdict).toBe('untrusted');
      expect(detail(r, 'chain')).toMatch(
        /chain ends at CN=alice, whose issuer CN=Test Issuing CA is neither among the supplied intermediates nor one of the 1 configured trust anchor/,
      );
      const ossl = await opensslVerify('alice');
      expect(ossl.out).toContain('unable to get local issuer certificate');
    });

    it('with fetchIssuers, the missing intermediate is fetched from the AIA caIssuers URL', async () => {
      const r = await validateCertificate(pki.der('alice'), {
        trustAnchors: [pki.der('root')],
        purpose: 'smime-signing',
        fetchIssuers: true,
        revocation: { mode: 'off', onUnreachable: 'fail' },
      });
      expect(r.verdict).toBe('valid');
      expect(r.validationData.certificates.some((c) => c.equals(pki.der('int')))).toBe(true);
    });

    it('a chain to another root is "untrusted" and names the root it ended at', async () => {
      const r = await validateCertificate(pki.der('alice'), {
        ...base,
        trustAnchors: [pki.der('other-root')],
        intermediates: [pki.der('int'), pki.der('root')],
        purpose: 'smime-signing',
      });
      expect(r.verdict).toBe('untrusted');
      expect(detail(r, 'chain')).toMatch(
        /chain ends at CN=Test Root CA, a self-signed certificate which is not one of the 1 configured trust anchor/,
      );
    });

    it('a wrong EKU is "wrong-usage", as openssl -purpose smimesign rejects it', async () => {
      const r = await validateCertificate(pki.der('web'), { ...base, purpose: 'smime-signing' });
      expect(r.verdict).toBe('wrong-usage');
      expect(detail(r, 'usage')).toMatch(/not for signing e-mail: its extended key usage is serverAuth/);
      const ossl = await opensslVerify('web', ['-untrusted', pki.file('int.pem'), '-purpose', 'smimesign']);
      expect(ossl.out).toContain('unsuitable certificate purpose');
    });

    it('usage per purpose: TSA, document signing, OCSP signing, encryption', async () => {
      const verdict = async (leaf: Parameters<OpensslPki['der']>[0], purpose: ValidationOptions['purpose']) =>
        (await validateCertificate(pki.der(leaf), { ...base, purpose })).verdict;
      expect(await verdict('tsa', 'timestamping')).toBe('valid');
      expect(await verdict('tsa', 'smime-signing')).toBe('wrong-usage');
      expect(await verdict('alice', 'timestamping')).toBe('wrong-usage');
      expect(await verdict('doc', 'document-signing')).toBe('valid');
      expect(await verdict('doc', 'smime-signing')).toBe('wrong-usage');
      expect(await verdict('responder', 'ocsp-signing')).toBe('valid');
      expect(await verdict('eve', 'smime-encryption')).toBe('valid');
      expect(await verdict('alice', 'smime-encryption')).toBe('wrong-usage');
      expect(await verdict('web', 'any')).toBe('valid');
      const ossl = await opensslVerify('tsa', [
        '-untrusted',
        pki.file('int.pem'),
        '-purpose',
        'timestampsign',
      ]);
      expect(ossl.out).toContain(': OK');
    });

    it('the e-mail address must match a SAN (RFC 8550 §3), domain case-insensitively', async () => {
      const ok = await validateCertificate(pki.der('eve'), {
        ...base,
        purpose: 'smime-encryption',
        email: 'eve@bank.EXAMPLE',
      });
      expect(ok.verdict).toBe('valid');
      const r = await validateCertificate(pki.der('alice'), {
        ...base,
        purpose: 'smime-signing',
        email: 'mallory@bank.example',
      });
      expect(r.verdict).toBe('address-mismatch');
      expect(detail(r, 'address')).toBe(
        'the message is from mallory@bank.example, but the certificate is for alice@bank.example',
      );
    });

    it('an unknown critical extension makes the certificate "malformed", as openssl rejects it', async () => {
      const r = await validateCertificate(pki.der('crit'), { ...base, purpose: 'smime-signing' });
      expect(r.verdict).toBe('malformed');
      expect(detail(r, 'critical-extensions')).toContain('1.3.6.1.4.1.55555.9');
      const ossl = await opensslVerify('crit', ['-untrusted', pki.file('int.pem')]);
      expect(ossl.out).toContain('unhandled critical extension');
    });

    /** Issue with `openssl x509 -req` from the fixture's CSRs and extension sections. */
    const sign = async (out: string, csr: string, ca: string, section: string, caKey = ca) => {
      const f = pki.file;
      const r = await opensslOracle([
        'x509',
        '-req',
        '-in',
        f(`${csr}.csr`),
        '-CA',
        f(`${ca}.pem`),
        '-CAkey',
        f(`${caKey}.key`),
        '-set_serial',
        String(Math.floor(Math.random() * 1e9)),
        '-days',
        '30',
        '-sha256',
        '-extfile',
        f('openssl.cnf'),
        '-extensions',
        section,
        '-out',
        f(`${out}.pem`),
      ]);
      if (r.code !== 0) throw new Error(r.out);
      const { fromPem } = await import('../../src/pkix/pem.js');
      return fromPem(await readFile(f(`${out}.pem`), 'latin1'))[0]?.der as Buffer;
    };

    it('a non-CA issuer and a pathLenConstraint violation are refused, as openssl verify refuses them', async () => {
      const mallory = await sign('mallory', 'carol', 'alice', 'web');
      const r = await validateCertificate(mallory, {
        ...base,
        intermediates: [pki.der('alice'), pki.der('int')],
        purpose: 'any',
      });
      expect(r.verdict).toBe('untrusted');
      expect(detail(r, 'ca-constraints')).toContain(
        'CN=alice issued CN=carol but is not a CA certificate (basicConstraints cA is not set)',
      );
      expect(detail(r, 'ca-constraints')).toContain(
        'CN=alice may not issue certificates: its key usage lacks keyCertSign',
      );
      const ossl = await opensslVerify('mallory', [
        '-untrusted',
        pki.file('int.pem'),
        '-untrusted',
        pki.file('alice.pem'),
      ]);
      expect(ossl.out).toMatch(/invalid CA certificate|invalid non-CA certificate/);

      const sub = await sign('sub', 'web', 'int', 'v3_int');
      const below = await sign('below', 'doc', 'sub', 'web', 'web'); // sub was made from web's key
      const p = await validateCertificate(below, {
        ...base,
        intermediates: [sub, pki.der('int')],
        purpose: 'any',
      });
      expect(p.verdict).toBe('untrusted');
      expect(detail(p, 'ca-constraints')).toContain(
        'CN=Test Issuing CA allows at most 0 intermediate CA(s) below it',
      );
      await writeFile(
        pki.file('chain.pem'),
        (await readFile(pki.file('sub.pem'), 'latin1')) + (await readFile(pki.file('int.pem'), 'latin1')),
      );
      const pathLen = await opensslVerify('below', ['-untrusted', pki.file('chain.pem')]);
      expect(pathLen.out).toContain('path length constraint exceeded');
    });

    it('cross-certificates: several candidate issuers are tried, the one reaching a trust anchor wins', async () => {
      const cross = await sign('int-cross', 'int', 'other-root', 'v3_int');
      const opts = { ...base, intermediates: [pki.der('int'), cross], purpose: 'smime-signing' as const };
      const viaOther = await validateCertificate(pki.der('alice'), {
        ...opts,
        trustAnchors: [pki.der('other-root')],
      });
      expect(viaOther.verdict).toBe('valid');
      expect(detail(viaOther, 'chain')).toBe('CN=alice → CN=Test Issuing CA → CN=Other Root CA (trusted)');
      const viaRoot = await validateCertificate(pki.der('alice'), {
        ...opts,
        trustAnchors: [pki.der('root')],
      });
      expect(detail(viaRoot, 'chain')).toBe('CN=alice → CN=Test Issuing CA → CN=Test Root CA (trusted)');
      // Trusting the intermediate itself gives the shortest path.
      const direct = await validateCertificate(pki.der('alice'), {
        ...opts,
        trustAnchors: [pki.der('int'), pki.der('root')],
      });
      expect(direct.path).toHaveLength(2);
    });

    describe('revocation over HTTP: openssl ocsp responder and a CRL distribution point', () => {
      const online: ValidationOptions['revocation'] = { mode: 'require', onUnreachable: 'fail' };

      it('good via OCSP from the AIA URL, with the response kept for a DSS', async () => {
        const r = await validateCertificate(pki.der('alice'), {
          ...base,
          purpose: 'smime-signing',
          revocation: online,
          trustAnchors: [pki.der('root')],
        });
        // The intermediate publishes nothing; require makes that a failure, so trust the intermediate here.
        expect(r.verdict).toBe('revocation-unknown');
        expect(detail(r, 'revocation')).toMatch(
          /CA certificate CN=Test Issuing CA: no revocation information is available/,
        );
        const leafOnly = await validateCertificate(pki.der('alice'), {
          trustAnchors: [pki.der('int')],
          purpose: 'smime-signing',
          revocation: online,
        });
        expect(leafOnly.verdict).toBe('valid');
        expect(leafOnly.revocation).toEqual([
          expect.objectContaining({ serialHex: expect.any(String), status: 'good', source: 'ocsp' }),
        ]);
        expect(detail(leafOnly, 'revocation')).toMatch(
          /good according to OCSP from http:\/\/127\.0\.0\.1:\d+\/, signed by delegated responder CN=responder/,
        );
        expect(leafOnly.validationData.ocspResponses).toHaveLength(1);
        expect(leafOnly.validationData.certificates.some((c) => c.equals(pki.der('responder')))).toBe(true);
      });

      it('revoked via OCSP, in words, and the same with the CRL as openssl verify -crl_check says', async () => {
        const r = await validateCertificate(pki.der('bob'), {
          trustAnchors: [pki.der('int')],
          purpose: 'smime-signing',
          revocation: online,
        });
        expect(r.verdict).toBe('revoked');
        const today = new Date().toISOString().slice(0, 10);
        expect(detail(r, 'revocation')).toContain(
          `the signer's certificate (CN=bob) was revoked on ${today} (keyCompromise), according to OCSP`,
        );
        expect(r.revocation[0]).toMatchObject({ status: 'revoked', source: 'ocsp', reason: 'keyCompromise' });

        const viaCrl = await validateCertificate(pki.der('bob'), {
          trustAnchors: [pki.der('int')],
          purpose: 'smime-signing',
          revocation: { ...online, preferOcsp: false },
        });
        expect(viaCrl.verdict).toBe('revoked');
        expect(detail(viaCrl, 'revocation')).toMatch(
          /revoked on .* \(keyCompromise\), according to CRL number 1 of CN=Test Issuing CA from http/,
        );
        expect(viaCrl.validationData.crls).toEqual([pki.crlDer]);
        const ossl = await opensslVerify('bob', [
          '-untrusted',
          pki.file('int.pem'),
          '-crl_check',
          '-CRLfile',
          pki.file('int.crl'),
        ]);
        expect(ossl.out).toContain('certificate revoked');
        const good = await opensslVerify('alice', [
          '-untrusted',
          pki.file('int.pem'),
          '-crl_check',
          '-CRLfile',
          pki.file('int.crl'),
        ]);
        expect(good.out).toContain(': OK');
      });

      it('supplied data (a DSS) is used without fetching; require without data is revocation-unknown', async () => {
        const before = pki.crlRequests();
        const r = await validateCertificate(pki.der('bob'), {
          trustAnchors: [pki.der('int')],
          purpose: 'smime-signing',
          revocation: { mode: 'require', onUnreachable: 'fail', fetch: false, crls: [pki.crlDer] },
        });
        expect(r.verdict).toBe('revoked');
        const alice = await validateCertificate(pki.der('alice'), {
          trustAnchors: [pki.der('int')],
          purpose: 'smime-signing',
          revocation: { mode: 'require', onUnreachable: 'fail', fetch: false, crls: [pki.crlDer] },
        });
        expect(alice.verdict).toBe('valid');
        expect(pki.crlRequests()).toBe(before);
        const none = await validateCertificate(pki.der('alice'), {
          trustAnchors: [pki.der('int')],
          purpose: 'smime-signing',
          revocation: { mode: 'require', onUnreachable: 'soft-fail', fetch: false },
        });
        expect(none.verdict).toBe('revocation-unknown');
        // An OCSP response we fetched earlier serves as supplied data too.
        const fetched = await validateCertificate(pki.der('alice'), {
          trustAnchors: [pki.der('int')],
          purpose: 'smime-signing',
          revocation: online,
        });
        const replay = await validateCertificate(pki.der('alice'), {
          trustAnchors: [pki.der('int')],
          purpose: 'smime-signing',
          revocation: {
            mode: 'require',
            onUnreachable: 'fail',
            fetch: false,
            ocspResponses: fetched.validationData.ocspResponses,
          },
        });
        expect(replay.verdict).toBe('valid');
        // …but not for another certificate.
        const other = await validateCertificate(pki.der('eve'), {
          trustAnchors: [pki.der('int')],
          purpose: 'smime-encryption',
          revocation: {
            mode: 'require',
            onUnreachable: 'fail',
            fetch: false,
            ocspResponses: fetched.validationData.ocspResponses,
          },
        });
        expect(other.verdict).toBe('revocation-unknown');
      });

      it('OCSP responses made offline by openssl: issuer-signed without certificates is accepted, an unauthorised signer is not', async () => {
        const f = pki.file;
        const offline = async (signer: string, extra: string[]) => {
          const out = f(`resp-${signer}.der`);
          for (const args of [
            [
              'ocsp',
              '-issuer',
              f('int.pem'),
              '-cert',
              f('alice.pem'),
              '-no_nonce',
              '-reqout',
              f('alice.req'),
            ],
            [
              'ocsp',
              '-index',
              f('index.txt'),
              '-rsigner',
              f(`${signer}.pem`),
              '-rkey',
              f(`${signer}.key`),
              '-CA',
              f('int.pem'),
              '-reqin',
              f('alice.req'),
              '-respout',
              out,
              '-ndays',
              '1',
              ...extra,
            ],
          ]) {
            const r = await opensslOracle(args);
            if (r.code !== 0) throw new Error(r.out);
          }
          return validateCertificate(pki.der('alice'), {
            trustAnchors: [pki.der('int')],
            purpose: 'smime-signing',
            revocation: {
              mode: 'require',
              onUnreachable: 'fail',
              fetch: false,
              ocspResponses: [await readFile(out)],
            },
          });
        };
        const byIssuer = await offline('int', ['-resp_no_certs']);
        expect(byIssuer.verdict).toBe('valid');
        expect(detail(byIssuer, 'revocation')).toContain(
          'good according to OCSP, signed by CN=Test Issuing CA',
        );
        const byAlice = await offline('alice', []);
        expect(byAlice.verdict).toBe('revocation-unknown');
        expect(detail(byAlice, 'revocation')).toContain(
          'the OCSP responder CN=alice lacks the OCSPSigning extended key usage',
        );
        const byStranger = await offline('other-root', []);
        expect(byStranger.verdict).toBe('revocation-unknown');
        expect(detail(byStranger, 'revocation')).toContain('was not certified by CN=Test Issuing CA');
      });

      it('an unreachable responder: soft-fail accepts with a warning, fail gives revocation-unknown', async () => {
        const soft = await validateCertificate(pki.der('dead'), {
          trustAnchors: [pki.der('int')],
          purpose: 'smime-signing',
          revocation: { mode: 'require', onUnreachable: 'soft-fail', timeoutMs: 2000 },
        });
        expect(soft.verdict).toBe('valid');
        const warning = soft.checks.find((c) => c.name === 'revocation');
        expect(warning).toMatchObject({ ok: true, warning: true });
        expect(warning?.detail).toMatch(/could not be checked .*ECONNREFUSED/);
        const hard = await validateCertificate(pki.der('dead'), {
          trustAnchors: [pki.der('int')],
          purpose: 'smime-signing',
          revocation: { mode: 'require', onUnreachable: 'fail', timeoutMs: 2000 },
        });
        expect(hard.verdict).toBe('revocation-unknown');
        expect(hard.revocation[0]).toMatchObject({ status: 'unknown', source: 'none' });
      });

      it('a RevocationCache serves the CRL until its nextUpdate', async () => {
        const cache = new RevocationCache();
        const opts: ValidationOptions = {
          trustAnchors: [pki.der('int')],
          purpose: 'smime-signing',
          revocation: { mode: 'require', onUnreachable: 'fail', preferOcsp: false },
          cache,
        };
        const before = pki.crlRequests();
        expect((await validateCertificate(pki.der('alice'), opts)).verdict).toBe('valid');
        expect((await validateCertificate(pki.der('bob'), opts)).verdict).toBe('revoked');
        expect(
          (await validateCertificate(pki.der('eve'), { ...opts, purpose: 'smime-encryption' })).verdict,
        ).toBe('valid');
        expect(pki.crlRequests() - before).toBe(1);
        expect(cache.hits).toBe(2);
      });
    });
  },
);
