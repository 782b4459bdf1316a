// Every builder's output read back by our parser and by an independent one (mailparser).
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import {
  MessageHeaders,
  MimeBuildError,
  buildEntity,
  buildMultipart,
  buildMultipartSigned,
  buildPkcs7Mime,
  classifySmime,
  decodeBody,
  decodeHeaderWords,
  headerValue,
  parseMime,
  partBytes,
} from '../../../src/smime/mime/index.js';

const fakeDer = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 31 + 7) & 0xff));

function assertCrlfOnly(bytes: Buffer): void {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) expect(bytes[i - 1]).toBe(0x0d);
  }
}

function longestLine(bytes: Buffer): number {
  return Math.max(
    ...bytes
      .toString('latin1')
      .split('\r\n')
      .map((line) => line.length),
  );
}

describe('buildMultipartSigned', () => {
  const signedPart = buildMultipart(
    'mixed',
    [],
    [
      buildEntity([['Content-Type', 'text/plain; charset=utf-8']], Buffer.from('Grüße\r\n'), {
        transferEncoding: 'quoted-printable',
      }),
      buildEntity(
        [
          ['Content-Type', 'application/pdf; name="März.pdf"'],
          ['Content-Disposition', 'attachment; filename="Bericht März.pdf"'],
        ],
        Buffer.from('%PDF-1.7 binary \x00\xff', 'latin1'),
        { transferEncoding: 'base64' },
      ),
    ],
  );
  const message = buildMultipartSigned({
    signedPartBytes: signedPart,
    signatureDer: fakeDer,
    micalg: 'sha-256',
    headers: [
      ['From', 'Jörg Müller <joerg@example.com>'],
      ['To', 'bob@example.com'],
      ['Subject', 'Kontoauszug für März 2026 — bitte prüfen'],
      ['Content-Type', 'text/plain'],
    ],
  });

  it('is CRLF, 7-bit, RFC 8551 §3.5.3 shaped and returns the signed part byte for byte', () => {
    assertCrlfOnly(message);
    expect([...message].every((b) => b < 0x80)).toBe(true);
    expect(longestLine(message)).toBeLessThanOrEqual(78);
    const root = parseMime(message);
    expect(root.warnings).toEqual([]);
    expect(classifySmime(root)).toBe('multipart-signed');
    expect(root.contentType.params).toMatchObject({
      protocol: 'application/pkcs7-signature',
      micalg: 'sha-256',
    });
    const [signed, signature] = root.children!;
    expect(partBytes(message, signed!).equals(signedPart)).toBe(true);
    expect(signature!.contentType).toMatchObject({
      mediaType: 'application/pkcs7-signature',
      params: { name: 'smime.p7s' },
    });
    expect(headerValue(signature!, 'content-disposition')).toBe('attachment; filename=smime.p7s');
    expect(decodeBody(message, signature!).equals(fakeDer)).toBe(true);
    const pdf = signed!.children![1]!;
    expect(pdf.contentType.params['name']).toBe('März.pdf'); // RFC 2231 on the way out and back
    expect(decodeHeaderWords(headerValue(root, 'from')!)).toBe('Jörg Müller <joerg@example.com>');
    expect(headerValue(root, 'mime-version')).toBe('1.0');
  });

  it('reads the same with mailparser: headers, text, attachments', async () => {
    const parsed = await simpleParser(message);
    expect(parsed.subject).toBe('Kontoauszug für März 2026 — bitte prüfen');
    expect(parsed.from?.value[0]).toMatchObject({ name: 'Jörg Müller', address: 'joerg@example.com' });
    expect(parsed.text?.trim()).toBe('Grüße');
    const names = parsed.attachments.map((a) => a.filename);
    expect(names).toEqual(expect.arrayContaining(['Bericht März.pdf', 'smime.p7s']));
    expect(parsed.attachments.find((a) => a.filename === 'smime.p7s')!.content.equals(fakeDer)).toBe(true);
    expect(
      parsed.attachments.find((a) => a.filename === 'Bericht März.pdf')!.content.toString('latin1'),
    ).toBe('%PDF-1.7 binary \x00\xff');
  });

  it('refuses a signed part that is not canonical, and header injection', () => {
    expect(() =>
      buildMultipartSigned({
        signedPartBytes: Buffer.from('a\nb'),
        signatureDer: fakeDer,
        micalg: 'sha-256',
      }),
    ).toThrow(/canonicalize/);
    expect(() =>
      buildMultipartSigned({
        signedPartBytes: signedPart,
        signatureDer: fakeDer,
        micalg: 'sha-256',
        headers: { Subject: 'x\r\nBcc: evil@x' },
      }),
    ).toThrow(MimeBuildError);
    expect(() => buildEntity([['Bad Name', 'x']], Buffer.alloc(0))).toThrow(MimeBuildError);
  });

  it('picks a boundary that does not occur in the content', () => {
    const root = parseMime(message);
    const boundary = root.contentType.params['boundary']!;
    expect(signedPart.includes(boundary)).toBe(false);
    expect(boundary.length).toBeLessThanOrEqual(70);
  });
});

