import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import {
  buildEntity,
  canonicalize,
  decodeBase64,
  decodeBase64Tolerant,
  decodeBody,
  decodeQuotedPrintable,
  base64LinesLength,
  encodeBase64Lines,
  encodeBase64LinesInto,
  encodeQuotedPrintable,
  headerValue,
  isSevenBitSafe,
  parseMime,
  toSevenBitSafe,
} from '../../../src/smime/mime/index.js';

const bytes = fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a));

describe('base64', () => {
  it('decodes what Node encodes, with whitespace anywhere, and encodes 76-column CRLF lines', () => {
    fc.assert(
      fc.property(bytes, fc.array(fc.nat(), { maxLength: 20 }), (data, cuts) => {
        let text = data.toString('base64');
        for (const cut of cuts) {
          const at = cut % (text.length + 1);
          text = text.slice(0, at) + ['\r\n', ' ', '\t', '\n'][cut % 4] + text.slice(at);
        }
        expect(decodeBase64(Buffer.from(text)).equals(data)).toBe(true);
        const lines = encodeBase64Lines(data).toString('latin1');
        expect(lines.split('\r\n').every((line) => line.length <= 76)).toBe(true);
        expect(Buffer.from(lines, 'base64').equals(data)).toBe(true);
      }),
    );
  });

  it('writes exactly the RFC 2045 form: full 76-character lines, a shorter last one, every line ending CRLF', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1000 }), (raw) => {
        const data = Buffer.from(raw);
        const expected = (data.toString('base64').match(/.{1,76}/g) ?? []).map((l) => `${l}\r\n`).join('');
        expect(encodeBase64Lines(data).toString('latin1')).toBe(expected);
      }),
    );
  });

  it('decodes any bytes exactly as the byte-by-byte reference does (junk ignored, the first pad ends the data)', () => {
    const alphabetHeavy = fc.array(
      fc.oneof(
        fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'),
        fc.constantFrom('=', '\r', '\n', ' ', '-', '_', '*', '\u0000', '\u00ff'),
      ),
      { maxLength: 200 },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          alphabetHeavy.map((c) => c.join('')),
          fc.string(),
        ),
        (text) => {
          const input = Buffer.from(text, 'latin1');
          expect(decodeBase64(input).toString('hex')).toBe(decodeBase64Tolerant(input).toString('hex'));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('base64 of large bodies (encoded and decoded in blocks)', () => {
  const lines = (data: Buffer, width: number) =>
    (data.toString('base64').match(new RegExp(`.{1,${width}}`, 'g')) ?? []).map((l) => `${l}\r\n`).join('');

  it('encodes across block boundaries exactly as one pass would', () => {
    for (const n of [57 * 1024 - 1, 57 * 1024, 57 * 1024 + 1, 57 * 3000 + 17]) {
      const data = randomBytes(n);
      expect(encodeBase64Lines(data).toString('latin1')).toBe(lines(data, 76));
    }
  });

  it('encodes a sequence of pieces into a buffer exactly as one call over their concatenation would', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(130_000), { minLength: 1, maxLength: 5 }), fc.nat(10), (sizes, offset) => {
        const pieces = sizes.map((n) => randomBytes(n % 3 === 0 ? n : n % 200)); // big and small, odd sizes
        const joined = Buffer.concat(pieces);
        const target = Buffer.alloc(offset + base64LinesLength(joined.length) + 3, 0x23);
        const end = encodeBase64LinesInto(target, offset, pieces);
        expect(end).toBe(offset + base64LinesLength(joined.length));
        expect(target.subarray(offset, end).equals(encodeBase64Lines(joined))).toBe(true);
        expect(target.subarray(0, offset).every((b) => b === 0x23)).toBe(true); // nothing written outside
        expect(target.subarray(end).every((b) => b === 0x23)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('decodes regular and damaged large bodies exactly as the byte-by-byte reference does', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 90_000, max: 400_000 }),
        fc.constantFrom(64, 76),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(' ', '=', '*', '\n', '', 'AB', '\r\n')), {
          maxLength: 3,
        }),
        (size, width, edits) => {
          let text = lines(randomBytes(size), width);
          for (const [at, insert] of edits) {
            const i = at % text.length;
            text =
              insert === ''
                ? text.slice(0, i) + text.slice(i + 1)
                : text.slice(0, i) + insert + text.slice(i);
          }
          const input = Buffer.from(text, 'latin1');
          expect(decodeBase64(input).equals(decodeBase64Tolerant(input))).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('quoted-printable', () => {
  it('round-trips random bytes, and mailparser decodes our encoding to the same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(bytes, async (data) => {
        const encoded = encodeQuotedPrintable(data);
        expect([...encoded].every((b) => b < 0x80)).toBe(true);
        expect(
          encoded
            .toString('latin1')
            .split('\r\n')
            .every((line) => line.length <= 76),
        ).toBe(true);
        expect(decodeQuotedPrintable(encoded).equals(data)).toBe(true);
        const message = buildEntity(
          [
            ['Content-Type', 'application/octet-stream; name=x.bin'],
            ['Content-Transfer-Encoding', 'quoted-printable'],
          ],
          encoded,
        );
        const parsed = await simpleParser(message);
        const content = parsed.attachments[0]?.content ?? Buffer.alloc(0);
        expect(content.equals(data)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('decodes like mailparser on arbitrary (even malformed) QP text', async () => {
    const qpText = fc
      .array(
        fc.constantFrom(
          'a',
          ' ',
          '=',
          '=4',
          '=41',
          '=4g',
          '\r\n',
          '\n',
          '=\r\n',
          '=\n',
          ' \r\n',
          '\t',
          'é',
          '=3D',
          '=e9',
        ),
        { maxLength: 60 },
      )
      .map((pieces) => pieces.join(''));
    await fc.assert(
      fc.asyncProperty(qpText, async (body) => {
        const message = Buffer.from(
          `Content-Type: application/octet-stream; name=x.bin\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${body}`,
          'utf8',
        );
        const ours = decodeBody(message, parseMime(message));
        const theirs = (await simpleParser(message)).attachments[0]?.content ?? Buffer.alloc(0);
        // Both drop trailing whitespace and soft breaks; we emit hard breaks as CRLF (canonical form),
        // mailparser keeps them as written, so compare with line breaks normalised.
        const normalise = (b: Buffer): string =>
          b.toString('latin1').replace(/\r\n/g, '\n').replace(/\n$/, '');
        expect(normalise(ours)).toBe(normalise(theirs));
      }),
      { numRuns: 100 },
    );
  });

  it('turns LF-only hard breaks into CRLF and drops transport padding', () => {
    expect(decodeQuotedPrintable(Buffer.from('\n\na=\nb  \n=41\n')).toString()).toBe('\r\n\r\nab\r\nA\r\n');
  });

  it('protects trailing whitespace, "From " and a leading dot', () => {
    const encoded = encodeQuotedPrintable(Buffer.from('From here \r\n.\r\ntab\t\r\nend ')).toString();
    expect(encoded).toBe('=46rom here=20\r\n=2E\r\ntab=09\r\nend=20');
  });
});

describe('canonicalize', () => {
  it('turns LF, CR and CRLF into CRLF and returns canonical input untouched', () => {
    expect(canonicalize(Buffer.from('a\nb\r\nc\rd\n')).toString()).toBe('a\r\nb\r\nc\r\nd\r\n');
    const already = Buffer.from('x\r\ny\r\n');
    expect(canonicalize(already)).toBe(already);
  });
});

describe('toSevenBitSafe', () => {
  it('re-encodes 8-bit text as QP, binary as base64, and leaves safe parts byte for byte', async () => {
    const binary = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 13) & 0xff));
    const entity = Buffer.concat([
      Buffer.from(
        'Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGrüße aus der Filiale, Ihr Auszug liegt bei.  \nFrom me\n--zz\nContent-Type: text/plain\n\nplain ascii\n--zz\nContent-Type: application/octet-stream; name=a.bin\nContent-Transfer-Encoding: binary\n\n',
        'utf8',
      ),
      binary,
      Buffer.from('\n--zz--\n'),
    ]);
    const safe = toSevenBitSafe(entity);
    expect([...safe].every((b) => b < 0x80)).toBe(true);
    expect(canonicalize(safe)).toBe(safe);
    const root = parseMime(safe);
    const [text, plain, bin] = root.children!;
    expect(headerValue(text!, 'content-transfer-encoding')).toBe('quoted-printable');
    expect(decodeBody(safe, text!).toString('utf8')).toBe(
      'Grüße aus der Filiale, Ihr Auszug liegt bei.  \r\nFrom me',
    );
    expect(safe.subarray(plain!.range.start, plain!.range.end).toString()).toBe(
      'Content-Type: text/plain\r\n\r\nplain ascii',
    );
    expect(headerValue(bin!, 'content-transfer-encoding')).toBe('base64');
    expect(decodeBody(safe, bin!).equals(binary)).toBe(true);
    const parsed = await simpleParser(safe);
    expect(parsed.text).toContain('Grüße');
    expect(parsed.attachments[0]!.content.equals(binary)).toBe(true);
  });

  it('knows what a relay could alter', () => {
    expect(isSevenBitSafe(Buffer.from('ok\r\nfine\r\n'))).toBe(true);
    expect(isSevenBitSafe(Buffer.from('trailing \r\n'))).toBe(false);
    expect(isSevenBitSafe(Buffer.from('x\r\nFrom y\r\n'))).toBe(false);
    expect(isSevenBitSafe(Buffer.from('bare\nlf'))).toBe(false);
    expect(isSevenBitSafe(Buffer.from('a'.repeat(999)))).toBe(false);
    expect(isSevenBitSafe(Buffer.from('é'))).toBe(false);
  });
});
