/**
 * RSA PKCS#1 v1.5 key-transport decryption with implicit rejection (draft-irtf-cfrg-rsa-guidance §7, as in
 * OpenSSL 3.2). Node 20 refuses RSA_PKCS1_PADDING private decryption (CVE-2023-46809), so we do the raw RSA
 * operation with RSA_NO_PADDING and remove the padding here. A bad padding never produces an error: it produces a
 * pseudo-random key derived from the private key and the ciphertext, so a wrong key and a bad padding fail in
 * the same place (content decryption) and an attacker learns nothing from which one it was.
 */
import { constants, createHash, createHmac, privateDecrypt, type KeyObject } from 'node:crypto';

/** The smallest padding string RFC 8017 §7.2.1 allows. */
const MIN_PADDING_STRING = 8;
const REJECTION_INFO = Buffer.from('sealpost rsa pkcs1 implicit rejection');

/** Per-key secret for the synthetic keys: SHA-256 of the private exponent, computed once per KeyObject. */
const rejectionSecrets = new WeakMap<KeyObject, Buffer>();

export function rejectionSecretOf(privateKey: KeyObject): Buffer {
  let secret = rejectionSecrets.get(privateKey);
  if (!secret) {
    const d = privateKey.export({ format: 'jwk' }).d;
    if (!d) throw new TypeError('RSA PKCS#1 v1.5 decryption needs an RSA private key');
    secret = createHash('sha256').update(Buffer.from(d, 'base64url')).digest();
    rejectionSecrets.set(privateKey, secret);
  }
  return secret;
}

/**
 * The key returned instead of an error: HKDF-SHA256 with the key's secret as salt over the ciphertext, so the
 * same (key, ciphertext) always gives the same bytes and nothing about the padding check is visible.
 */
export function implicitRejectionKey(secret: Uint8Array, ciphertext: Uint8Array, length: number): Buffer {
  // RFC 5869 spelled out with HMAC: node's hkdfSync builds key objects per call and costs several times more,
  // on every message decrypted (the same bytes as hkdfSync('sha256', ciphertext, secret, info, length)).
  const prk = createHmac('sha256', secret).update(ciphertext).digest();
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; blocks.length * 32 < length; i++) {
    previous = createHmac('sha256', prk)
      .update(previous)
      .update(REJECTION_INFO)
      .update(Uint8Array.of(i))
      .digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/**
 * Remove EME-PKCS1-v1_5 padding (RFC 8017 §7.2.2 step 3) from `em`, expecting a message of exactly
 * `expectedLength` bytes, in code whose control flow does not depend on the padding: returns the message when
 * EM = 0x00 ‖ 0x02 ‖ PS (≥ 8 non-zero bytes) ‖ 0x00 ‖ M with |M| = expectedLength, otherwise `fallback`.
 */
export function unpadPkcs1v15(em: Uint8Array, expectedLength: number, fallback: Uint8Array): Buffer {
  if (fallback.length !== expectedLength) throw new RangeError('fallback must have the expected length');
  const k = em.length;
  const separator = k - expectedLength - 1;
  // good is 1 while every check passes; all arithmetic runs whatever the bytes are.
  let good = (separator - 2 >= MIN_PADDING_STRING ? 1 : 0) & (em[0] === 0 ? 1 : 0) & (em[1] === 2 ? 1 : 0);
  let zeroInPadding = 0;
  for (let i = 2; i < k; i++) {
    const isZero = ((em[i] as number) - 1) >>> 31; // 1 when the byte is 0
    const inPadding = ((i - separator) >>> 31) & 1; // 1 when i < separator
    zeroInPadding |= isZero & inPadding;
    good &= i === separator ? isZero : 1;
  }
  good &= zeroInPadding ^ 1;
  const mask = -good & 0xff; // 0xff when good, 0x00 otherwise
  const out = Buffer.alloc(expectedLength);
  for (let i = 0; i < expectedLength; i++) {
    const m = (em[separator + 1 + i] ?? 0) as number;
    out[i] = (m & mask) | ((fallback[i] as number) & ~mask & 0xff);
  }
  return out;
}

/**
 * Decrypt a PKCS#1 v1.5 encrypted key of `expectedLength` bytes with `privateKey`. Never throws for bad input:
 * a ciphertext of the wrong size, one not below the modulus, or a bad padding all give the synthetic key.
 */
export function rsaPkcs1v15Decrypt(
  privateKey: KeyObject,
  ciphertext: Uint8Array,
  expectedLength: number,
): Buffer {
  const secret = rejectionSecretOf(privateKey);
  const fallback = implicitRejectionKey(secret, ciphertext, expectedLength);
  const k = Math.ceil((privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
  if (ciphertext.length > k) return fallback;
  // A ciphertext shorter than k bytes is a valid integer with leading zeros dropped; restore them.
  const padded = Buffer.alloc(k);
  padded.set(ciphertext, k - ciphertext.length);
  let em: Buffer;
  try {
    em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, padded);
  } catch {
    return fallback; // ciphertext ≥ modulus: public information, but stay uniform
  }
  return unpadPkcs1v15(em, expectedLength, fallback);
}
