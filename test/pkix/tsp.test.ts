import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HashAlgorithm } from '../../src/crypto/key-handle.js';
import {
  TimeStampSigner,
  TspRequestError,
  TspVerifyError,
  parseTimeStampRequest,
  parseTimeStampResponse,
  timeStampRejection,
  verifyTimeStampToken,
  type TspFailInfo,
} from '../../src/pkix/tsp.js';
import {
  HAVE_OPENSSL,
  LEAF_EXT,
  TSA_EXT,
  issue,
  makeRootCa,
  makeTempDir,
  openssl,
  opensslOk,
  type TestCert,
  type TestKeyType,
} from './ocsp-tsp-oracle.js';

const POLICY = '1.3.6.1.4.1.55555.1.1';
const HASHES: HashAlgorithm[] = ['sha256', 'sha384', 'sha512'];
const DATA = Buffer.from('statement 2026-01 for account 1234\n');

/** An OpenSSL TSA configuration (openssl.cnf [tsa] section) for `ts -reply`. */
function tsaConfig(tsa: TestCert, essAlg: 'sha1' | 'sha256'): string {
  return [
    '[ tsa ]',
    'default_tsa = tsa_config',
    '[ tsa_config ]',
    'serial = ./tsaserial',
    `signer_cert = ${tsa.certPath}`,
    `signer_key = ${tsa.keyPath}`,
    'signer_digest = sha256',
    `default_policy = ${POLICY}`,
    'digests = sha256, sha384, sha512',
    'accuracy = secs:1, millisecs:500',
    'clock_precision_digits = 3',
    'ordering = no',
    'tsa_name = no',
    'ess_cert_id_chain = no',
    `ess_cert_id_alg = ${essAlg}`,
    '',
  ].join('\n');
}

