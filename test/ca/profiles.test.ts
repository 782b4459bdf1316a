/** Certificate profiles: each profile's extensions and validity, parsed back from a signed certificate. */
import { beforeAll, describe, expect, it } from 'vitest';
import type { KeyAlgorithm } from '../../src/crypto/key-handle.js';
import { SoftwareKey } from '../../src/crypto/software-key.js';
import { buildProfile, type ProfileInput } from '../../src/ca/profiles.js';
import {
  parseCertificate,
  randomSerial,
  signCertificate,
  type ParsedCertificate,
} from '../../src/pkix/certificate.js';
import { ProfileError } from '../../src/pkix/errors.js';
import { buildName } from '../../src/pkix/name.js';
import { OID_EXT, OID_KP, OID_POLICY } from '../../src/pkix/oids.js';

const NOW = new Date('2025-03-01T12:00:00.000Z');
const keys = {} as Record<KeyAlgorithm, SoftwareKey>;
let issuer: SoftwareKey;
const issuerSki = Buffer.alloc(20, 7);

beforeAll(async () => {
  issuer = await SoftwareKey.generate('ec-p256');
  for (const alg of ['rsa-2048', 'ec-p256', 'ed25519'] as const) keys[alg] = await SoftwareKey.generate(alg);
});

async function certify(
  input: Omit<ProfileInput, 'subjectSpki' | 'subjectKeyAlgorithm'>,
  alg: KeyAlgorithm = 'rsa-2048',
): Promise<ParsedCertificate> {
  const key = keys[alg];
  const { extensions, notBefore, notAfter } = buildProfile({
    now: NOW,
    ...input,
    subjectSpki: key.spki,
    subjectKeyAlgorithm: alg,
  });
  const name = buildName({ commonName: 'Profile Test' });
  const der = await signCertificate(
    { serial: randomSerial(), issuer: name, subject: name, notBefore, notAfter, spki: key.spki, extensions },
    issuer,
    'sha256',
  );
  return parseCertificate(der);
}

const critical = (c: ParsedCertificate, oid: string) =>
  c.cert.tbsCertificate.extensions?.find((e) => e.extnID === oid)?.critical;
const urls = {
  ocspUrl: 'http://ocsp.example/',
  caIssuersUrl: 'http://ca.example/i.crt',
  crlUrl: 'http://ca.example/i.crl',
};

describe('S/MIME end-entity profiles (BR 7.1.2.3)', () => {
  it('signing: digitalSignature+nonRepudiation, emailProtection, SAN, mailbox-strict policy, AIA, CRLDP, SKI/AKI', async () => {
    const c = await certify({ profile: 'smime-signing', issuerSki, emails: ['a@bank.example'], ...urls });
    expect(c).toMatchObject({
      isCa: false,
      keyUsage: ['digitalSignature', 'nonRepudiation'],
      extKeyUsage: [OID_KP.emailProtection],
      emails: ['a@bank.example'],
      policies: [OID_POLICY.smimeMailboxStrict],
      ocspUrls: [urls.ocspUrl],
      caIssuersUrls: [urls.caIssuersUrl],
      crlUrls: [urls.crlUrl],
      authorityKeyId: issuerSki,
    });
    expect(c.subjectKeyId).toHaveLength(20);
    expect(critical(c, OID_EXT.keyUsage)).toBe(true);
    expect(critical(c, OID_EXT.basicConstraints)).toBe(true);
    expect(critical(c, OID_EXT.extKeyUsage)).toBe(false);
    expect(critical(c, OID_EXT.subjectAltName)).toBe(false);
  });

  it.each([
    ['mailbox', 'strict', OID_POLICY.smimeMailboxStrict],
    ['mailbox', 'multipurpose', OID_POLICY.smimeMailboxMultipurpose],
    ['sponsor', 'strict', OID_POLICY.smimeSponsorStrict],
    ['sponsor', 'multipurpose', OID_POLICY.smimeSponsorMultipurpose],
  ] as const)('%s/%s uses policy %s', async (validation, generation, policy) => {
    const c = await certify({
      profile: 'smime-signing',
      issuerSki,
      emails: ['a@bank.example'],
      validation,
      generation,
    });
    expect(c.policies).toEqual([policy]);
  });

  it('encryption: keyEncipherment for RSA, keyAgreement for EC, refused for Ed25519', async () => {
    expect(
      (await certify({ profile: 'smime-encryption', issuerSki, emails: ['a@b.example'] }, 'rsa-2048'))
        .keyUsage,
    ).toEqual(['keyEncipherment']);
    expect(
      (await certify({ profile: 'smime-encryption', issuerSki, emails: ['a@b.example'] }, 'ec-p256'))
        .keyUsage,
    ).toEqual(['keyAgreement']);
    expect(() =>
      buildProfile({
        profile: 'smime-encryption',
        issuerSki,
        emails: ['a@b.example'],
        subjectSpki: keys['ed25519'].spki,
        subjectKeyAlgorithm: 'ed25519',
      }),
    ).toThrow(ProfileError);
  });

  it('multipurpose: signing and key management bits together', async () => {
    const c = await certify(
      { profile: 'smime-multipurpose', issuerSki, emails: ['a@b.example'] },
      'rsa-2048',
    );
    expect(c.keyUsage).toEqual(['digitalSignature', 'nonRepudiation', 'keyEncipherment']);
  });

  it('validity: default 365 days from one minute ago, at most 825 days', async () => {
    const c = await certify({ profile: 'smime-signing', issuerSki, emails: ['a@b.example'] });
    expect(c.notBefore.toISOString()).toBe('2025-03-01T11:59:00.000Z');
    expect((c.notAfter.getTime() - c.notBefore.getTime() + 1000) / 86_400_000).toBe(365);
    const max = buildProfile({
      profile: 'smime-signing',
      issuerSki,
      emails: ['a@b.example'],
      validityDays: 825,
      subjectSpki: keys['rsa-2048'].spki,
      subjectKeyAlgorithm: 'rsa-2048',
      now: NOW,
    });
    expect((max.notAfter.getTime() - max.notBefore.getTime() + 1000) / 86_400_000).toBe(825);
    expect(() =>
      buildProfile({
        profile: 'smime-signing',
        issuerSki,
        emails: ['a@b.example'],
        validityDays: 826,
        subjectSpki: keys['rsa-2048'].spki,
        subjectKeyAlgorithm: 'rsa-2048',
      }),
    ).toThrow(/825/);
  });

  it('refuses S/MIME without an email, a bad email, or a missing issuer key id', () => {
    const base = { subjectSpki: keys['rsa-2048'].spki, subjectKeyAlgorithm: 'rsa-2048' as const };
    expect(() => buildProfile({ ...base, profile: 'smime-signing', issuerSki })).toThrow(/email/);
    expect(() =>
      buildProfile({ ...base, profile: 'smime-signing', issuerSki, emails: ['not an email'] }),
    ).toThrow(ProfileError);
    expect(() => buildProfile({ ...base, profile: 'smime-signing', emails: ['a@b.example'] })).toThrow(
      /subjectKeyIdentifier/,
    );
  });
});

