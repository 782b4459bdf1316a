import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../src/pkix/certificate.js';
import {
  OcspRequestError,
  OcspResponder,
  buildOcspRequest,
  encodeOcspNonce,
  ocspErrorResponse,
  parseOcspRequest,
  parseOcspResponse,
  type OcspCertStatus,
  type OcspRequest,
} from '../../src/pkix/ocsp.js';
import {
  HAVE_OPENSSL,
  LEAF_EXT,
  OCSP_SIGNER_EXT,
  issue,
  makeRootCa,
  makeTempDir,
  openssl,
  opensslOk,
  type TestCert,
} from './ocsp-tsp-oracle.js';

describe.skipIf(!HAVE_OPENSSL)('OCSP interop with openssl ocsp', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let ca: TestCert;
  let otherCa: TestCert;
  let responderCert: TestCert;
  let leaves: TestCert[];
  let responder: OcspResponder;
  const revokedAt = new Date('2026-01-02T03:04:05Z');
  const statuses: OcspCertStatus[] = [
    { status: 'good' },
    { status: 'revoked', revokedAt, reason: 'keyCompromise' },
    { status: 'unknown' },
  ];

  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('sealpost-ocsp-'));
    ca = await makeRootCa(dir, 'ca');
    otherCa = await makeRootCa(dir, 'other-ca');
    responderCert = await issue(dir, ca, 'responder', OCSP_SIGNER_EXT);
    leaves = [];
    for (const name of ['good', 'revoked', 'unknown']) leaves.push(await issue(dir, ca, name, LEAF_EXT));
    responder = new OcspResponder({
      issuerCertificate: ca.der,
      responderCertificate: responderCert.der,
      responderKey: responderCert.key,
      hash: 'sha256',
    });
  });
  afterAll(() => cleanup?.());

  async function answer(req: OcspRequest): Promise<Buffer> {
    const thisUpdate = new Date();
    const nextUpdate = new Date(thisUpdate.getTime() + 3600_000);
    return responder.sign(
      req.certIds.map((certId, i) => ({
        certId,
        status: statuses[i] as OcspCertStatus,
        thisUpdate,
        nextUpdate,
      })),
      req.nonce,
    );
  }

  const certArgs = (): string[] => leaves.flatMap((l) => ['-cert', l.certPath]);

  it('answers an openssl request with a nonce: verified, nonce echoed, good / revoked with reason / unknown', async () => {
    await opensslOk(['ocsp', '-issuer', ca.certPath, ...certArgs(), '-reqout', 'req-nonce.der'], dir);
    const req = parseOcspRequest(await readFile(join(dir, 'req-nonce.der')));
    expect(req.certIds.map((c) => c.serialHex)).toEqual(leaves.map((l) => parseCertificate(l.der).serialHex));
    expect(req.certIds.every((c) => c.hash === 'sha1' && responder.servesIssuer(c))).toBe(true);
    expect(req.nonce?.length).toBe(18); // OCTET STRING of 16 random bytes (RFC 8954)

    await writeFile(join(dir, 'resp-nonce.der'), await answer(req));
    // -reqin without -cert: openssl compares the response nonce with the one in this request file.
    const nonceCheck = await openssl(
      ['ocsp', '-respin', 'resp-nonce.der', '-reqin', 'req-nonce.der', '-CAfile', ca.certPath],
      dir,
    );
    expect(nonceCheck.stderr + nonceCheck.stdout).toContain('Response verify OK');
    expect(nonceCheck.stderr).not.toMatch(/nonce/i);
    expect(nonceCheck.code).toBe(0);

    const statusRun = await openssl(
      [
        'ocsp',
        '-respin',
        'resp-nonce.der',
        '-issuer',
        ca.certPath,
        ...certArgs(),
        '-CAfile',
        ca.certPath,
        '-no_nonce',
      ],
      dir,
    );
    const out = statusRun.stdout + statusRun.stderr;
    expect(out).toContain('Response verify OK');
    expect(out).toContain('good.pem: good');
    expect(out).toContain('revoked.pem: revoked');
    expect(out).toContain('Reason: keyCompromise');
    expect(out).toContain('Revocation Time: Jan  2 03:04:05 2026 GMT');
    expect(out).toContain('unknown.pem: unknown');
  });

  it('openssl detects a response whose nonce differs from the request', async () => {
    await opensslOk(
      ['ocsp', '-issuer', ca.certPath, '-cert', leaves[0]!.certPath, '-reqout', 'req-a.der'],
      dir,
    );
    const req = parseOcspRequest(await readFile(join(dir, 'req-a.der')));
    await writeFile(
      join(dir, 'resp-wrong.der'),
      await answer({ ...req, nonce: encodeOcspNonce(Buffer.alloc(16, 7)) }),
    );
    const r = await openssl(
      ['ocsp', '-respin', 'resp-wrong.der', '-reqin', 'req-a.der', '-CAfile', ca.certPath],
      dir,
    );
    expect(r.stderr).toContain('Nonce Verify error');
  });

  it('answers a SHA-256 CertID request without nonce, verified with -VAfile', async () => {
    await opensslOk(
      ['ocsp', '-issuer', ca.certPath, '-sha256', ...certArgs(), '-no_nonce', '-reqout', 'req-256.der'],
      dir,
    );
    const req = parseOcspRequest(await readFile(join(dir, 'req-256.der')));
    expect(req.nonce).toBeUndefined();
    expect(req.certIds.every((c) => c.hash === 'sha256' && responder.servesIssuer(c))).toBe(true);
    const resp = await answer(req);
    await writeFile(join(dir, 'resp-256.der'), resp);
    const r = await openssl(
      [
        'ocsp',
        '-respin',
        'resp-256.der',
        '-issuer',
        ca.certPath,
        '-sha256',
        ...certArgs(),
        '-VAfile',
        responderCert.certPath,
        '-no_nonce',
      ],
      dir,
    );
    const out = r.stdout + r.stderr;
    expect(out).toContain('Response verify OK');
    expect(out).toMatch(/good\.pem: good[\s\S]*revoked\.pem: revoked[\s\S]*unknown\.pem: unknown/);
    const text = await opensslOk(['ocsp', '-respin', 'resp-256.der', '-resp_text', '-noverify'], dir);
    expect(text).toContain('Responder Id: '); // byKey prints the key hash
    expect(text).not.toContain('Response Extensions'); // no nonce asked, none sent
    expect(text).toMatch(/Produced At: \w+ +\d+ \d\d:\d\d:\d\d \d{4} GMT/);

    // Our reader agrees with what openssl printed.
    const parsed = parseOcspResponse(resp);
    expect(parsed.status).toBe('successful');
    expect(parsed.signatureValid).toBe(true);
    expect(parsed.responderCertificate?.equals(responderCert.der)).toBe(true);
    expect(parsed.producedAt?.getUTCMilliseconds()).toBe(0);
    expect(parsed.answers.map((a) => a.status)).toEqual(statuses);
    expect(parsed.answers.map((a) => a.certId.der.toString('hex'))).toEqual(
      req.certIds.map((c) => c.der.toString('hex')),
    );
  });

  it('does not serve another issuer', async () => {
    await opensslOk(
      ['ocsp', '-issuer', otherCa.certPath, '-serial', '0x1234', '-reqout', 'req-other.der'],
      dir,
    );
    const req = parseOcspRequest(await readFile(join(dir, 'req-other.der')));
    expect(req.certIds[0]?.serialHex).toBe('1234');
    expect(responder.servesIssuer(req.certIds[0]!)).toBe(false);
  });

  it('error responses are read by openssl', async () => {
    for (const [status, code] of [
      ['malformedRequest', 1],
      ['internalError', 2],
      ['tryLater', 3],
      ['sigRequired', 5],
      ['unauthorized', 6],
    ] as const) {
      await writeFile(join(dir, `err-${status}.der`), ocspErrorResponse(status));
      const r = await openssl(['ocsp', '-respin', `err-${status}.der`, '-resp_text'], dir);
      expect((r.stdout + r.stderr).toLowerCase()).toContain(
        `responder error: ${status.toLowerCase()} (${code})`,
      );
      expect(parseOcspResponse(ocspErrorResponse(status))).toEqual({ status, answers: [], certificates: [] });
    }
  });

  it('reads and verifies a response from openssl as responder, to our own request with nonce', async () => {
    const [good, revoked] = leaves as [TestCert, TestCert];
    const serialOf = (c: TestCert) => parseCertificate(c.der).serialHex.toUpperCase();
    const index = [
      `V\t361231000000Z\t\t${serialOf(good)}\tunknown\t/O=Sealpost Test/CN=good`,
      `R\t361231000000Z\t260102030405Z,superseded\t${serialOf(revoked)}\tunknown\t/O=Sealpost Test/CN=revoked`,
    ].join('\n');
    await writeFile(join(dir, 'index.txt'), index + '\n');
    const nonce = Buffer.alloc(32, 0x5a);
    for (const [cert, expected] of [
      [good, { status: 'good' }],
      [revoked, { status: 'revoked', revokedAt, reason: 'superseded' }],
    ] as const) {
      const req = buildOcspRequest({
        issuerCertificate: ca.der,
        serialHex: parseCertificate(cert.der).serialHex,
        nonce,
      });
      await writeFile(join(dir, 'our-req.der'), req);
      expect(await opensslOk(['ocsp', '-reqin', 'our-req.der', '-req_text'], dir)).toContain('OCSP Nonce');
      await opensslOk(
        [
          'ocsp',
          '-index',
          'index.txt',
          '-CA',
          ca.certPath,
          '-rsigner',
          responderCert.certPath,
          '-rkey',
          responderCert.keyPath,
          '-reqin',
          'our-req.der',
          '-respout',
          'their-resp.der',
          '-ndays',
          '1',
        ],
        dir,
      );
      const parsed = parseOcspResponse(await readFile(join(dir, 'their-resp.der')));
      expect(parsed.status).toBe('successful');
      expect(parsed.signatureValid).toBe(true);
      expect(parsed.nonce?.equals(encodeOcspNonce(nonce))).toBe(true);
      expect(parsed.nonce?.equals(parseOcspRequest(req).nonce!)).toBe(true);
      expect(parsed.answers).toHaveLength(1);
      expect(parsed.answers[0]?.status).toEqual(expected);
      expect(parsed.answers[0]?.nextUpdate).toBeInstanceOf(Date);
    }
  });

  it('reports a tampered signature as invalid', async () => {
    await opensslOk(['ocsp', '-issuer', ca.certPath, ...certArgs(), '-reqout', 'req-t.der'], dir);
    const req = parseOcspRequest(await readFile(join(dir, 'req-t.der')));
    const resp = await answer(req);
    expect(parseOcspResponse(resp).signatureValid).toBe(true);
    const tampered = Buffer.from(resp);
    const at = resp.indexOf(req.nonce!) + 5; // a byte of the echoed nonce, inside the signed data
    tampered[at] = (tampered[at] as number) ^ 1;
    expect(parseOcspResponse(tampered).signatureValid).toBe(false);
  });
});

describe('parseOcspRequest limits', () => {
  it('rejects oversize, empty and non-v1 requests with OcspRequestError', () => {
    expect(() => parseOcspRequest(Buffer.alloc(16 * 1024 + 1))).toThrow(OcspRequestError);
    expect(() => parseOcspRequest(Buffer.from('3000', 'hex'))).toThrow(OcspRequestError);
    expect(() => parseOcspRequest(Buffer.from('300430023000', 'hex'))).toThrow(/no certificates/);
  });
});
