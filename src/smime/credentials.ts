/**
 * Who signs and who decrypts: a key handle with its certificate and chain, loaded from a PKCS#12 file, from PEM
 * (key + certificate, as OpenSSL writes them) or from a KeyHandle the caller already holds (PKCS#11).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { KeyHandle } from '../crypto/key-handle.js';
import { SoftwareKey } from '../crypto/software-key.js';
import { parseCertificate } from '../pkix/certificate.js';
import type { DecryptionKey, RecipientDecryptor } from '../pkix/cms/enveloped-data.js';
import { fromPem } from '../pkix/pem.js';
import { parsePkcs12 } from '../pkix/pkcs12.js';

/** A credential cannot be loaded; the message says which file and what to do. */
export class SmimeCredentialError extends Error {
  override name = 'SmimeCredentialError';
}

export interface SmimeCredential {
  /** Signs (and, for software keys, decrypts through `privateKey`). */
  key: KeyHandle;
  /** DER of the certificate that belongs to `key`. */
  certificate: Buffer;
  /** Issuer certificates, leaf's issuer first; the root is dropped when signing (the verifier must trust it). */
  chain: Buffer[];
  /** Software keys only: the private key for decryption. */
  privateKey?: KeyObject;
  /** Token keys: the private-key operations decryption needs (CKM_RSA_PKCS, ECDH derive). */
  decryptor?: RecipientDecryptor;
}

/** Open a PKCS#12 (.p12/.pfx) file's bytes. */
export function credentialFromPkcs12(
  der: Uint8Array,
  password: string,
  name = 'PKCS#12 file',
): SmimeCredential {
  let contents;
  try {
    contents = parsePkcs12(der, password);
  } catch (e) {
    throw new SmimeCredentialError(`${name}: ${(e as Error).message}`);
  }
  return softwareCredential(contents.privateKey, contents.certificate, contents.chain, name);
}

/** PEM text holding a PRIVATE KEY block and the certificate (then the chain) in any order. */
export function credentialFromPem(text: string, name = 'PEM file'): SmimeCredential {
  const blocks = fromPem(text);
  const keyBlock = blocks.find((b) => /PRIVATE KEY$/.test(b.label));
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE').map((b) => b.der);
  if (!keyBlock || certs.length === 0) {
    throw new SmimeCredentialError(
      `${name}: needs a PRIVATE KEY and a CERTIFICATE block (or pass a PKCS#12 file with its password)`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(text.slice(text.indexOf(`-----BEGIN ${keyBlock.label}-----`)));
  } catch (e) {
    throw new SmimeCredentialError(`${name}: the private key cannot be read (${(e as Error).message})`);
  }
  return fromKeyObject(key, certs, name);
}

/** A credential whose key is a handle (e.g. a PKCS#11 token key); decryption then goes through `decryptor`. */
export function credentialFromKeyHandle(
  key: KeyHandle,
  certificate: Buffer,
  chain: Buffer[] = [],
  decryptor?: RecipientDecryptor,
): SmimeCredential {
  checkPair(key.spki, certificate, 'key handle');
  return { key, certificate, chain, ...(decryptor ? { decryptor } : {}) };
}

/** Load a credential file: PEM (key + certificate) when it looks like PEM, else PKCS#12 with `password`. */
export function credentialFromFile(
  bytes: Buffer,
  password: string | undefined,
  name: string,
): SmimeCredential {
  const head = bytes.subarray(0, 64 * 1024).toString('latin1');
  if (head.includes('-----BEGIN ')) return credentialFromPem(bytes.toString('latin1'), name);
  if (password === undefined) throw new SmimeCredentialError(`${name}: a PKCS#12 file needs its password`);
  return credentialFromPkcs12(bytes, password, name);
}

/** The DecryptionKey the CMS layer takes. */
export function decryptionKeyOf(c: SmimeCredential): DecryptionKey {
  const privateKey = c.privateKey ?? c.decryptor;
  if (!privateKey) {
    throw new SmimeCredentialError(
      'this credential cannot decrypt: give its private key or a RecipientDecryptor for the token key',
    );
  }
  return { privateKey, certificate: c.certificate };
}

/** The chain to embed in a signature: every issuer except self-signed roots (the recipient must trust those). */
export function chainWithoutRoot(chain: readonly Buffer[]): Buffer[] {
  return chain.filter((der) => {
    try {
      const cert = parseCertificate(der);
      return !cert.subjectDer.equals(cert.issuerDer);
    } catch {
      return false; // an unreadable extra certificate helps no verifier
    }
  });
}

function softwareCredential(
  pkcs8: Buffer,
  certificate: Buffer,
  chain: Buffer[],
  name: string,
): SmimeCredential {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw new SmimeCredentialError(`${name}: the private key cannot be read (${(e as Error).message})`);
  }
  return fromKeyObject(key, [certificate, ...chain], name);
}

/** Pick, among `certs`, the one for `key`; the rest is the chain. */
function fromKeyObject(key: KeyObject, certs: Buffer[], name: string): SmimeCredential {
  let handle: SoftwareKey;
  try {
    handle = SoftwareKey.fromKeyObject(key);
  } catch (e) {
    throw new SmimeCredentialError(`${name}: unsupported key (${(e as Error).message})`);
  }
  const own = certs.find((der) => spkiOf(der)?.equals(handle.spki));
  if (!own) throw new SmimeCredentialError(`${name}: no certificate in it matches its private key`);
  return { key: handle, certificate: own, chain: certs.filter((c) => c !== own), privateKey: key };
}

function spkiOf(der: Buffer): Buffer | undefined {
  try {
    return parseCertificate(der).spki;
  } catch {
    return undefined;
  }
}

function checkPair(spki: Buffer, certificate: Buffer, name: string): void {
  if (!spkiOf(certificate)?.equals(spki)) {
    throw new SmimeCredentialError(`${name}: the key does not match the certificate; pass the matching pair`);
  }
}