describe('organisation and service profiles', () => {
  it('seal: digitalSignature+nonRepudiation with both document-signing EKUs', async () => {
    const c = await certify({ profile: 'seal', issuerSki, ...urls });
    expect(c.keyUsage).toEqual(['digitalSignature', 'nonRepudiation']);
    expect(c.extKeyUsage).toEqual([OID_KP.documentSigning, OID_KP.msDocumentSigning]);
    expect(c.policies).toEqual([]);
  });

  it('tsa: digitalSignature, critical timeStamping EKU only', async () => {
    const c = await certify({ profile: 'tsa', issuerSki, ...urls });
    expect(c.keyUsage).toEqual(['digitalSignature']);
    expect(c.extKeyUsage).toEqual([OID_KP.timeStamping]);
    expect(critical(c, OID_EXT.extKeyUsage)).toBe(true);
  });

  it('ocsp: OCSPSigning, ocsp-nocheck, and no OCSP URL of its own', async () => {
    const c = await certify({ profile: 'ocsp', issuerSki, ...urls });
    expect(c.keyUsage).toEqual(['digitalSignature']);
    expect(c.extKeyUsage).toEqual([OID_KP.ocspSigning]);
    expect(c.ocspNoCheck).toBe(true);
    expect(c.ocspUrls).toEqual([]);
    expect(c.caIssuersUrls).toEqual([urls.caIssuersUrl]);
  });
});

describe('CA profiles', () => {
  it('root: CA without pathLen, keyCertSign+cRLSign, 20 years, no AKI/AIA/CRLDP', async () => {
    const c = await certify({ profile: 'root-ca', ...urls });
    expect(c).toMatchObject({
      isCa: true,
      keyUsage: ['keyCertSign', 'cRLSign'],
      ocspUrls: [],
      caIssuersUrls: [],
      crlUrls: [],
    });
    expect(c.pathLen).toBeUndefined();
    expect(c.authorityKeyId).toBeUndefined();
    expect(c.notAfter.getUTCFullYear()).toBe(2045);
  });

  it('issuing: CA pathLen 0, 10 years, AKI, AIA and CRLDP', async () => {
    const c = await certify({ profile: 'issuing-ca', issuerSki, ...urls });
    expect(c).toMatchObject({
      isCa: true,
      pathLen: 0,
      keyUsage: ['keyCertSign', 'cRLSign'],
      authorityKeyId: issuerSki,
      crlUrls: [urls.crlUrl],
    });
    expect(c.notAfter.getUTCFullYear()).toBe(2035);
  });
});
