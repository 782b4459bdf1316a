import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PdfArray,
  PdfBoolean,
  PdfDocument,
  PdfName,
  PdfNull,
  PdfNumber,
  PdfRef,
  PdfString,
  type PdfDict,
  type PdfObject,
} from '../../src/pdf/index.js';
import {
  IncrementalUpdate,
  PdfNewStream,
  WritableDict,
  appendToFile,
  catalogRef,
  editDict,
  serializeObject,
} from '../../src/pdf/writer/index.js';
import { loadImage } from '../../src/pdf/sign/image.js';
import { PdfSignError } from '../../src/pdf/sign/errors.js';
import { contentsHex } from '../../src/pdf/sign/placeholder.js';
import { haveOracle, run } from '../helpers/run.js';
import { fixtureDir } from './fixtures/fixtures.js';
import { strokePng } from './sign-env.js';

/** Append `update` to a copy of `input` at `out`. */
async function writeUpdate(
  input: string,
  out: string,
  fill: (u: IncrementalUpdate) => Promise<void>,
  password?: string,
): Promise<void> {
  await writeFile(out, await readFile(input));
  const doc = await PdfDocument.openFile(out, password ? { password } : {});
  try {
    const u = new IncrementalUpdate(doc);
    await fill(u);
    const size = doc.source.size;
    await appendToFile(out, size, u.build(size, (await doc.source.read(size - 1, 1))[0]).bytes);
  } finally {
    await doc.close();
  }
}

/** Reader objects → plain values for comparison. */
function plain(o: PdfObject | undefined): unknown {
  if (!o) return undefined;
  switch (o.kind) {
    case 'string':
      return `s:${o.bytes.toString('hex')}`;
    case 'name':
      return `n:${o.value}`;
    case 'number':
      return o.value === 0 ? 0 : o.value; // -0 is written as 0
    case 'boolean':
      return o.value;
    case 'null':
      return null;
    case 'array':
      return o.items.map(plain);
    case 'dict':
      return Object.fromEntries([...o.entries].map(([k, v]) => [k, plain(v)]));
    default:
      return o.kind;
  }
}

const arbLeaf: fc.Arbitrary<PdfObject> = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((b) => new PdfString(Buffer.from(b))),
  fc.uint8Array({ maxLength: 20 }).map((b) => new PdfString(Buffer.from(b), true)),
  fc
    .string({ minLength: 1, maxLength: 12, unit: fc.constantFrom(...'aZ09 #/()<>[]%\x01é'.split('')) })
    .map((s) => new PdfName(Buffer.from(s, 'utf8').toString('latin1'))),
  fc.integer({ min: -1e9, max: 1e9 }).map((n) => PdfNumber.int(n)),
  fc
    .double({ min: -1e6, max: 1e6, noNaN: true })
    .map((v) => new PdfNumber(Math.round(v * 1000) / 1000, false)),
  fc.boolean().map((b) => new PdfBoolean(b)),
  fc.constant(new PdfNull()),
);
const arbValue: fc.Arbitrary<PdfObject> = fc.letrec<{ v: PdfObject }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    arbLeaf,
    fc.array(tie('v'), { maxLength: 4 }).map((items) => new PdfArray(items)),
  ),
})).v;

