/** The error every CMS decryption failure ends in (RFC 5652 §6; RFC 3218 on why failures must look alike). */
export class CmsDecryptError extends Error {
  override name = 'CmsDecryptError';
}

/**
 * One message for a wrong private key, a bad RSA PKCS#1 v1.5 padding, a failed key unwrap, a bad GCM tag and a
 * damaged ciphertext: telling them apart would give an attacker a padding oracle (Bleichenbacher, RFC 3218 §2.3).
 */
export const DAMAGED_MESSAGE =
  'cannot decrypt: the message is damaged or the private key does not belong to the recipient certificate';

export function damaged(): CmsDecryptError {
  return new CmsDecryptError(DAMAGED_MESSAGE);
}

/** A recipient or option we cannot encrypt for (unsupported key, key usage forbids it, size limits). */
export class CmsEncryptError extends Error {
  override name = 'CmsEncryptError';
}
