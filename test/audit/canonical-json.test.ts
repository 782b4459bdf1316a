import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalJson, CanonicalJsonError, RawJson } from '../../src/audit/canonical-json.js';

describe('canonicalJson', () => {
  it('sorts members, drops whitespace and serialises numbers as RFC 8785 §3.2.2.3 shows', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 0, y: -0 } })).toBe(
      '{"a":[true,null,"x"],"b":1,"c":{"y":0,"z":0}}',
    );
    // Number samples from RFC 8785 Appendix B.
    expect(canonicalJson([1e21, 1e-7, 0.000001, 333333333.3333333, 9007199254740992, 4.5, 2e-3])).toBe(
      '[1e+21,1e-7,0.000001,333333333.3333333,9007199254740992,4.5,0.002]',
    );
    expect(canonicalJson('\u20ac$\u000f\nA\'B"\\\\"/')).toBe('"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"');
  });

  it('orders member names by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const names = ['\u20ac', '\r', '\ufb33', '1', '\ud83d\ude00', '\u0080', '\u00f6'];
    const obj = Object.fromEntries(names.map((n) => [n, n]));
    const keys = Object.keys(JSON.parse(canonicalJson(obj)) as object);
    // Integer-like keys are re-ordered by JS objects on parse, so check the text order instead.
    expect(keys).toHaveLength(7);
    const text = canonicalJson(obj);
    const order = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'].map((k) =>
      text.indexOf(JSON.stringify(k) + ':'),
    );
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('converts Dates, skips undefined members, embeds RawJson verbatim', () => {
    expect(canonicalJson({ d: new Date(0), u: undefined, r: new RawJson('{"x":1}'), arr: [undefined] })).toBe(
      '{"arr":[null],"d":"1970-01-01T00:00:00.000Z","r":{"x":1}}',
    );
  });

  it('refuses values JSON cannot carry exactly', () => {
    expect(() => canonicalJson(NaN)).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ x: Infinity })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ x: 1n })).toThrow(/bigint/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/function/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/circular/);
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow(/deeper/);
    // Shared (non-cyclic) references are fine.
    const shared = { a: 1 };
    expect(canonicalJson([shared, shared])).toBe('[{"a":1},{"a":1}]');
  });

  it('is a JSON serialisation of the same value, independent of member order, and idempotent', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        expect(canonicalJson(JSON.parse(text))).toBe(text);
        if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
          const reversed = Object.fromEntries(Object.entries(value).reverse());
          expect(canonicalJson(reversed)).toBe(text);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('gives a typed error or a string for arbitrary values, never anything else', () => {
    fc.assert(
      fc.property(
        fc.anything({
          withBigInt: true,
          withDate: true,
          withMap: true,
          withTypedArray: true,
          withNullPrototype: true,
        }),
        (value) => {
          try {
            expect(typeof canonicalJson(value)).toBe('string');
          } catch (err) {
            expect(err).toBeInstanceOf(CanonicalJsonError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
