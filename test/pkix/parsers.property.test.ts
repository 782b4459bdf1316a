/**
 * Property tests: every parser, fed random bytes or a mutated valid input, either succeeds or throws its typed
 * error — never a crash, a hang or an untyped exception.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../src/pkix/certificate.js';
import { parseCrl, signCrl } from '../../src/pkix/crl.js';
import { buildCsr, parseCsr } from '../../src/pkix/csr.js';
import { Asn1Error, CsrError, Pkcs12Error } from '../../src/pkix/errors.js';
import { buildPkcs12, parsePkcs12 } from '../../src/pkix/pkcs12.js';
import { fromPem, toPem } from '../../src/pkix/pem.js';
import { hierarchy, issue, URLS, type Hierarchy, type Issued } from './fixtures.js';

let h: Hierarchy;
let user: Issued;
const valid: Record<'cert' | 'crl' | 'csr' | 'p12', Buffer> = {} as never;

beforeAll(async () => {
  h = await hierarchy('ec-p256');
  user = await issue(
    { commonName: 'Prop Test' },
    { profile: 'smime-signing', emails: ['p@bank.example'], ...URLS },
    'ec-p256',
    h.issuing,
  );
  valid.cert = user.cert.der;
  valid.crl = await signCrl({
    issuer: h.issuing.cert,
    issuerKey: h.issuing.key,
    hash: 'sha256',
    crlNumber: 7n,
    thisUpdate: new Date(),
    nextUpdate: new Date(Date.now() + 86_400_000),
    revoked: [{ serialHex: user.cert.serialHex, revokedAt: new Date(), reason: 'superseded' }],
  });
  valid.csr = await buildCsr(user.key, { commonName: 'Prop Test' }, ['p@bank.example']);
  // Few iterations: mutation runs parse hundreds of files.
  valid.p12 = buildPkcs12({
    privateKey: user.key.exportPkcs8(),
    certificate: user.cert.der,
    chain: [h.issuing.cert.der],
    password: 'pw',
    iterations: 2,
  });
});

/** A valid input with a few bytes overwritten, a slice cut out, or bytes inserted. */
function mutated(base: () => Buffer): fc.Arbitrary<Buffer> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), value: fc.integer({ min: 1, max: 64 }) }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 255 }),
    }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let b = Buffer.from(base());
    for (const e of edits) {
      const at = e.at % (b.length + 1);
      if (e.kind === 'set' && at < b.length) b[at] = e.value;
      else if (e.kind === 'cut') b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.value)]);
      else b = Buffer.concat([b.subarray(0, at), Buffer.from([e.value]), b.subarray(at)]);
    }
    return b;
  });
}

const randomBytes = fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a));
/** Random bytes behind a plausible SEQUENCE header, to get past the first check more often. */
const sequenceLike = fc
  .uint8Array({ minLength: 1, maxLength: 600 })
  .map((a) => Buffer.concat([Buffer.from([0x30, 0x82, a.length >> 8, a.length & 0xff]), a]));

function expectOnly(errorClass: new (...args: never[]) => Error, fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof errorClass))
      throw new Error(
        `expected ${errorClass.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`,
        { cause: e },
      );
    expect((e as Error).message.length).toBeGreaterThan(0);
    expect((e as Error).message).not.toContain('\n');
  }
}

const cases = [
  {
    name: 'parseCertificate',
    key: 'cert' as const,
    error: Asn1Error,
    parse: (b: Buffer) => parseCertificate(b),
  },
  { name: 'parseCrl', key: 'crl' as const, error: Asn1Error, parse: (b: Buffer) => parseCrl(b) },
  { name: 'parseCsr', key: 'csr' as const, error: CsrError, parse: (b: Buffer) => parseCsr(b) },
  {
    name: 'parsePkcs12',
    key: 'p12' as const,
    error: Pkcs12Error,
    parse: (b: Buffer) => parsePkcs12(b, 'pw'),
  },
];

describe.each(cases)('$name', ({ key, error, parse }) => {
  it('accepts the valid input', () => {
    expect(() => parse(valid[key])).not.toThrow();
  });
  it('random bytes give only its typed error', () => {
    fc.assert(
      fc.property(fc.oneof(randomBytes, sequenceLike), (b) => expectOnly(error, () => parse(b))),
      { numRuns: 300 },
    );
  });
  it('mutated valid input gives only its typed error', () => {
    fc.assert(
      fc.property(
        mutated(() => valid[key]),
        (b) => expectOnly(error, () => parse(b)),
      ),
      { numRuns: key === 'p12' ? 150 : 400 },
    );
  });
  it('deep nesting and huge length claims are rejected quickly', () => {
    const deep = Buffer.concat([
      ...Array.from({ length: 5000 }, () => Buffer.from([0x30, 0x84, 0, 0, 0x40, 0])),
      Buffer.alloc(0),
    ]);
    expectOnly(error, () => parse(deep));
    let nested = Buffer.from([0x05, 0x00]);
    for (let i = 0; i < 200; i++)
      nested = Buffer.concat([Buffer.from([0x30, 0x82, nested.length >> 8, nested.length & 0xff]), nested]);
    expect(() => parse(nested)).toThrow(error);
    expect(() => parse(Buffer.from([0x30, 0x80, 0x00, 0x00]))).toThrow(error); // indefinite length: not DER
  });
});

describe('fromPem', () => {
  it('never throws and finds every block in text around it', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 500 }),
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.string({ maxLength: 100 }),
        (before, der, after) => {
          const text = `${before}\n${toPem(der, 'CERTIFICATE')}${after}`;
          const blocks = fromPem(text);
          expect(blocks.some((b) => b.label === 'CERTIFICATE' && b.der.equals(Buffer.from(der)))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (s) => Array.isArray(fromPem(s))),
      { numRuns: 300 },
    );
  });
});
