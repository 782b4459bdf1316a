import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import {
  OBSCURED_SUBJECT,
  buildPkcs7Mime,
  classifySmime,
  decodeBody,
  parseMime,
  readProtectedHeaders,
  outerHeaders,
  wrapWithProtectedHeaders,
} from '../../../src/smime/mime/index.js';

const MESSAGE = Buffer.from(
  [
    'From: Alice <alice@bank.example>',
    'To: Bob <bob@example.com>',
    'Cc: carol@example.com',
    'Bcc: audit@bank.example',
    'Subject: Your loan decision',
    'Date: Sat, 28 Nov 2026 07:00:00 +0000',
    'Message-ID: <1@bank.example>',
    'In-Reply-To: <0@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 7bit',
    '',
    'Approved.',
    '',
  ].join('\r\n'),
);

describe('RFC 9788 header protection', () => {
  it('hp="cipher": the payload carries the real fields and HP-Outer records of the obscured outside', () => {
    const payload = wrapWithProtectedHeaders(MESSAGE, 'cipher');
    const inner = parseMime(payload);
    expect(inner.contentType.params).toMatchObject({ charset: 'utf-8', hp: 'cipher' });
    expect(decodeBody(payload, inner).toString()).toBe('Approved.\r\n');
    const outer = outerHeaders(MESSAGE, 'cipher');
    expect(outer.get('subject')).toBe(OBSCURED_SUBJECT);
    expect(outer.get('from')).toBe('Alice <alice@bank.example>');
    expect(outer.get('bcc')).toBeUndefined();
    const view = readProtectedHeaders(inner, parseMime(outer.join(Buffer.from('\r\n'))).headers);
    expect(view.source).toBe('protected');
    expect(view.headers.find((h) => h.name === 'Subject')?.value).toBe('Your loan decision');
    expect(view.headers.map((h) => h.name)).not.toContain('Bcc');
    expect(view.hpOuter).toContainEqual({ name: 'Subject', value: '[...]' });
    expect(view.hpOuter).toContainEqual({ name: 'Message-ID', value: '<1@bank.example>' });
    expect(view.confidential).toEqual(['Subject']);
    expect(view.hpOuter.map((h) => h.name)).toEqual([
      'From',
      'To',
      'Cc',
      'Subject',
      'Date',
      'Message-ID',
      'In-Reply-To',
    ]);
  });

  it('the encrypted message as sent shows "[...]" to a legacy reader (mailparser)', async () => {
    const payload = wrapWithProtectedHeaders(MESSAGE, 'cipher');
    const sent = buildPkcs7Mime({
      der: payload /* stands in for the EnvelopedData */,
      smimeType: 'enveloped-data',
      headers: outerHeaders(MESSAGE, 'cipher').entries(),
    });
    expect(classifySmime(parseMime(sent))).toBe('pkcs7-enveloped');
    const legacy = await simpleParser(sent);
    expect(legacy.subject).toBe('[...]');
    expect(legacy.messageId).toBe('<1@bank.example>');
    // And the payload itself, read by mailparser, shows the protected subject.
    expect((await simpleParser(payload)).subject).toBe('Your loan decision');
  });

  it('hp="clear": signed-only keeps the outside unchanged and writes no HP-Outer', () => {
    const payload = wrapWithProtectedHeaders(MESSAGE, 'clear');
    expect(payload.toString()).not.toContain('HP-Outer');
    const inner = parseMime(payload);
    expect(inner.contentType.params['hp']).toBe('clear');
    expect(outerHeaders(MESSAGE, 'clear').get('subject')).toBe('Your loan decision');
    const view = readProtectedHeaders(inner, []);
    expect(view).toMatchObject({ hp: 'clear', source: 'protected', confidential: [] });
  });

  it('prefers the inner fields over tampered outer ones, and uses the outer ones without hp', () => {
    const inner = parseMime(wrapWithProtectedHeaders(MESSAGE, 'clear'));
    const tampered = [{ name: 'Subject', value: 'Your loan was denied', range: { start: 0, end: 0 } }];
    expect(readProtectedHeaders(inner, tampered).headers.find((h) => h.name === 'Subject')?.value).toBe(
      'Your loan decision',
    );
    const legacyInner = parseMime(Buffer.from('Content-Type: text/plain\r\n\r\nx'));
    const view = readProtectedHeaders(legacyInner, tampered);
    expect(view).toMatchObject({ hp: undefined, source: 'outer' });
    expect(view.headers[0]?.value).toBe('Your loan was denied');
  });
});

