import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PDF_LIMITS,
  PdfDict,
  PdfError,
  PdfName,
  PdfNumber,
  decodeFilters,
} from '../../src/pdf/index.js';
import type { PdfObject } from '../../src/pdf/index.js';
import { Lexer, NeedMoreData } from '../../src/pdf/lexer.js';
import { ObjectParser } from '../../src/pdf/parser.js';

function parse(text: string, base = 0): PdfObject {
  const lex = new Lexer(Buffer.from(text, 'latin1'), base, true, DEFAULT_PDF_LIMITS.maxStringBytes);
  return new ObjectParser(lex, DEFAULT_PDF_LIMITS).parseValue();
}

describe('object syntax (ISO 32000-2 §7.3)', () => {
  it('parses strings, names, numbers, references and keeps byte ranges and real text', () => {
    const src =
      '<< /A#20B (a\\(b\\)\\n\\101\\\nc\r\nd) /R -0.50 /H <41 42 4> /Ref 12 0 R /Arr [1 +3 .5 true null] >>';
    const d = parse(src, 100);
    if (d.kind !== 'dict') throw new Error('not a dict');
    expect(d.keys()).toEqual(['A B', 'R', 'H', 'Ref', 'Arr']);
    expect(d.get('A B')).toMatchObject({ kind: 'string', bytes: Buffer.from('a(b)\nAc\nd') });
    expect(d.get('R')).toMatchObject({ value: -0.5, isInteger: false, text: '-0.50' });
    expect(d.get('H')).toMatchObject({ kind: 'string', isHex: true, bytes: Buffer.from([0x41, 0x42, 0x40]) });
    expect(d.get('Ref')).toMatchObject({ kind: 'ref', num: 12, gen: 0 });
    const ref = d.get('Ref')!;
    expect(src.slice(ref.range!.start - 100, ref.range!.end - 100)).toBe('12 0 R');
    const arr = d.get('Arr');
    expect(arr?.kind === 'array' && arr.items.map((x) => x.kind)).toEqual([
      'number',
      'number',
      'number',
      'boolean',
      'null',
    ]);
    expect(d.range).toEqual({ start: 100, end: 100 + src.length });
  });

  it('asks for more data when a token runs past a window that is not the end of the file', () => {
    const lex = new Lexer(Buffer.from('<< /Key (unfinished'), 0, false, 1024);
    expect(() => new ObjectParser(lex, DEFAULT_PDF_LIMITS).parseValue()).toThrow(NeedMoreData);
  });

  it('random bytes give PdfError subclasses only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          parse(Buffer.from(bytes).toString('latin1'));
        } catch (e) {
          if (!(e instanceof PdfError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('filters (§7.4)', () => {
  const parms = (entries: Record<string, number>): PdfDict =>
    new PdfDict(new Map(Object.entries(entries).map(([k, v]) => [k, PdfNumber.int(v)])));
  const decode = (name: string, data: Buffer, p?: PdfDict): string =>
    decodeFilters(data, [{ name, ...(p ? { parms: p } : {}) }], DEFAULT_PDF_LIMITS).data.toString('latin1');

  it('LZW: the example of §7.4.4.2', () => {
    expect(decode('LZWDecode', Buffer.from('800B6050220C0C8501', 'hex'))).toBe('-----A---B');
  });
  it('ASCII85, ASCIIHex, RunLength', () => {
    expect(decode('ASCII85Decode', Buffer.from('9jqo^z/c~>'))).toBe('Man \0\0\0\0.'); // '/c' pads to 0x2e
    expect(decode('ASCIIHexDecode', Buffer.from('48 65 6c6C 6>'))).toBe('Hell`');
    expect(decode('RunLengthDecode', Buffer.from([2, 0x61, 0x62, 0x63, 254, 0x78, 128]))).toBe('abcxxx');
  });
  it('Flate with the PNG Up predictor, as in xref streams', () => {
    const rows = Buffer.from([2, 1, 2, 3, 2, 1, 1, 1]);
    const out = decodeFilters(
      deflateSync(rows),
      [{ name: 'FlateDecode', parms: parms({ Predictor: 12, Columns: 3 }) }],
      DEFAULT_PDF_LIMITS,
    );
    expect([...out.data]).toEqual([1, 2, 3, 2, 3, 4]);
  });
  it('leaves image codecs encoded and reports them', () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff]);
    const out = decodeFilters(
      Buffer.from('ffd8ff>'),
      [{ name: 'AHx' }, { name: 'DCTDecode' }],
      DEFAULT_PDF_LIMITS,
    );
    expect(out.data.equals(jpeg)).toBe(true);
    expect(out.undecoded).toEqual([{ name: 'DCTDecode' }]);
  });
  it('unknown filter names are a typed error', () => {
    expect(() => decode('NoSuchDecode', Buffer.alloc(1))).toThrow(/\/NoSuchDecode is not supported/);
    expect(new PdfName('x').value).toBe('x');
  });
});
