/**
 * Hostile input: random bytes, mutated valid signatures (NSS-style BER included), nesting bombs and absurd
 * lengths give CmsSignedDataError or Asn1Error — never another exception, a crash or a hang.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CmsSignedDataError, signData, verifySignedData } from '../../../src/pkix/cms/signed-data.js';
import {
  parseEncryptionKeyPreference,
  parseSmimeCapabilities,
} from '../../../src/pkix/cms/smime-capabilities.js';
import { Asn1Error } from '../../../src/pkix/errors.js';
import { hierarchy, issue } from '../fixtures.js';
import { inProcessTsa } from './signed-fixtures.js';

const CONTENT = Buffer.from('Content-Type: text/plain\r\n\r\nproperty\r\n');
const samples: Buffer[] = [];

beforeAll(async () => {
  const h = await hierarchy('ec-p256');
  const alice = await issue(
    { commonName: 'Alice' },
    { profile: 'smime-signing', emails: ['alice@bank.example'] },
    'ec-p256',
    h.issuing,
  );
  const tsa = await issue({ commonName: 'TSA' }, { profile: 'tsa' }, 'ec-p256', h.issuing);
  const base = { signer: alice.key, certificate: alice.cert.der, chain: [h.issuing.cert.der] };
  samples.push(
    await signData(CONTENT, { ...base, detached: false, encryptionKeyPreference: alice.cert.der }),
  );
  samples.push(
    await signData(CONTENT, {
      ...base,
      detached: false,
      identifier: 'subjectKeyIdentifier',
      timestamp: inProcessTsa({ der: tsa.cert.der, key: tsa.key } as Parameters<typeof inProcessTsa>[0]),
    }),
  );
});

/** Run `verifySignedData` and accept only a result or one of the two typed errors. */
async function outcome(der: Buffer): Promise<'ok' | 'typed-error'> {
  try {
    await verifySignedData(der, { content: CONTENT }).catch(async (e: unknown) => {
      // An opaque sample rejects `content`; retry without it so mutations reach the deeper checks.
      if (e instanceof CmsSignedDataError && /without passing content/.test(e.message))
        return verifySignedData(der);
      throw e;
    });
    return 'ok';
  } catch (e) {
    if (e instanceof CmsSignedDataError || e instanceof Asn1Error) return 'typed-error';
    throw e;
  }
}

describe('verifySignedData on hostile input', () => {
  it('random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (bytes) => {
        expect(await outcome(Buffer.from(bytes))).toBe('typed-error');
      }),
      { numRuns: 400 },
    );
  });

  it('random bytes behind a plausible SignedData header', async () => {
    const head = samples[0]!.subarray(0, 30);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (tail) => {
        await outcome(Buffer.concat([head, tail]));
      }),
      { numRuns: 300 },
    );
  });

  it('mutated valid signatures: flipped bytes, truncation, insertion', async () => {
    const mutation = fc.record({
      sample: fc.integer({ min: 0, max: samples.length - 1 }),
      flips: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), {
        minLength: 1,
        maxLength: 4,
      }),
      cut: fc.option(fc.nat()),
      insert: fc.option(fc.record({ at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) })),
    });
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        let der = Buffer.from(samples[m.sample]!);
        for (const f of m.flips) der[f.at % der.length] = f.value;
        if (m.insert) {
          const at = m.insert.at % der.length;
          der = Buffer.concat([der.subarray(0, at), Buffer.from(m.insert.bytes), der.subarray(at)]);
        }
        if (m.cut !== null) der = der.subarray(0, m.cut % der.length);
        await outcome(der);
      }),
      { numRuns: 500 },
    );
  });

  it('a nesting bomb, a flood of tiny elements and a huge length claim fail fast', async () => {
    const started = Date.now();
    const bomb = Buffer.from('3080'.repeat(100_000), 'hex');
    await expect(verifySignedData(bomb, { content: CONTENT })).rejects.toThrow(/nesting deeper/);
    const nulls = Buffer.from('0500'.repeat(600_000), 'hex');
    const flood = Buffer.concat([Buffer.from([0x30, 0x84]), Buffer.alloc(4), nulls]);
    flood.writeUInt32BE(nulls.length, 2);
    await expect(verifySignedData(flood, { content: CONTENT })).rejects.toThrow(CmsSignedDataError);
    const claim = Buffer.from('3084ffffffff06092a864886f70d010702', 'hex');
    await expect(verifySignedData(claim, { content: CONTENT })).rejects.toThrow(/claims/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a 64 MiB flood of tiny elements is rejected quickly (bounded work, not a benchmark)', async () => {
    const nulls = Buffer.alloc(64 * 1024 * 1024 - 16);
    for (let i = 0; i < nulls.length; i += 2) nulls[i] = 0x05;
    const flood = Buffer.concat([Buffer.from([0x30, 0x84]), Buffer.alloc(4), nulls]);
    flood.writeUInt32BE(nulls.length, 2);
    const started = Date.now();
    await expect(verifySignedData(flood, { content: CONTENT })).rejects.toThrow(/more than \d+ elements/);
    // Generous bound: without the children cap this took 9.5 s and 3.4 GB.
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('S/MIME attribute value parsers on hostile input', () => {
  it('throw only Asn1Error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        for (const parse of [parseSmimeCapabilities, parseEncryptionKeyPreference]) {
          try {
            parse(Buffer.from(bytes));
          } catch (e) {
            expect(e).toBeInstanceOf(Asn1Error);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});
