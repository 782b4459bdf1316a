/**
 * Property tests for the public-key security handler's parser: mutated /Recipients envelopes, mutated
 * encryption dictionaries and mutated encrypted files end in a PdfError (or CmsDecryptError), never a
 * crash, hang or untyped exception.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource, PdfDocument, PdfError } from '../../src/pdf/index.js';
import { createPubSecEncryption, openPubSec, pubSecSecurityHandler } from '../../src/pdf/crypt/pubsec.js';
import { PdfArray, PdfBoolean, PdfDict, PdfName, PdfNumber, PdfString } from '../../src/pdf/objects.js';
import type { PdfObject } from '../../src/pdf/objects.js';
import { encryptPdf } from '../../src/pdf/encrypt/index.js';
import { decryptPdf } from '../../src/pdf/decrypt/index.js';
import { CmsDecryptError } from '../../src/pkix/cms/enveloped-data.js';
import type { DecryptionKey } from '../../src/pkix/cms/enveloped-data.js';
import { buildPdf, makeRecipients, type Recipients } from './pubsec-fixtures.js';

let r: Recipients;
let keys: DecryptionKey[];
let encryptDict: PdfDict;
let envelope: Buffer;
let encrypted: Buffer;

beforeAll(async () => {
  r = await makeRecipients();
  keys = [r.rsa, r.ec].map((t) => ({ privateKey: t.privateKey, certificate: t.certificate }));
  const built = await createPubSecEncryption({ recipients: [{ certificate: r.rsa.certificate }] });
  encryptDict = built.encryptDict;
  envelope = (recipientsOf(encryptDict).items[0] as PdfString).bytes;
  encrypted = await encryptPdf(buildPdf(Buffer.from('BT (statement) Tj ET'.repeat(20))), {
    recipients: [{ certificate: r.rsa.certificate }, { certificate: r.ec.certificate }],
  });
});
afterAll(async () => r?.cleanup());

function recipientsOf(d: PdfDict): PdfArray {
  return ((d.get('CF') as PdfDict).get('DefaultCryptFilter') as PdfDict).get('Recipients') as PdfArray;
}

function isCryptFilterHolder(d: PdfDict): boolean {
  const cf = d.get('CF');
  return cf?.kind === 'dict' && cf.get('DefaultCryptFilter')?.kind === 'dict';
}

function withCryptFilterEntry(key: string, value: PdfObject | undefined, base = encryptDict): PdfDict {
  const cf = (base.get('CF') as PdfDict).get('DefaultCryptFilter') as PdfDict;
  const m = new Map(cf.entries);
  if (value === undefined) m.delete(key);
  else m.set(key, value);
  return new PdfDict(
    new Map([...base.entries, ['CF', new PdfDict(new Map([['DefaultCryptFilter', new PdfDict(m)]]))]]),
  );
}

async function expectTyped(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof PdfError) && !(e instanceof CmsDecryptError)) throw e;
  }
}

/** Flip, overwrite, truncate or extend a byte string. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ maxLength: 40 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(b: Buffer, m: Mutation): Buffer {
  const c = Buffer.from(b);
  if (m.kind === 'append') return Buffer.concat([c, m.bytes]);
  const at = m.at % Math.max(1, c.length);
  if (m.kind === 'truncate') return c.subarray(0, at);
  if (m.kind === 'flip') c[at]! ^= 1 << m.bit;
  else c[at] = m.value;
  return c;
}

describe('PubSec parser properties', () => {
  it('mutated recipient envelopes give PdfError or CmsDecryptError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (ms) => {
        const bad = ms.reduce(mutate, envelope);
        await expectTyped(
          openPubSec(withCryptFilterEntry('Recipients', new PdfArray([new PdfString(bad, true)])), keys),
        );
      }),
      { numRuns: 150 },
    );
  });

  it('random bytes as envelopes give PdfError or CmsDecryptError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 3 }),
        async (strings) => {
          const arr = new PdfArray(strings.map((s) => new PdfString(Buffer.from(s), true)));
          await expectTyped(openPubSec(withCryptFilterEntry('Recipients', arr), keys));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('mutated encryption dictionaries give PdfError', async () => {
    const values: fc.Arbitrary<PdfObject> = fc.oneof(
      fc.integer({ min: -10, max: 300 }).map((n) => PdfNumber.int(n)),
      fc
        .constantFrom('AESV2', 'AESV3', 'V2', 'None', 'Identity', 'adbe.pkcs7.s4', 'adbe.pkcs7.s5', 'X')
        .map((n) => new PdfName(n)),
      fc.boolean().map((b) => new PdfBoolean(b)),
      fc.uint8Array({ maxLength: 20 }).map((b) => new PdfString(Buffer.from(b))),
      fc.constant(new PdfDict()),
      fc.constant(new PdfArray([])),
    );
    const keysOf = fc.constantFrom(
      'V',
      'SubFilter',
      'Length',
      'StmF',
      'StrF',
      'CF',
      'EncryptMetadata',
      'Recipients',
    );
    const cfKeys = fc.constantFrom('CFM', 'Length', 'Recipients', 'EncryptMetadata');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.boolean(), keysOf, cfKeys, fc.option(values)), { minLength: 1, maxLength: 4 }),
        async (edits) => {
          let d = encryptDict;
          for (const [top, key, cfKey, value] of edits) {
            if (top) {
              const m = new Map(d.entries);
              if (value === null) m.delete(key);
              else m.set(key, value);
              d = new PdfDict(m);
            } else if (isCryptFilterHolder(d)) {
              d = withCryptFilterEntry(cfKey, value ?? undefined, d);
            }
          }
          await expectTyped(openPubSec(d, keys));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('mutated encrypted files give PdfError when opened and decrypted', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (ms) => {
        const bad = ms.reduce(mutate, encrypted);
        await expectTyped(
          (async () => {
            const doc = await PdfDocument.open(new BufferSource(bad), {
              securityHandlers: [pubSecSecurityHandler(keys)],
            });
            await doc.pages();
            await decryptPdf(bad, { keys });
          })(),
        );
      }),
      { numRuns: 150 },
    );
  });

  it('a valid file still opens (the properties are not vacuous)', async () => {
    const { result } = await decryptPdf(encrypted, { keys });
    expect(result.filter).toBe('Adobe.PubSec');
  });
});
