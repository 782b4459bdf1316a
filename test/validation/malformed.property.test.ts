import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveOracle } from '../helpers/run.js';
import {
  validateCertificate,
  validateTimestampToken,
  type ValidationOptions,
} from '../../src/validation/index.js';
import { makeOpensslPki, type OpensslPki } from './openssl-pki.js';

const hasOpenssl = haveOracle('openssl');
const VERDICTS = ['valid', 'untrusted', 'malformed', 'wrong-usage', 'expired', 'not-yet-valid'];

describe.skipIf(!hasOpenssl)('validation never throws on hostile input', () => {
  let pki: OpensslPki;
  let opts: ValidationOptions;

  beforeAll(async () => {
    pki = await makeOpensslPki();
    opts = {
      trustAnchors: [pki.der('root')],
      intermediates: [pki.der('int')],
      purpose: 'smime-signing',
      revocation: { mode: 'require', onUnreachable: 'fail', fetch: false },
    };
  });
  afterAll(async () => {
    await pki?.close();
  });

  it('random bytes as the certificate are "malformed", quickly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (bytes) => {
        const started = Date.now();
        const r = await validateCertificate(Buffer.from(bytes), opts);
        expect(r.verdict).toBe('malformed');
        expect(r.ok).toBe(false);
        expect(Date.now() - started).toBeLessThan(200);
      }),
      { numRuns: 300 },
    );
  });

  it('mutated real certificates give a verdict, never an exception; most are malformed or untrusted', async () => {
    const leaf = pki.der('alice');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: leaf.length - 1 }), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.option(fc.nat({ max: leaf.length }), { nil: undefined }),
        async (flips, cut) => {
          const bytes = Buffer.from(leaf);
          for (const [i, x] of flips) bytes[i] = (bytes[i] as number) ^ x;
          const input = cut === undefined ? bytes : bytes.subarray(0, cut);
          const r = await validateCertificate(input, opts);
          expect(r.checks.length).toBeGreaterThan(0);
          expect([...VERDICTS, 'revocation-unknown', 'address-mismatch']).toContain(r.verdict);
          // Any change to the signed part breaks the signature: "valid" is only possible with the original TBS.
          if (r.verdict === 'valid')
            expect(
              r.path[0]?.tbs.equals(pki.der('alice').subarray(4, 4 + (r.path[0]?.tbs.length ?? 0))),
            ).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hostile trust anchors, intermediates, OCSP responses and CRLs are ignored with a reason, never thrown', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 512 }), { maxLength: 4 }), async (junk) => {
        const blobs = junk.map((j) => Buffer.from(j));
        const r = await validateCertificate(pki.der('alice'), {
          ...opts,
          trustAnchors: [...blobs, pki.der('root')],
          intermediates: [...blobs, pki.der('int')],
          revocation: {
            mode: 'require',
            onUnreachable: 'fail',
            fetch: false,
            ocspResponses: blobs,
            crls: blobs,
          },
        });
        expect(['revocation-unknown', 'valid']).toContain(r.verdict);
        const t = await validateTimestampToken(blobs[0] ?? Buffer.alloc(0), {
          trustAnchors: [pki.der('root')],
        });
        expect(t.verdict).toBe('malformed');
      }),
      { numRuns: 100 },
    );
  });
});
