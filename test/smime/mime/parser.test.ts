import { describe, expect, it } from 'vitest';
import {
  MimeLimitError,
  decodeBody,
  decodeHeaderWords,
  headerValue,
  parseContentType,
  parseMime,
  parseParameterized,
  partBytes,
} from '../../../src/smime/mime/index.js';

const text = (raw: Buffer, range: { start: number; end: number }): string =>
  raw.subarray(range.start, range.end).toString('latin1');

const SAMPLE = [
  'From: Alice <alice@example.com>',
  'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= =?UTF-8?B?IGF1cyBCZXJsaW4=?=',
  'Content-Type: multipart/mixed;',
  '\tboundary="outer b"; (a comment) charset=x',
  '',
  'preamble text',
  '--outer b',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'caf=C3=A9 soft=',
  'break',
  '--outer b  \t',
  'Content-Type: application/octet-stream;',
  " name*0*=utf-8''%E2%82%AC;",
  ' name*1="-report.pdf"',
  'Content-Transfer-Encoding: base64',
  '',
  'AAEC',
  'AwQF',
  '--outer b--',
  'epilogue',
  '',
].join('\r\n');

describe('parseMime', () => {
  it('parses a multipart with folded headers, RFC 2231 parameters, padding and preamble/epilogue', () => {
    const raw = Buffer.from(SAMPLE, 'latin1');
    const root = parseMime(raw);
    expect(root.contentType.mediaType).toBe('multipart/mixed');
    expect(root.contentType.params['boundary']).toBe('outer b');
    expect(root.warnings).toEqual([]);
    expect(decodeHeaderWords(headerValue(root, 'subject') ?? '')).toBe('Grüße aus Berlin');
    expect(text(raw, root.preamble!)).toBe('preamble text');
    expect(text(raw, root.epilogue!)).toBe('epilogue\r\n');
    const [first, second] = root.children!;
    expect(decodeBody(raw, first!).toString('utf8')).toBe('café softbreak');
    expect(second!.contentType.params['name']).toBe('€-report.pdf');
    expect([...decodeBody(raw, second!)]).toEqual([0, 1, 2, 3, 4, 5]);
    // The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
    expect(partBytes(raw, second!).toString('latin1').endsWith('AwQF')).toBe(true);
    expect(partBytes(raw, first!).toString('latin1')).toBe(
      'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 soft=\r\nbreak',
    );
  });

  it('gives the same tree for LF-only and mixed line endings, with offsets into the one buffer', () => {
    const lf = Buffer.from(SAMPLE.replace(/\r\n/g, '\n'), 'latin1');
    const mixed = Buffer.from(
      SAMPLE.split('\r\n')
        .map((line, i) => line + (i % 2 ? '\n' : '\r\n'))
        .join(''),
      'latin1',
    );
    for (const raw of [lf, mixed]) {
      const root = parseMime(raw);
      expect(root.children).toHaveLength(2);
      expect(root.children![1]!.contentType.params['name']).toBe('€-report.pdf');
      expect([...decodeBody(raw, root.children![1]!)]).toEqual([0, 1, 2, 3, 4, 5]);
      expect(decodeBody(raw, root.children![0]!).toString('utf8')).toBe('café softbreak');
    }
  });

  it('records a warning and keeps the rest as the last part when the closing boundary is missing', () => {
    const raw = Buffer.from(
      'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n',
    );
    const root = parseMime(raw);
    expect(root.children!.map((c) => decodeBody(raw, c).toString())).toEqual(['one', 'two\r\n']);
    expect(root.warnings.map((w) => w.message).join()).toMatch(/closing delimiter/);
  });

  it('does not take "--boundary" inside a line, or a longer boundary, for a delimiter', () => {
    const raw = Buffer.from('Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx --b\n--bb\n--b-\n--b--\n');
    const root = parseMime(raw);
    expect(root.children).toHaveLength(1);
    expect(decodeBody(raw, root.children![0]!).toString()).toBe('x --b\n--bb\n--b-');
  });

  it('parses message/rfc822 bodies as nested messages and defaults multipart/digest children to it', () => {
    const raw = Buffer.from(
      'Content-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: text/html\r\n\r\n<p>x</p>',
    );
    const root = parseMime(raw);
    expect(headerValue(root.children![0]!, 'subject')).toBe('inner');
    expect(root.children![0]!.contentType.mediaType).toBe('text/html');
  });

  it('treats header lines that are not fields as the body start, with a warning', () => {
    const raw = Buffer.from('Subject: x\r\nthis is not a header\r\nmore\r\n');
    const root = parseMime(raw);
    expect(text(raw, root.bodyRange)).toBe('this is not a header\r\nmore\r\n');
    expect(root.warnings).toHaveLength(1);
  });
});

