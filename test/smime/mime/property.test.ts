// Random and mutated messages: the parser either returns a tree whose ranges stay inside the input
// or throws a MimeError subclass — never anything else, and never slowly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MimeError,
  classifySmime,
  decodeBody,
  decodeHeaderWords,
  parseMime,
  partBytes,
  readProtectedHeaders,
  toSevenBitSafe,
} from '../../../src/smime/mime/index.js';
import type { MimePart } from '../../../src/smime/mime/index.js';

const SEED = [
  'From: a@example.com',
  'Subject: =?utf-8?q?hi?=',
  'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="b1"',
  '',
  'preamble',
  '--b1',
  'Content-Type: multipart/mixed; boundary=b2',
  '',
  '--b2',
  'Content-Type: text/plain; charset=utf-8; hp="cipher"',
  'Content-Transfer-Encoding: quoted-printable',
  'HP-Outer: Subject: [...]',
  '',
  'caf=C3=A9',
  '--b2',
  'Content-Type: message/rfc822',
  '',
  'Subject: inner',
  '',
  'body',
  '--b2--',
  '--b1',
  'Content-Type: application/pkcs7-signature; name=smime.p7s',
  'Content-Transfer-Encoding: base64',
  '',
  'MIIB',
  '--b1--',
  '',
].join('\r\n');

function walk(raw: Buffer, part: MimePart): void {
  for (const range of [part.range, part.headerRange, part.bodyRange, part.preamble, part.epilogue]) {
    if (!range) continue;
    expect(range.start).toBeGreaterThanOrEqual(0);
    expect(range.end).toBeLessThanOrEqual(raw.length);
    expect(range.start).toBeLessThanOrEqual(range.end);
  }
  partBytes(raw, part);
  decodeBody(raw, part);
  classifySmime(part);
  readProtectedHeaders(part, part.headers);
  for (const field of part.headers) decodeHeaderWords(field.value);
  for (const child of part.children ?? []) walk(raw, child);
}

function exercise(raw: Buffer): void {
  const started = performance.now();
  try {
    const root = parseMime(raw, { maxParts: 500, maxDepth: 8 });
    walk(raw, root);
    toSevenBitSafe(raw, { maxParts: 500, maxDepth: 8 });
  } catch (error) {
    if (!(error instanceof MimeError)) throw error;
    expect(error.message.length).toBeGreaterThan(10);
  }
  expect(performance.now() - started).toBeLessThan(1000);
}

const seed = Buffer.from(SEED, 'latin1');

const mutation = fc.oneof(
  // Replace a byte range with random bytes.
  fc.record({
    kind: fc.constant('replace' as const),
    at: fc.nat(),
    len: fc.nat({ max: 20 }),
    data: fc.uint8Array({ maxLength: 20 }),
  }),
  // Drop a range (missing boundaries, truncated headers).
  fc.record({
    kind: fc.constant('delete' as const),
    at: fc.nat(),
    len: fc.nat({ max: 40 }),
    data: fc.constant(new Uint8Array()),
  }),
  // Insert MIME-significant tokens.
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    len: fc.constant(0),
    data: fc
      .constantFrom(
        '\r\n',
        '\n',
        '\r',
        '--b1',
        '--b2--',
        '\r\n\r\n',
        ': ',
        '=?',
        '?=',
        ' ',
        '"',
        ';',
        '*0*=',
        "utf-8''%",
        '=\r\n',
        'Content-Type: multipart/mixed; boundary=b1\r\n\r\n',
      )
      .map((s) => Buffer.from(s, 'latin1')),
  }),
);

function mutate(
  base: Buffer,
  steps: Array<{ kind: string; at: number; len: number; data: Uint8Array }>,
): Buffer {
  let out = base;
  for (const step of steps) {
    const at = step.at % (out.length + 1);
    const len = step.kind === 'insert' ? 0 : step.len;
    out = Buffer.concat([
      out.subarray(0, at),
      Buffer.from(step.data),
      out.subarray(Math.min(out.length, at + len)),
    ]);
  }
  return out;
}

describe('MIME parser under random and mutated input', () => {
  it('random bytes give a tree or a MimeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4000 }), (data) => exercise(Buffer.from(data))),
      { numRuns: 300 },
    );
  });

  it('mutated S/MIME messages (missing boundaries, mixed endings, broken headers) give a tree or a MimeError', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 8 }), (steps) =>
        exercise(mutate(seed, steps)),
      ),
      { numRuns: 500 },
    );
  });

  it('line-ending shuffles of the seed keep the same structure', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('\r\n', '\n'), { minLength: 40, maxLength: 40 }), (endings) => {
        const lines = SEED.split('\r\n');
        const raw = Buffer.from(
          lines.map((line, i) => line + (i < lines.length - 1 ? endings[i % endings.length] : '')).join(''),
          'latin1',
        );
        const root = parseMime(raw);
        expect(classifySmime(root)).toBe('multipart-signed');
        expect(root.children).toHaveLength(2);
        expect(root.children![0]!.children).toHaveLength(2);
        expect(decodeBody(raw, root.children![0]!.children![0]!).toString('utf8')).toBe('café');
      }),
      { numRuns: 100 },
    );
  });

  it('nesting bombs of every shape end in a MimeLimitError quickly', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('multipart/mixed', 'message/rfc822', 'multipart/signed'), {
          minLength: 40,
          maxLength: 60,
        }),
        (types) => {
          const raw = Buffer.from(
            types
              .map((type, i) =>
                type === 'message/rfc822'
                  ? 'Content-Type: message/rfc822\r\n\r\n'
                  : `Content-Type: ${type}; boundary=x${i}\r\n\r\n--x${i}\r\n`,
              )
              .join(''),
          );
          expect(() => parseMime(raw)).toThrow(/nesting deeper/);
        },
      ),
      { numRuns: 50 },
    );
  });
});
