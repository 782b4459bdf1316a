import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  TimeStampSigner,
  TspRequestError,
  TspResponseError,
  TspVerifyError,
  buildTimeStampRequest,
  parseTimeStampRequest,
  parseTimeStampResponse,
  timeStampRejection,
  verifyTimeStampToken,
} from '../../src/pkix/tsp.js';
import { explicit, integer, octetString, oid, sequence } from '../../src/pkix/der.js';
import { OID_ALG } from '../../src/pkix/oids.js';
import { HOSTILE, expectTypedOutcome, mutationsOf, parserInputs } from './ocsp-tsp-fuzz.js';
import { makeInProcessPki } from './ocsp-tsp-oracle.js';

const digest = (hash: 'sha256' | 'sha384' | 'sha512') => createHash(hash).update('data').digest();

describe('TSP parsers under random and mutated DER', () => {
  const requests = [
    buildTimeStampRequest({ hash: 'sha256', digest: digest('sha256') }),
    buildTimeStampRequest({
      hash: 'sha512',
      digest: digest('sha512'),
      policy: '1.2.3.4',
      nonce: Buffer.from('0102030405060708', 'hex'),
      certReq: true,
    }),
  ];
  let responses: Buffer[];
  let tokens: Buffer[];
  let tsaCertificate: Buffer;

  beforeAll(async () => {
    const pki = await makeInProcessPki();
    tsaCertificate = pki.tsa.der;
    const signer = new TimeStampSigner({
      certificate: pki.tsa.der,
      chain: [pki.root.der],
      key: pki.tsa.key,
      hash: 'sha256',
      policy: '1.2.3.4',
      accuracy: { millis: 250 },
    });
    responses = [
      await signer.sign(parseTimeStampRequest(requests[0]!), 1n, new Date()),
      await signer.sign(parseTimeStampRequest(requests[1]!), 2n ** 100n, new Date()),
      timeStampRejection('badAlg', 'no SHA-1'),
    ];
    tokens = responses.slice(0, 2).map((r) => parseTimeStampResponse(r).token!.token);
  });

  it('the seeds are valid', () => {
    expect(parseTimeStampRequest(requests[1]!)).toMatchObject({
      hash: 'sha512',
      reqPolicy: '1.2.3.4',
      certReq: true,
    });
    expect(verifyTimeStampToken(tokens[1]!, { digest: digest('sha512') }).serial).toBe(2n ** 100n);
  });

  it('parseTimeStampRequest gives a result or TspRequestError, quickly', () => {
    fc.assert(
      fc.property(parserInputs(requests), (input) =>
        expectTypedOutcome(() => parseTimeStampRequest(input), [TspRequestError]),
      ),
      { numRuns: 1500 },
    );
  });

  it('parseTimeStampResponse gives a result or TspResponseError, quickly', () => {
    fc.assert(
      fc.property(parserInputs(responses), (input) =>
        expectTypedOutcome(() => parseTimeStampResponse(input), [TspResponseError]),
      ),
      { numRuns: 1500 },
    );
  });

  it('verifyTimeStampToken on mutated tokens gives TspVerifyError, or the original TSTInfo', () => {
    const originals = tokens.map((t) => verifyTimeStampToken(t, { signerCertificate: tsaCertificate }));
    fc.assert(
      fc.property(mutationsOf(tokens), (input) => {
        let result: ReturnType<typeof verifyTimeStampToken> | undefined;
        expectTypedOutcome(
          () => (result = verifyTimeStampToken(input, { signerCertificate: tsaCertificate })),
          [TspVerifyError],
        );
        // A mutation can only verify if it left the signed bytes alone (e.g. it edited an unsigned certificate slot).
        if (result) {
          const same = originals.some(
            (o) => o.serial === result!.serial && o.messageImprint.equals(result!.messageImprint),
          );
          expect(same).toBe(true);
        }
      }),
      { numRuns: 800 },
    );
  });

  it('hostile shapes are refused with the typed errors', () => {
    for (const input of HOSTILE) {
      expect(() => parseTimeStampRequest(input)).toThrow(TspRequestError);
      expect(() => parseTimeStampResponse(input)).toThrow(TspResponseError);
      expect(() => verifyTimeStampToken(input, {})).toThrow(TspVerifyError);
    }
  });

  it('request rules: imprint length → badDataFormat, extensions → unacceptedExtension, oversize → badRequest', () => {
    const request = (imprint: Buffer, extra: Buffer[] = []) =>
      sequence(integer(1), sequence(sequence(oid(OID_ALG.sha256)), octetString(imprint)), ...extra);
    expect(parseTimeStampRequest(request(digest('sha256'))).certReq).toBe(false);
    expect(() => parseTimeStampRequest(request(Buffer.alloc(31)))).toThrow(
      expect.objectContaining({ failInfo: 'badDataFormat' }),
    );
    expect(() => parseTimeStampRequest(request(digest('sha256'), [explicit(0, sequence())]))).toThrow(
      expect.objectContaining({ failInfo: 'unacceptedExtension' }),
    );
    expect(() => parseTimeStampRequest(Buffer.alloc(16 * 1024 + 1, 0x30))).toThrow(
      expect.objectContaining({ failInfo: 'badRequest' }),
    );
  });
});
