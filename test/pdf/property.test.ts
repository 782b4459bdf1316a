import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { BufferSource, PdfDocument, PdfError } from '../../src/pdf/index.js';
import { passwordsFor } from './fixtures/fixtures.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const NAMES = [
  'classic.pdf',
  'objstm.pdf',
  'linearized-objstm.pdf',
  'aes256-objstm.pdf',
  'aes128.pdf',
  'rc4-r3.pdf',
  'qdf.pdf',
];
const inputs: { name: string; bytes: Buffer }[] = [];

beforeAll(async () => {
  for (const name of NAMES) inputs.push({ name, bytes: await readFile(join(FIXTURES, name)) });
});

/** Everything a caller might do with a document: every page, field, object and stream. */
async function exercise(bytes: Buffer, name: string, recover: boolean): Promise<void> {
  const doc = await PdfDocument.open(new BufferSource(bytes), {
    password: passwordsFor(name)?.user,
    recover,
  });
  for (const page of await doc.pages()) await doc.latest.pageContent(page);
  await doc.fields();
  for (const view of [doc.latest, doc.atRevision(0)])
    for (const num of view.objectNumbers()) {
      const obj = await view.getIndirect(num);
      if (obj?.value.kind === 'stream') await doc.decodeStream(obj.value);
    }
}

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; bits: number }[]
  | { kind: 'splice'; from: number; to: number; len: number };

function mutate(bytes: Buffer, m: Mutation): Buffer {
  if (Array.isArray(m)) {
    const out = Buffer.from(bytes);
    for (const f of m) out[f.at % out.length] = (out[f.at % out.length] ?? 0) ^ f.bits;
    return out;
  }
  if (m.kind === 'truncate') return bytes.subarray(0, m.at % bytes.length);
  const from = m.from % bytes.length;
  const to = m.to % bytes.length;
  return Buffer.concat([bytes.subarray(0, to), bytes.subarray(from, from + m.len), bytes.subarray(to)]);
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.array(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
    { minLength: 1, maxLength: 8 },
  ),
  fc.record({
    kind: fc.constant('splice' as const),
    from: fc.nat(),
    to: fc.nat(),
    len: fc.integer({ min: 1, max: 400 }),
  }),
);

async function onlyPdfErrors(run: () => Promise<void>): Promise<void> {
  const started = Date.now();
  try {
    await run();
  } catch (e) {
    if (!(e instanceof PdfError)) throw new Error(`untyped error: ${String(e)}`, { cause: e });
  }
  expect(Date.now() - started).toBeLessThan(2000);
}

describe('mutated real PDFs give only PdfError subclasses, each within 2 s', () => {
  it('the unmutated inputs read cleanly', async () => {
    for (const { name, bytes } of inputs) await exercise(bytes, name, false);
  });

  for (const recover of [false, true]) {
    it(`recover: ${recover}`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: NAMES.length - 1 }), mutation, async (i, m) => {
          const { name, bytes } = inputs[i]!;
          await onlyPdfErrors(() => exercise(mutate(bytes, m), name, recover));
        }),
        { numRuns: Number(process.env.PDF_PROPERTY_RUNS ?? 250) },
      );
    });
  }

  it('random bytes and PDF-looking noise', async () => {
    const noise = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
      fc
        .array(
          fc.constantFrom(
            '%PDF-1.7\n',
            '1 0 obj',
            '<<',
            '>>',
            '[',
            ']',
            '/Type',
            '/Pages',
            '2 0 R',
            'stream\n',
            'endstream',
            'endobj',
            'xref\n0 3\n',
            '0000000000 65535 f \n',
            'trailer',
            'startxref\n9\n',
            '%%EOF',
            '(',
            ')',
            '<',
            '>',
            ' ',
            '\n',
            '/Length 5 0 R',
            '/Prev 0',
          ),
          { maxLength: 120 },
        )
        .map((parts) => Buffer.from(parts.join(''), 'latin1')),
    );
    await fc.assert(
      fc.asyncProperty(noise, fc.boolean(), async (bytes, recover) => {
        await onlyPdfErrors(() => exercise(bytes, 'noise.pdf', recover));
      }),
      { numRuns: 300 },
    );
  });
});
