/**
 * openMessage peels layers without rebuilding the message between them: what it reports and returns must be
 * what decrypting, restoring and verifying step by step gives (From from the outer fields, or from RFC 9788
 * protected headers inside; the real header fields on the result).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptMessage, openMessage, sendReadyMessage, verifyMessage } from '../../src/smime/index.js';
import { sampleMessage, startPki, type SmimePki } from './fixtures.js';

describe('openMessage over sign-then-encrypt', () => {
  let pki: SmimePki;
  const trust = () => ({ trustAnchors: [pki.rootDer] });
  const sendReady = (message: Buffer, extra: { protectHeaders?: boolean } = {}) =>
    sendReadyMessage(message, {
      signer: pki.users.alice.signing.credential,
      recipients: [{ certificate: pki.users.bob.encryption.credential.certificate }],
      includeSender: false,
      ...extra,
    });
  const keys = () => [pki.users.bob.encryption.credential];

  beforeAll(async () => {
    pki = await startPki();
  }, 60_000);
  afterAll(async () => pki?.close());

  it('gives the same verdict and message as decrypting, then verifying the decrypted message', async () => {
    const sent = await sendReady(sampleMessage());
    const opened = await openMessage(sent, { ...trust(), keys: keys() });
    expect(opened.layers.map((l) => l.type)).toEqual(['encrypted', 'signed']);
    expect(opened.verification.verdict, JSON.stringify(opened.verification.checks)).toBe('valid');
    expect(opened.verification.from).toBe('alice@bank.example');

    const decrypted = await decryptMessage(sent, keys());
    const stepwise = await verifyMessage(decrypted.message, trust());
    expect(stepwise.verdict).toBe('valid');
    const text = opened.message.toString('utf8');
    for (const field of [
      'From: Alice <alice@bank.example>',
      'To: Bob <bob@bank.example>',
      'Message-ID: <m1@bank.example>',
    ])
      expect(text).toContain(field);
    expect(text).toContain('Content-Type: multipart/mixed');
    expect(text).not.toContain('application/pkcs7');
    expect(text).not.toContain('multipart/signed');
  });

  it('checks the outer From against the signer after decryption (address mismatch is caught)', async () => {
    const sent = await sendReady(sampleMessage('Boss <ceo@bank.example>'));
    const opened = await openMessage(sent, { ...trust(), keys: keys() });
    expect(opened.verification.verdict).toBe('address-mismatch');
    expect(opened.message.toString('utf8')).toContain('From: Boss <ceo@bank.example>');
  });

  it('with header protection, the protected From counts and the real Subject comes back', async () => {
    const sent = await sendReady(sampleMessage(), { protectHeaders: true });
    expect(sent.toString('utf8')).toMatch(/^Subject: \[\.\.\.\]\r$/m);
    const opened = await openMessage(sent, { ...trust(), keys: keys() });
    expect(opened.verification.verdict, JSON.stringify(opened.verification.checks)).toBe('valid');
    expect(opened.verification.from).toBe('alice@bank.example');
    const text = opened.message.toString('utf8');
    expect(text).not.toContain('[...]');
    expect(text).not.toContain('HP-Outer');
    expect(text).toMatch(/^Subject: =\?/m);
  });

  it('a From changed outside a header-protected message is reported, and the protected one is checked', async () => {
    const sent = (await sendReady(sampleMessage(), { protectHeaders: true }))
      .toString('latin1')
      .replace(/^From: .*$/m, 'From: Mallory <mallory@evil.example>\r');
    const opened = await openMessage(Buffer.from(sent, 'latin1'), { ...trust(), keys: keys() });
    expect(opened.verification.verdict).toBe('valid');
    expect(opened.verification.from).toBe('alice@bank.example');
    const warning = opened.verification.checks.find((c) => c.name === 'outer address');
    expect(warning?.detail).toContain('mallory@evil.example');
    expect(opened.message.toString('utf8')).toContain('From: Alice <alice@bank.example>');
  });
});
