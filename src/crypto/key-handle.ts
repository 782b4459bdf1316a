/**
 * A key handle is the only way Sealpost code touches a private key. Software keys and PKCS#11 token
 * keys implement the same interface, so every signer (CA, OCSP, TSA, CMS, PDF) is backend-agnostic.
 */
export type KeyAlgorithm = 'rsa-2048' | 'rsa-3072' | 'rsa-4096' | 'ec-p256' | 'ec-p384' | 'ed25519';
export type HashAlgorithm = 'sha256' | 'sha384' | 'sha512';

export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = [
  'rsa-2048',
  'rsa-3072',
  'rsa-4096',
  'ec-p256',
  'ec-p384',
  'ed25519',
];

export interface SignOptions {
  /** RSA only: RSASSA-PSS (MGF1 with the same hash, salt length = hash length) instead of PKCS#1 v1.5. */
  pss?: boolean;
}

export interface KeyHandle {
  readonly algorithm: KeyAlgorithm;
  readonly backend: 'software' | 'pkcs11';
  /** DER SubjectPublicKeyInfo of the public half. */
  readonly spki: Buffer;
  /**
   * Hash `data` with `hash` and sign it. The result is in the encoding X.509 and CMS carry:
   * RSA raw signature bytes, ECDSA a DER Ecdsa-Sig-Value, Ed25519 the 64 raw bytes (hash ignored).
   */
  sign(data: Uint8Array, hash: HashAlgorithm, options?: SignOptions): Promise<Buffer>;
  /**
   * Sign an already computed digest (RSA: DigestInfo is added here; ECDSA: the digest is signed as is).
   * Ed25519 cannot sign a digest and throws.
   */
  signDigest(digest: Uint8Array, hash: HashAlgorithm, options?: SignOptions): Promise<Buffer>;
}

export function isRsa(alg: KeyAlgorithm): boolean {
  return alg.startsWith('rsa-');
}

export function isEc(alg: KeyAlgorithm): boolean {
  return alg.startsWith('ec-');
}

/** The hash a key's signatures use unless told otherwise: match the curve's strength for EC. */
export function defaultHashFor(alg: KeyAlgorithm): HashAlgorithm {
  if (alg === 'ec-p384' || alg === 'rsa-4096') return 'sha384';
  return 'sha256';
}