describe('incremental writer', () => {
  let fx: Awaited<ReturnType<typeof fixtureDir>>;
  let dir: string;
  beforeAll(async () => {
    fx = await fixtureDir();
    dir = await mkdtemp(join(tmpdir(), 'sealpost-writer-'));
  });
  afterAll(async () => {
    await fx.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['classic.pdf', 'table'],
    ['objstm.pdf', 'stream'],
    ['linearized.pdf', 'table'],
    ['linearized-objstm.pdf', 'stream'],
  ])(
    '%s: bytes kept, xref as a %s, /Prev, /Size, /Root, /ID renewed; our reader and qpdf read it',
    async (name, form) => {
      const input = join(fx.dir, name);
      const out = join(dir, `w-${name}`);
      let added = 0;
      await writeUpdate(input, out, async (u) => {
        const ref = u.add(new WritableDict().set('Note', new PdfString(Buffer.from('added (by) \\ test'))));
        added = ref.num;
        await editDict(u, catalogRef(u), (cat) => void cat.set('SealpostNote', ref));
      });
      const before = await PdfDocument.openFile(input);
      const after = await PdfDocument.openFile(out);
      try {
        const original = await readFile(input);
        const written = await readFile(out);
        expect(written.subarray(0, original.length).equals(original)).toBe(true);
        expect(after.revisions).toHaveLength(before.revisions.length + 1);
        const last = after.revisions.at(-1)!;
        expect(last.sections[0]!.kind).toBe(form);
        expect(last.trailer.getNumber('Prev')).toBe(before.revisions.at(-1)!.startxref);
        expect(last.trailer.getNumber('Size')).toBeGreaterThan(added);
        expect(plain(last.trailer.get('Root'))).toEqual(plain(before.trailer.get('Root')));
        const [id0, id1] = (after.trailer.get('ID') as PdfArray).items as PdfString[];
        const [old0, old1] = (before.trailer.get('ID') as PdfArray).items as PdfString[];
        expect(id0!.bytes.equals(old0!.bytes)).toBe(true);
        expect(id1!.bytes.equals(old1!.bytes)).toBe(false);
        const note = await after.resolveDict((await after.catalog()).get('SealpostNote'));
        expect((note?.get('Note') as PdfString).toText()).toBe('added (by) \\ test');
        expect((await after.pages()).length).toBe((await before.pages()).length);
      } finally {
        await before.close();
        await after.close();
      }
      if (haveOracle('qpdf')) expect((await run('qpdf', ['--check', out])).code).toBe(0);
    },
  );

  it('property: any objects written to a table or a stream file are read back identically (encrypted too)', async () => {
    const cases: [string, string?][] = [
      ['classic.pdf'],
      ['objstm.pdf'],
      ['aes256.pdf', 'user'],
      ['rc4-r3.pdf', 'user'],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbValue, { minLength: 1, maxLength: 6 }),
        fc.nat(cases.length - 1),
        async (values, which) => {
          const [name, password] = cases[which]!;
          const out = join(dir, `prop-${name}`);
          const refs: number[] = [];
          await writeUpdate(
            join(fx.dir, name),
            out,
            async (u) => {
              // In an array: a null dictionary value means "absent" (§7.3.7), so the reader drops it.
              for (const v of values) refs.push(u.add(new WritableDict().set('V', new PdfArray([v]))).num);
              refs.push(u.add(new PdfNewStream(new WritableDict(), Buffer.from('stream body'))).num);
            },
            password,
          );
          const doc = await PdfDocument.openFile(out, password ? { password } : {});
          try {
            for (const [i, v] of values.entries()) {
              const got = await doc.latest.getObject(new PdfRef(refs[i]!, 0));
              expect(plain((got as PdfDict).get('V'))).toEqual([plain(v)]);
            }
            const s = await doc.latest.getObject(new PdfRef(refs.at(-1)!, 0));
            expect(s.kind === 'stream' && (await doc.streamData(s)).toString()).toBe('stream body');
          } finally {
            await doc.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('serialises names, strings and reals per ISO 32000-2 §7.3', () => {
    const d = new WritableDict()
      .set('A B', new PdfName('x/y#z'))
      .set('S', new PdfString(Buffer.from('a(b)c\\\r\n')))
      .set('R', new PdfNumber(1e-7, false))
      .set('Q', new PdfNumber(0.5, false, '.50', { start: 0, end: 3 }));
    expect(serializeObject(d).toString('latin1')).toBe(
      '<</A#20B /x#2fy#23z/S (a\\(b\\)c\\\\\\r\\n)/R 0/Q .50>>',
    );
  });

  it('an update with nothing in it, or an unallocated object, is refused with a clear error', async () => {
    const doc = await PdfDocument.openFile(join(fx.dir, 'classic.pdf'));
    try {
      const u = new IncrementalUpdate(doc);
      expect(() => u.build(doc.source.size, 0x0a)).toThrow(/nothing to write/);
      expect(() => u.set(new PdfRef(999999, 0), new PdfNull())).toThrow(/neither allocated/);
    } finally {
      await doc.close();
    }
  });
});

describe('signature images and placeholders', () => {
  it('decodes an RGBA PNG into RGB + /SMask, and reads a JPEG header', () => {
    const png = loadImage(strokePng(40, 20));
    expect([png.width, png.height, !!png.smask]).toEqual([40, 20, true]);
    // Smallest baseline JPEG header: SOI, SOF0 (8-bit, 3×2, 3 components).
    const jpeg = Buffer.from('ffd8ffc0001108000200030301220002110103110100', 'hex');
    const j = loadImage(jpeg);
    expect([j.width, j.height, j.image.dict.entries.get('Filter')]).toEqual([3, 2, new PdfName('DCTDecode')]);
  });

  it('property: random and mutated image bytes give PdfSignError, never a crash', () => {
    const good = strokePng(8, 8);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc
            .array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 })
            .map((muts) => {
              const b = Buffer.from(good);
              for (const [at, v] of muts) b[at] = v;
              return b;
            }),
          fc.nat(good.length).map((n) => good.subarray(0, n)),
        ),
        (bytes) => {
          try {
            loadImage(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(PdfSignError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a CMS larger than the reserved /Contents is refused with what to do', () => {
    expect(() => contentsHex(Buffer.alloc(100), 50)).toThrow(/does not fit.*larger reserve/);
    expect(contentsHex(Buffer.from([0xab]), 2).toString()).toBe('<AB00>');
  });
});