describe('limits', () => {
  it('rejects a 10 MB header line quickly and accepts a 10 MB body line', () => {
    const long = 'x'.repeat(10 * 1024 * 1024);
    const started = Date.now();
    expect(() => parseMime(Buffer.from(`Subject: ${long}\r\n\r\nbody`))).toThrow(MimeLimitError);
    const root = parseMime(Buffer.from(`Subject: y\r\n\r\n${long}`));
    expect(root.bodyRange.end - root.bodyRange.start).toBe(long.length);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('stops a million tiny parts at the parts cap', () => {
    const raw = Buffer.from(
      'Content-Type: multipart/mixed; boundary=b\r\n\r\n' + '--b\r\n\r\n'.repeat(1_000_000) + '--b--\r\n',
    );
    const started = Date.now();
    expect(() => parseMime(raw)).toThrow(/more than 10000 MIME parts/);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(parseMime(raw.subarray(0, 200), { maxParts: 100 }).children!.length).toBeGreaterThan(10);
  });

  it('stops a 100k-deep nesting attempt at the depth limit', () => {
    const levels = Array.from(
      { length: 100_000 },
      (_, i) => `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`,
    );
    const raw = Buffer.from(levels.join(''));
    const started = Date.now();
    expect(() => parseMime(raw)).toThrow(/nesting deeper than 32/);
    const rfc822 = Buffer.from('Content-Type: message/rfc822\r\n\r\n'.repeat(100_000));
    expect(() => parseMime(rfc822)).toThrow(/nesting deeper than 32/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('stays linear when thousands of parts lack their own delimiters or header colons', () => {
    const child = 'Content-Type: multipart/mixed; boundary=zz\r\n\r\n' + 'x'.repeat(500) + '\r\n';
    const noColon = 'no colon here ' + 'y'.repeat(500) + '\r\n';
    const raw = Buffer.from(
      'Content-Type: multipart/mixed; boundary=b\r\n\r\n' +
        ('--b\r\n' + child + '--b\r\n' + noColon).repeat(4000) +
        '--b--\r\n--zz\r\n',
    );
    const started = Date.now();
    const root = parseMime(raw);
    expect(root.children).toHaveLength(8000);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('applies the header count, total size and boundary length limits', () => {
    const many = Buffer.from('X-A: 1\r\n'.repeat(1001) + '\r\n');
    expect(() => parseMime(many)).toThrow(/more than 1000 header fields/);
    expect(() => parseMime(Buffer.alloc(100), { maxTotalBytes: 10 })).toThrow(MimeLimitError);
    const longBoundary = Buffer.from(`Content-Type: multipart/mixed; boundary="${'a'.repeat(71)}"\r\n\r\n`);
    expect(() => parseMime(longBoundary)).toThrow(/boundary is 71 characters/);
  });
});

describe('header values', () => {
  it('parses Content-Type defaults and parameters', () => {
    expect(parseContentType(undefined)).toMatchObject({
      mediaType: 'text/plain',
      params: { charset: 'us-ascii' },
    });
    expect(parseContentType('garbage')).toMatchObject({ mediaType: 'text/plain' });
    expect(
      parseContentType('Application/PKCS7-MIME; smime-type="enveloped-data"; Name=smime.p7m'),
    ).toMatchObject({
      type: 'application',
      subtype: 'pkcs7-mime',
      params: { 'smime-type': 'enveloped-data', name: 'smime.p7m' },
    });
    expect(parseParameterized('attachment; filename="a \\"q\\".txt"').params['filename']).toBe('a "q".txt');
    expect(parseParameterized("attachment; filename*=iso-8859-1'en'%E9t%E9.txt").params['filename']).toBe(
      'été.txt',
    );
  });

  it('decodes RFC 2047 words in Q and B, drops whitespace between words, keeps malformed ones', () => {
    expect(decodeHeaderWords('=?iso-8859-1?q?caf=E9_au_lait?=')).toBe('café au lait');
    expect(decodeHeaderWords('a =?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?= b')).toBe('a éé b');
    expect(decodeHeaderWords('=?bogus?x?abc?= plain')).toBe('=?bogus?x?abc?= plain');
  });
});
