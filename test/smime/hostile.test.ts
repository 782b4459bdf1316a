/**
 * Bad input for verify and decrypt: mutated real signed/encrypted messages (fast-check), truncation, a million
 * parts, missing boundaries, nesting bombs, a wrong recipient. Every outcome is a verdict or a typed error with
 * one clear line, within a time bound; never a crash, hang or untyped exception.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SmimeDecryptError,
  decryptMessage,
  encryptMessage,
  openMessage,
  sendReadyMessage,
  signMessage,
  verifyMessage,
  type SmimeVerifyOptions,
} from '../../src/smime/index.js';
import { sampleMessage, startPki, type SmimePki } from './fixtures.js';

const VERDICTS = [
  'valid',
  'tampered',
  'untrusted',
  'revoked',
  'expired',
  'wrong-usage',
  'address-mismatch',
  'revocation-unknown',
  'no-signature',
  'malformed',
];

describe('hostile and damaged messages', () => {
  let pki: SmimePki;
  let opts: SmimeVerifyOptions;
  const samples: Record<string, Buffer> = {};

  beforeAll(async () => {
    pki = await startPki();
    const { alice, bob } = pki.users;
    opts = { trustAnchors: [pki.rootDer], revocation: { mode: 'off', onUnreachable: 'soft-fail' } };
    const signer = { signer: alice.signing.credential };
    const recipients = [{ certificate: bob.encryption.credential.certificate }];
    samples.multipart = await signMessage(sampleMessage(), signer);
    samples.opaque = await signMessage(sampleMessage(), { ...signer, format: 'opaque' });
    samples.encrypted = await encryptMessage(sampleMessage(), { recipients, includeSender: false });
    samples.ready = await sendReadyMessage(sampleMessage(), { ...signer, recipients, includeSender: false });
  }, 60_000);
  afterAll(async () => pki?.close());

  /** A mutation of a real message: flipped bytes, a cut, a duplicated or deleted range, CRLF → LF. */
  const mutation = (length: number) =>
    fc.oneof(
      fc.record({
        kind: fc.constant('flip' as const),
        at: fc.nat(length - 1),
        xor: fc.integer({ min: 1, max: 255 }),
      }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(length - 1) }),
      fc.record({
        kind: fc.constant('delete' as const),
        at: fc.nat(length - 1),
        n: fc.integer({ min: 1, max: 200 }),
      }),
      fc.record({
        kind: fc.constant('dup' as const),
        at: fc.nat(length - 1),
        n: fc.integer({ min: 1, max: 200 }),
      }),
      fc.record({ kind: fc.constant('lf' as const), at: fc.nat(length - 1) }),
    );

  function mutate(m: Buffer, mu: { kind: string; at: number; xor?: number; n?: number }): Buffer {
    const copy = Buffer.from(m);
    switch (mu.kind) {
      case 'flip':
        copy[mu.at] = (copy[mu.at] as number) ^ (mu.xor as number);
        return copy;
      case 'cut':
        return copy.subarray(0, mu.at);
      case 'delete':
        return Buffer.concat([copy.subarray(0, mu.at), copy.subarray(mu.at + (mu.n as number))]);
      case 'dup':
        return Buffer.concat([copy.subarray(0, mu.at + (mu.n as number)), copy.subarray(mu.at)]);
      default:
        return Buffer.concat([
          copy.subarray(0, mu.at),
          Buffer.from(copy.subarray(mu.at).toString('latin1').replace(/\r\n/g, '\n'), 'latin1'),
        ]);
    }
  }

  for (const name of ['multipart', 'opaque', 'ready'] as const) {
    it(`verify/open of mutated ${name} messages: a verdict, never a crash`, async () => {
      const message = samples[name] as Buffer;
      const original = (await verifyMessage(message, opts)).content;
      await fc.assert(
        fc.asyncProperty(mutation(message.length), async (mu) => {
          const damaged = mutate(message, mu);
          if (name === 'ready') {
            try {
              const opened = await openMessage(damaged, {
                ...opts,
                keys: [pki.users.bob.encryption.credential],
              });
              expect(VERDICTS).toContain(opened.verification.verdict);
            } catch (e) {
              expect(e).toBeInstanceOf(SmimeDecryptError);
            }
            return;
          }
          const v = await verifyMessage(damaged, opts);
          expect(VERDICTS).toContain(v.verdict);
          // A mutation may hit a byte nobody signed (an outer header, the preamble): then the content is intact.
          if (v.verdict === 'valid') expect(v.content?.equals(original as Buffer)).toBe(true);
        }),
        { numRuns: 60 },
      );
    }, 60_000);
  }

  it('decrypt of mutated encrypted messages: the content or a SmimeDecryptError', async () => {
    const message = samples.encrypted as Buffer;
    await fc.assert(
      fc.asyncProperty(mutation(message.length), async (mu) => {
        try {
          const d = await decryptMessage(mutate(message, mu), [pki.users.bob.encryption.credential]);
          expect(d.message.length).toBeGreaterThan(0);
        } catch (e) {
          expect(e).toBeInstanceOf(SmimeDecryptError);
          expect((e as Error).message.split('\n')).toHaveLength(1);
        }
      }),
      { numRuns: 80 },
    );
  }, 60_000);

  it('random bytes: malformed or no-signature; decrypt says what is wrong', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (bytes) => {
        const v = await verifyMessage(Buffer.from(bytes), opts);
        expect(['malformed', 'no-signature']).toContain(v.verdict);
        await expect(
          decryptMessage(Buffer.from(bytes), [pki.users.bob.encryption.credential]),
        ).rejects.toBeInstanceOf(SmimeDecryptError);
      }),
      { numRuns: 100 },
    );
  });

  it('a million parts, missing boundaries, nesting bombs, a wrong recipient: specific answers, quickly', async () => {
    const started = Date.now();
    const million = Buffer.concat([
      Buffer.from(
        'From: a@bank.example\r\nContent-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=b\r\n\r\n',
      ),
      Buffer.alloc(1_000_000 * 7, '--b\r\n\r\n'),
    ]);
    const bomb = Buffer.from('Content-Type: message/rfc822\r\n\r\n'.repeat(5000) + 'hello\r\n');
    const multipartBomb = Buffer.from(
      Array.from(
        { length: 2000 },
        (_, i) => `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`,
      ).join(''),
    );
    const noBoundary = Buffer.from(
      'Content-Type: multipart/signed; protocol="application/pkcs7-signature"\r\n\r\nno parts here\r\n',
    );
    const signedNoSig = Buffer.from(
      'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--\r\n',
    );
    for (const m of [million, bomb, multipartBomb]) {
      const v = await verifyMessage(m, opts);
      expect(v.verdict).toBe('malformed');
      expect(v.checks[0]?.detail).toMatch(/parts|nesting|deeper/);
      await expect(decryptMessage(m, [pki.users.bob.encryption.credential])).rejects.toThrow(
        /cannot be parsed/,
      );
    }
    for (const m of [noBoundary, signedNoSig])
      expect((await verifyMessage(m, opts)).verdict).toBe('malformed');
    expect(Date.now() - started).toBeLessThan(15_000);

    await expect(
      decryptMessage(samples.encrypted as Buffer, [pki.users.carol.encryption.credential]),
    ).rejects.toThrow(/no recipient matches any of the given keys/);
    await expect(
      decryptMessage(samples.multipart as Buffer, [pki.users.bob.encryption.credential]),
    ).rejects.toThrow(/verify it instead/);
  }, 30_000);
});
