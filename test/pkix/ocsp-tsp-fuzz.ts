/** fast-check inputs for the OCSP/TSP parser property tests: random bytes, mutated valid DER, hostile shapes. */
import fc from 'fast-check';
import { expect } from 'vitest';

/** `levels` nested SEQUENCEs (long-form lengths), the shape that exhausts recursive parsers. */
export function deeplyNested(levels: number, tag = 0x30): Buffer {
  let inner = Buffer.from([0x05, 0x00]);
  for (let i = 0; i < levels; i++) {
    inner = Buffer.concat([
      Buffer.from([tag, 0x83, (inner.length >> 16) & 0xff, (inner.length >> 8) & 0xff, inner.length & 0xff]),
      inner,
    ]);
  }
  return inner;
}

/** Hand-picked hostile inputs: huge declared lengths, indefinite length, high tag numbers, deep nesting. */
export const HOSTILE: Buffer[] = [
  Buffer.alloc(0),
  Buffer.from('30', 'hex'),
  Buffer.from('3084ffffffff', 'hex'),
  Buffer.from('3088ffffffffffffffff00', 'hex'),
  Buffer.from('308000000000', 'hex'),
  Buffer.from('3f8f8f8f8f8f0100', 'hex'),
  Buffer.from('300530033001', 'hex'),
  deeplyNested(3000),
  deeplyNested(3000, 0xa0),
  Buffer.concat([Buffer.from('3082ffff', 'hex'), Buffer.alloc(100)]),
];

/** A valid input with one to four random edits: byte changes, truncation, insertion, splicing in hostile lengths. */
export function mutationsOf(seeds: Buffer[]): fc.Arbitrary<Buffer> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('hugeLength' as const), at: fc.nat() }),
  );
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(edit, { minLength: 1, maxLength: 4 }))
    .map(([seed, edits]) => {
      let b = Buffer.from(seed);
      for (const e of edits) {
        const at = b.length === 0 ? 0 : e.at % b.length;
        switch (e.kind) {
          case 'set':
            if (b.length) b[at] = e.value;
            break;
          case 'truncate':
            b = b.subarray(0, at);
            break;
          case 'insert':
            b = Buffer.concat([b.subarray(0, at), Buffer.from(e.bytes), b.subarray(at)]);
            break;
          case 'delete':
            b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.count)]);
            break;
          case 'hugeLength':
            b = Buffer.concat([b.subarray(0, at + 1), Buffer.from('84ffffff7f', 'hex'), b.subarray(at + 2)]);
            break;
        }
      }
      return b;
    });
}

/** Inputs for a parser property: random bytes, random DER-ish bytes, mutated seeds and the hostile list. */
export function parserInputs(seeds: Buffer[]): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc
      .uint8Array({ maxLength: 300 })
      .map((b) => Buffer.concat([Buffer.from([0x30, 0x82, b.length >> 8, b.length & 0xff]), b])),
    mutationsOf(seeds),
    fc.constantFrom(...HOSTILE),
  );
}

/** Run `parse` and require success or an instance of one of `errors`, within `maxMs`. */
export function expectTypedOutcome(
  parse: () => unknown,
  errors: (new (...args: never[]) => Error)[],
  maxMs = 200,
): void {
  const started = performance.now();
  try {
    parse();
  } catch (e) {
    if (!errors.some((cls) => e instanceof cls))
      throw new Error(`untyped exception: ${String(e)}`, { cause: e });
  }
  expect(performance.now() - started).toBeLessThan(maxMs);
}