describe('buildPkcs7Mime', () => {
  for (const [smimeType, kind] of [
    ['enveloped-data', 'pkcs7-enveloped'],
    ['authEnveloped-data', 'pkcs7-auth-enveloped'],
    ['signed-data', 'pkcs7-signed-data'],
  ] as const) {
    it(`builds ${smimeType} that we and mailparser read back`, async () => {
      const message = buildPkcs7Mime({
        der: fakeDer,
        smimeType,
        headers: { From: 'a@example.com', Subject: 'x' },
      });
      assertCrlfOnly(message);
      expect(longestLine(message)).toBeLessThanOrEqual(76);
      const root = parseMime(message);
      expect(classifySmime(root)).toBe(kind);
      expect(root.contentType.params).toMatchObject({ 'smime-type': smimeType, name: 'smime.p7m' });
      expect(decodeBody(message, root).equals(fakeDer)).toBe(true);
      const parsed = await simpleParser(message);
      expect(parsed.attachments).toHaveLength(1);
      expect(parsed.attachments[0]!.filename).toBe('smime.p7m');
      expect(parsed.attachments[0]!.content.equals(fakeDer)).toBe(true);
    });
  }
});

describe('MessageHeaders', () => {
  const message = Buffer.from(
    'From: a@example.com\r\nTo: b@example.com\r\nSubject: folded\r\n subject\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nbody é\r\n',
  );

  it('splits outer fields from the MIME entity and joins them back to the same bytes', () => {
    const { outer, entity } = MessageHeaders.split(message);
    expect(outer.entries().map(([name]) => name)).toEqual(['From', 'To', 'Subject', 'MIME-Version']);
    expect(outer.get('subject')).toBe('folded subject');
    expect(entity.toString()).toBe(
      'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nbody é\r\n',
    );
    const joined = outer.join(entity);
    const reparsed = parseMime(joined);
    expect(headerValue(reparsed, 'content-type')).toBe('text/plain; charset=utf-8');
    expect(joined.length).toBe(message.length);
  });

  it('set/remove keep order and the join adds MIME-Version when missing', () => {
    const headers = MessageHeaders.from([
      ['From', 'a@example.com'],
      ['Subject', 'one'],
      ['To', 'b@example.com'],
    ]);
    headers.set('subject', 'two').remove('to');
    expect(headers.entries()).toEqual([
      ['From', 'a@example.com'],
      ['subject', 'two'],
    ]);
    expect(headers.join(Buffer.from('\r\nx')).toString()).toBe(
      'From: a@example.com\r\nsubject: two\r\nMIME-Version: 1.0\r\n\r\nx',
    );
  });
});
