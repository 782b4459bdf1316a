import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  OcspRequestError,
  OcspResponder,
  OcspResponseError,
  buildCertId,
  buildOcspRequest,
  ocspErrorResponse,
  parseOcspRequest,
  parseOcspResponse,
} from '../../src/pkix/ocsp.js';
import { HOSTILE, expectTypedOutcome, parserInputs } from './ocsp-tsp-fuzz.js';
import { makeInProcessPki, type InProcessPki } from './ocsp-tsp-oracle.js';

describe('OCSP parsers under random and mutated DER', () => {
  let pki: InProcessPki;
  let requests: Buffer[];
  let responses: Buffer[];

  beforeAll(async () => {
    pki = await makeInProcessPki();
    requests = [
      buildOcspRequest({ issuerCertificate: pki.root.der, serialHex: '01' }),
      buildOcspRequest({
        issuerCertificate: pki.root.der,
        serialHex: 'ff00aa',
        hash: 'sha256',
        nonce: randomBytes(16),
      }),
    ];
    const responder = new OcspResponder({
      issuerCertificate: pki.root.der,
      responderCertificate: pki.responder.der,
      responderKey: pki.responder.key,
      hash: 'sha256',
    });
    const now = new Date();
    const later = new Date(now.getTime() + 3600_000);
    const parsed = requests.map((r) => parseOcspRequest(r));
    responses = [
      await responder.sign([
        { certId: parsed[0]!.certIds[0]!, status: { status: 'good' }, thisUpdate: now, nextUpdate: later },
      ]),
      await responder.sign(
        [
          {
            certId: parsed[1]!.certIds[0]!,
            status: { status: 'revoked', revokedAt: now, reason: 'cACompromise' },
            thisUpdate: now,
            nextUpdate: later,
          },
        ],
        parsed[1]!.nonce,
      ),
      ocspErrorResponse('tryLater'),
    ];
  });

  it('servesIssuer matches CertIDs under SHA-1, SHA-256, SHA-384 and SHA-512', () => {
    const responder = new OcspResponder({
      issuerCertificate: pki.root.der,
      responderCertificate: pki.responder.der,
      responderKey: pki.responder.key,
      hash: 'sha256',
    });
    for (const hash of ['sha1', 'sha256', 'sha384', 'sha512'] as const) {
      const certId = buildCertId(pki.root.der, '0a0b', hash);
      const request = derSeq(derSeq(derSeq(derSeq(certId))));
      const parsed = parseOcspRequest(request).certIds[0]!;
      expect(parsed).toMatchObject({ hash, serialHex: '0a0b' });
      expect(responder.servesIssuer(parsed)).toBe(true);
      expect(
        responder.servesIssuer({ ...parsed, issuerKeyHash: Buffer.alloc(parsed.issuerKeyHash.length) }),
      ).toBe(false);
    }
  });

  it('the seeds are valid', () => {
    expect(parseOcspRequest(requests[1]!).certIds[0]?.serialHex).toBe('ff00aa');
    expect(parseOcspResponse(responses[1]!).signatureValid).toBe(true);
  });

  it('parseOcspRequest gives a result or OcspRequestError, quickly', () => {
    fc.assert(
      fc.property(parserInputs(requests), (input) =>
        expectTypedOutcome(() => parseOcspRequest(input), [OcspRequestError]),
      ),
      { numRuns: 1500 },
    );
  });

  it('parseOcspResponse gives a result or OcspResponseError, quickly', () => {
    fc.assert(
      fc.property(parserInputs(responses), (input) =>
        expectTypedOutcome(() => parseOcspResponse(input), [OcspResponseError]),
      ),
      { numRuns: 1500 },
    );
  });

  it('hostile shapes are refused with the typed errors', () => {
    for (const input of HOSTILE) {
      expect(() => parseOcspRequest(input)).toThrow(OcspRequestError);
      expect(() => parseOcspResponse(input)).toThrow(OcspResponseError);
    }
  });

  it('limits: more than 32 CertIDs and nonces over 128 bytes are malformedRequest', () => {
    const one = parseOcspRequest(requests[0]!).certIds[0]!.der;
    const wrap = (items: Buffer[], ext?: Buffer) => {
      const list = Buffer.concat(items.map((c) => Buffer.concat([Buffer.from([0x30, c.length]), c])));
      return derSeq(derSeq(derSeq(list), ...(ext ? [ext] : [])));
    };
    expect(parseOcspRequest(wrap(Array(32).fill(one))).certIds).toHaveLength(32);
    expect(() => parseOcspRequest(wrap(Array(33).fill(one)))).toThrow(/at most 32/);
    const nonceExt = (n: number) =>
      derTag(
        0xa2,
        derSeq(derSeq(Buffer.from('06092b0601050507300102', 'hex'), derTag(0x04, Buffer.alloc(n, 1)))),
      );
    expect(parseOcspRequest(wrap([one], nonceExt(128))).nonce).toHaveLength(128);
    expect(() => parseOcspRequest(wrap([one], nonceExt(129)))).toThrow(/nonce/);
  });
});

function derTag(tag: number, body: Buffer): Buffer {
  const len =
    body.length < 0x80
      ? Buffer.from([body.length])
      : Buffer.from([0x82, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const derSeq = (...parts: Buffer[]): Buffer => derTag(0x30, Buffer.concat(parts));