describe.skipIf(!HAVE_OPENSSL)('TSP interop with openssl ts', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let root: TestCert;
  const tsas = {} as Record<TestKeyType, TestCert>;
  let leaf: TestCert;

  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('sealpost-tsp-'));
    root = await makeRootCa(dir, 'root');
    tsas.ec = await issue(dir, root, 'tsa-ec', TSA_EXT, 'ec');
    tsas.rsa = await issue(dir, root, 'tsa-rsa', TSA_EXT, 'rsa');
    leaf = await issue(dir, root, 'not-a-tsa', LEAF_EXT);
    await writeFile(join(dir, 'data.txt'), DATA);
    await writeFile(join(dir, 'tsaserial'), '01\n');
  });
  afterAll(() => cleanup?.());

  for (const keyType of ['ec', 'rsa'] as const) {
    for (const hash of HASHES) {
      it(`openssl ts -verify accepts our ${keyType} token over a ${hash} query`, async () => {
        const tsa = tsas[keyType];
        const q = `q-${keyType}-${hash}.tsq`;
        const r = `r-${keyType}-${hash}.tsr`;
        await opensslOk(['ts', '-query', '-data', 'data.txt', `-${hash}`, '-cert', '-out', q], dir);
        const request = parseTimeStampRequest(await readFile(join(dir, q)));
        expect(request).toMatchObject({ hash, certReq: true });
        expect(request.messageImprint.equals(createHash(hash).update(DATA).digest())).toBe(true);
        const signer = new TimeStampSigner({
          certificate: tsa.der,
          key: tsa.key,
          hash: 'sha256',
          policy: POLICY,
          accuracy: { seconds: 1 },
        });
        const genTime = new Date('2026-03-04T05:06:07.890Z');
        const response = await signer.sign(request, 0x1234567890abcdefn, genTime);
        await writeFile(join(dir, r), response);

        const verify = await openssl(
          ['ts', '-verify', '-in', r, '-queryfile', q, '-CAfile', root.certPath, '-untrusted', tsa.certPath],
          dir,
        );
        expect(verify.stdout).toContain('Verification: OK');
        expect(verify.code).toBe(0);
        const dataVerify = await openssl(
          ['ts', '-verify', '-in', r, '-data', 'data.txt', '-CAfile', root.certPath],
          dir,
        );
        expect(dataVerify.stdout).toContain('Verification: OK'); // certReq: the token carries the TSA certificate

        const text = await opensslOk(['ts', '-reply', '-in', r, '-text'], dir);
        expect(text).toContain('Status: Granted.');
        expect(text).toContain(`Policy OID: ${POLICY}`);
        expect(text).toContain(`Hash Algorithm: ${hash}`);
        expect(text).toContain('Serial number: 0x1234567890ABCDEF');
        expect(text).toContain('Time stamp: Mar  4 05:06:07 2026 GMT'); // whole seconds: accuracy is 1 s
        expect(text).toContain('Accuracy: 0x01 seconds, unspecified millis, unspecified micros');

        const parsed = verifyTimeStampToken(parseTimeStampResponse(response).token!.token, { data: DATA });
        expect(parsed).toMatchObject({
          policy: POLICY,
          serial: 0x1234567890abcdefn,
          hash,
          accuracyMillis: 1000,
        });
        expect(parsed.nonce?.equals(request.nonce!)).toBe(true);
        expect(parsed.genTime.toISOString()).toBe('2026-03-04T05:06:07.000Z');
      });
    }
  }

  it('signToken gives the bare token (what an in-process caller embeds): openssl ts -verify -token_in accepts it', async () => {
    await opensslOk(['ts', '-query', '-data', 'data.txt', '-sha256', '-cert', '-out', 'q-token.tsq'], dir);
    const request = parseTimeStampRequest(await readFile(join(dir, 'q-token.tsq')));
    const signer = new TimeStampSigner({
      certificate: tsas.ec.der,
      key: tsas.ec.key,
      hash: 'sha256',
      policy: POLICY,
    });
    const token = await signer.signToken(request, 99n, new Date());
    await writeFile(join(dir, 'token.tst'), token);
    const verify = await openssl(
      [
        'ts',
        '-verify',
        '-token_in',
        '-in',
        'token.tst',
        '-queryfile',
        'q-token.tsq',
        '-CAfile',
        root.certPath,
      ],
      dir,
    );
    expect(verify.stdout).toContain('Verification: OK');
    expect(verifyTimeStampToken(token, { digest: request.messageImprint }).serial).toBe(99n);
  });

  it('sub-second accuracy gives genTime with milliseconds, no trailing zeros; no certReq means no certificates', async () => {
    await opensslOk(['ts', '-query', '-data', 'data.txt', '-sha256', '-no_nonce', '-out', 'q-ms.tsq'], dir);
    const request = parseTimeStampRequest(await readFile(join(dir, 'q-ms.tsq')));
    expect(request.certReq).toBe(false);
    expect(request.nonce).toBeUndefined();
    const signer = new TimeStampSigner({
      certificate: tsas.ec.der,
      key: tsas.ec.key,
      hash: 'sha384',
      policy: POLICY,
      accuracy: { millis: 1500 },
    });
    await writeFile(
      join(dir, 'r-ms.tsr'),
      await signer.sign(request, 7n, new Date('2026-03-04T05:06:07.120Z')),
    );
    const text = await opensslOk(['ts', '-reply', '-in', 'r-ms.tsr', '-text'], dir);
    expect(text).toContain('Time stamp: Mar  4 05:06:07.12 2026 GMT');
    expect(text).toContain('Accuracy: 0x01 seconds, 0x01F4 millis, unspecified micros');
    const bare = await openssl(
      ['ts', '-verify', '-in', 'r-ms.tsr', '-queryfile', 'q-ms.tsq', '-CAfile', root.certPath],
      dir,
    );
    expect(bare.stdout).not.toContain('Verification: OK'); // the TSA certificate is not in the token
    const withCert = await openssl(
      [
        'ts',
        '-verify',
        '-in',
        'r-ms.tsr',
        '-queryfile',
        'q-ms.tsq',
        '-CAfile',
        root.certPath,
        '-untrusted',
        tsas.ec.certPath,
      ],
      dir,
    );
    expect(withCert.stdout).toContain('Verification: OK');
    const token = parseTimeStampResponse(await readFile(join(dir, 'r-ms.tsr'))).token!;
    expect(token.certificates).toEqual([]);
    expect(() => verifyTimeStampToken(token.token, {})).toThrow(TspVerifyError);
    const verified = verifyTimeStampToken(token.token, { data: DATA, signerCertificate: tsas.ec.der });
    expect(verified.genTime.toISOString()).toBe('2026-03-04T05:06:07.120Z');
    expect(verified.accuracyMillis).toBe(1500);
  });

  for (const keyType of ['ec', 'rsa'] as const) {
    for (const essAlg of ['sha256', 'sha1'] as const) {
      it(`reads and verifies an openssl ts -reply token (${keyType} key, ESSCertID ${essAlg})`, async () => {
        const tsa = tsas[keyType];
        const cnf = `tsa-${keyType}-${essAlg}.cnf`;
        await writeFile(join(dir, cnf), tsaConfig(tsa, essAlg));
        await opensslOk(['ts', '-query', '-data', 'data.txt', '-sha512', '-cert', '-out', 'q-o.tsq'], dir);
        await opensslOk(
          [
            'ts',
            '-reply',
            '-config',
            cnf,
            '-queryfile',
            'q-o.tsq',
            '-inkey',
            tsa.keyPath,
            '-signer',
            tsa.certPath,
            '-out',
            'r-o.tsr',
          ],
          dir,
        );
        const resp = parseTimeStampResponse(await readFile(join(dir, 'r-o.tsr')));
        expect(resp.status).toBe(0);
        const request = parseTimeStampRequest(await readFile(join(dir, 'q-o.tsq')));
        const token = verifyTimeStampToken(resp.token!.token, { data: DATA });
        expect(token).toMatchObject({ policy: POLICY, hash: 'sha512', accuracyMillis: 1500 });
        expect(token.nonce?.equals(request.nonce!)).toBe(true);
        expect(token.signerCertificate?.equals(tsa.der)).toBe(true);
        expect(Math.abs(token.genTime.getTime() - Date.now())).toBeLessThan(60_000);

        expect(() => verifyTimeStampToken(resp.token!.token, { data: Buffer.from('other data') })).toThrow(
          expect.objectContaining({ reason: 'imprint' }),
        );
        expect(() => verifyTimeStampToken(resp.token!.token, { signerCertificate: leaf.der })).toThrow(
          expect.objectContaining({ reason: 'signer-not-found' }),
        );
      });
    }
  }

  async function rejectionText(failInfo: TspFailInfo, message: string, file: string): Promise<string> {
    await writeFile(join(dir, file), timeStampRejection(failInfo, message));
    return opensslOk(['ts', '-reply', '-in', file, '-text'], dir);
  }

  it('a SHA-1 query is rejected with badAlg, visible to openssl', async () => {
    await opensslOk(['ts', '-query', '-data', 'data.txt', '-sha1', '-out', 'q-sha1.tsq'], dir);
    let error: unknown;
    try {
      parseTimeStampRequest(await readFile(join(dir, 'q-sha1.tsq')));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TspRequestError);
    const { failInfo, message } = error as TspRequestError;
    expect(failInfo).toBe('badAlg');
    expect(message).toMatch(/SHA-1 is not accepted/);
    const text = await rejectionText(failInfo, message, 'rej-sha1.tsr');
    expect(text).toContain('Status: Rejected.');
    expect(text).toContain('unrecognized or unsupported algorithm identifier');
    expect(text).toContain('SHA-1 is not accepted');
    expect(parseTimeStampResponse(timeStampRejection(failInfo, message))).toEqual({
      status: 2,
      statusString: message,
      failInfo: 'badAlg',
    });
  });

  it('garbage is rejected with badRequest, visible to openssl', async () => {
    let error: unknown;
    try {
      parseTimeStampRequest(Buffer.from('not a timestamp request'));
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ failInfo: 'badRequest' });
    const text = await rejectionText('badRequest', (error as Error).message, 'rej-garbage.tsr');
    expect(text).toContain('Status: Rejected.');
    expect(text).toContain('transaction not permitted or supported');
  });

  it('other failInfo values survive a round trip through openssl and our reader', async () => {
    const expected: Record<TspFailInfo, string> = {
      badAlg: 'unrecognized or unsupported algorithm identifier',
      badRequest: 'transaction not permitted or supported',
      badDataFormat: 'the data submitted has the wrong format',
      unacceptedPolicy: 'the requested TSA policy is not supported by the TSA',
      unacceptedExtension: 'the requested extension is not supported by the TSA',
      addInfoNotAvailable: 'the additional information requested could not be understood or is not available',
      systemFailure: 'the request cannot be handled due to system failure',
    };
    for (const [failInfo, text] of Object.entries(expected) as [TspFailInfo, string][]) {
      expect(await rejectionText(failInfo, 'x', `rej-${failInfo}.tsr`)).toContain(text);
      expect(parseTimeStampResponse(timeStampRejection(failInfo, 'x')).failInfo).toBe(failInfo);
    }
  });
});
