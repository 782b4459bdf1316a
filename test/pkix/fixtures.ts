/** A root → issuing → end-entity hierarchy built only through Sealpost's pkix and profile functions. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyAlgorithm } from '../../src/crypto/key-handle.js';
import { defaultHashFor } from '../../src/crypto/key-handle.js';
import { SoftwareKey } from '../../src/crypto/software-key.js';
import { buildProfile, type ProfileInput } from '../../src/ca/profiles.js';
import {
  parseCertificate,
  randomSerial,
  signCertificate,
  type ParsedCertificate,
} from '../../src/pkix/certificate.js';
import { buildName, type NameSpec } from '../../src/pkix/name.js';

export interface Issued {
  key: SoftwareKey;
  cert: ParsedCertificate;
}

export const URLS = {
  ocspUrl: 'http://ocsp.bank.example/',
  caIssuersUrl: 'http://pki.bank.example/issuing.crt',
  crlUrl: 'http://pki.bank.example/issuing.crl',
};

export async function issue(
  subject: NameSpec,
  profile: Omit<ProfileInput, 'subjectSpki' | 'subjectKeyAlgorithm' | 'issuerSki'>,
  keyAlgorithm: KeyAlgorithm,
  issuer?: Issued,
): Promise<Issued> {
  const key = await SoftwareKey.generate(keyAlgorithm);
  const { extensions, notBefore, notAfter } = buildProfile({
    ...profile,
    subjectSpki: key.spki,
    subjectKeyAlgorithm: key.algorithm,
    issuerSki: issuer?.cert.subjectKeyId,
  });
  const subjectName = buildName(subject);
  const signer = issuer?.key ?? key;
  const der = await signCertificate(
    {
      serial: randomSerial(),
      issuer: issuer?.cert.subject ?? subjectName,
      subject: subjectName,
      notBefore,
      notAfter,
      spki: key.spki,
      extensions,
    },
    signer,
    defaultHashFor(signer.algorithm),
  );
  return { key, cert: parseCertificate(der) };
}

export interface Hierarchy {
  root: Issued;
  issuing: Issued;
}

export async function hierarchy(alg: KeyAlgorithm): Promise<Hierarchy> {
  const root = await issue(
    { commonName: `Bank Root ${alg}`, organization: 'Example Bank AG', country: 'DE' },
    { profile: 'root-ca' },
    alg,
  );
  const issuing = await issue(
    { commonName: `Bank Issuing ${alg}`, organization: 'Example Bank AG', country: 'DE' },
    { profile: 'issuing-ca', ...URLS },
    alg,
    root,
  );
  return { root, issuing };
}

export async function tempDir(prefix: string): Promise<{
  dir: string;
  path(name: string): string;
  write(name: string, data: string | Buffer): Promise<string>;
  cleanup(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), `sealpost-${prefix}-`));
  return {
    dir,
    path: (name) => join(dir, name),
    async write(name, data) {
      const path = join(dir, name);
      await writeFile(path, data);
      return path;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