describe('RFC 9788 hcp_baseline and HP-Outer details', () => {
  const INFORMATIONAL = Buffer.from(
    [
      'From: Alice <alice@bank.example>',
      'To: Bob <bob@example.com>',
      'Subject: Merger',
      'Keywords: acquisition, confidential',
      'Comments: draft 3 of the term sheet',
      'Message-ID: <2@bank.example>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain',
      '',
      'Terms attached.',
      '',
    ].join('\r\n'),
  );

  it('§3.2.1: hp="cipher" removes Comments and Keywords from the outside, keeps them inside', () => {
    const outer = outerHeaders(INFORMATIONAL, 'cipher');
    expect(outer.get('keywords')).toBeUndefined();
    expect(outer.get('comments')).toBeUndefined();
    expect(outer.get('subject')).toBe(OBSCURED_SUBJECT);
    expect(outer.get('message-id')).toBe('<2@bank.example>');
    expect(outer.get('mime-version')).toBe('1.0');
    const inner = parseMime(wrapWithProtectedHeaders(INFORMATIONAL, 'cipher'));
    const view = readProtectedHeaders(inner);
    expect(view.headers.find((h) => h.name === 'Keywords')?.value).toBe('acquisition, confidential');
    expect(view.headers.find((h) => h.name === 'Comments')?.value).toBe('draft 3 of the term sheet');
    // §2.2: no HP-Outer for a removed field, so the reader sees it was made confidential (§4.3.1).
    expect(view.hpOuter.map((h) => h.name)).toEqual(['From', 'To', 'Subject', 'Message-ID']);
    expect(view.confidential).toEqual(['Subject', 'Keywords', 'Comments']);
  });

  it('§5.2.1 step 4: hp="clear" exposes Comments and Keywords unchanged', () => {
    const outer = outerHeaders(INFORMATIONAL, 'clear');
    expect(outer.get('keywords')).toBe('acquisition, confidential');
    expect(outer.get('comments')).toBe('draft 3 of the term sheet');
  });

  it('§2.2: an HP-Outer already in the input is neither exposed nor carried into the new payload', () => {
    const stale = Buffer.concat([Buffer.from('HP-Outer: Cc: eve@example.org\r\n'), INFORMATIONAL]);
    for (const mode of ['cipher', 'clear'] as const) {
      expect(outerHeaders(stale, mode).get('hp-outer')).toBeUndefined();
    }
    expect(wrapWithProtectedHeaders(stale, 'clear').toString()).not.toContain('HP-Outer');
    const view = readProtectedHeaders(parseMime(wrapWithProtectedHeaders(stale, 'cipher')));
    expect(view.hpOuter.map((h) => h.name)).not.toContain('Cc');
    expect(view.headers.map((h) => h.name.toLowerCase())).not.toContain('hp-outer');
  });
});

describe('classifySmime', () => {
  const classify = (headers: string): string =>
    classifySmime(parseMime(Buffer.from(`${headers}\r\n\r\nMIIB`)));
  it('recognises the labels real clients send', () => {
    expect(
      classify('Content-Type: application/x-pkcs7-mime; smime-type=enveloped-data; name=smime.p7m'),
    ).toBe('pkcs7-enveloped');
    expect(classify('Content-Type: application/pkcs7-mime; smime-type=signed-data')).toBe(
      'pkcs7-signed-data',
    );
    expect(classify('Content-Type: application/pkcs7-mime; smime-type=authEnveloped-data')).toBe(
      'pkcs7-auth-enveloped',
    );
    expect(classify('Content-Type: application/pkcs7-mime; name=smime.p7m')).toBe('pkcs7-unknown');
    expect(classify('Content-Type: application/octet-stream; name="SMIME.P7M"')).toBe('pkcs7-unknown');
    expect(
      classify(
        'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=smime.p7m',
      ),
    ).toBe('pkcs7-unknown');
    expect(
      classify('Content-Type: application/octet-stream; name=smime.p7m; smime-type=enveloped-data'),
    ).toBe('pkcs7-enveloped');
    expect(classify('Content-Type: application/octet-stream; name=smime.p7s')).toBe('pkcs7-unknown');
    expect(classify('Content-Type: application/octet-stream; name=certs.p7c')).toBe('pkcs7-unknown');
    expect(classify('Content-Type: application/octet-stream; name=report.pdf')).toBe('none');
    expect(classify('Content-Type: multipart/signed; protocol="application/pgp-signature"; boundary=x')).toBe(
      'none',
    );
    expect(
      classify('Content-Type: multipart/signed; protocol="application/x-pkcs7-signature"; boundary=x'),
    ).toBe('multipart-signed');
    expect(classify('Content-Type: text/plain')).toBe('none');
  });
});
