/** Micro-check: certificate issuance should cost about one signature, not ASN.1 work. Prints, never asserts time. */
import { describe, expect, it } from 'vitest';
import { SoftwareKey } from '../../src/crypto/software-key.js';
import { buildProfile } from '../../src/ca/profiles.js';
import { parseCertificate, randomSerial, signCertificate } from '../../src/pkix/certificate.js';
import { buildName } from '../../src/pkix/name.js';

describe('signCertificate cost', () => {
  it('200 RSA-2048 issuances vs 200 raw signatures', async () => {
    const ca = await SoftwareKey.generate('rsa-2048');
    const subject = await SoftwareKey.generate('ec-p256');
    const issuer = buildName({ commonName: 'Speed CA', organization: 'Bank', country: 'DE' });
    const tbsSized = Buffer.alloc(900, 1);
    const n = 200;
    const issueOne = async (i: number): Promise<Buffer> => {
      const profile = buildProfile({
        profile: 'smime-signing',
        subjectSpki: subject.spki,
        subjectKeyAlgorithm: 'ec-p256',
        issuerSki: Buffer.alloc(20, 1),
        emails: [`u${i}@bank.example`],
        ocspUrl: 'http://o.example/',
        crlUrl: 'http://c.example/c.crl',
      });
      return signCertificate(
        {
          serial: randomSerial(),
          issuer,
          subject: buildName({ commonName: `User ${i}` }),
          spki: subject.spki,
          ...profile,
        },
        ca,
        'sha256',
      );
    };
    // Warm up both paths so the JIT does not count against either.
    for (let i = 0; i < 20; i++) {
      await ca.sign(tbsSized, 'sha256');
      await issueOne(i);
    }

    let t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await ca.sign(tbsSized, 'sha256');
    const rawMs = Number(process.hrtime.bigint() - t) / 1e6;

    let last: Buffer = Buffer.alloc(0);
    t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) last = await issueOne(i);
    const issueMs = Number(process.hrtime.bigint() - t) / 1e6;
    console.log(
      `issuance: ${n} certificates in ${issueMs.toFixed(0)} ms, ${n} raw RSA-2048 signatures in ${rawMs.toFixed(0)} ms, ratio ${(issueMs / rawMs).toFixed(2)}`,
    );
    expect(parseCertificate(last).emails).toEqual([`u${n - 1}@bank.example`]);
  });
});
