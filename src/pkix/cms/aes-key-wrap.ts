/**
 * Key wrap for CMS key agreement: AES key wrap (RFC 3394, as RFC 3565 §2.3.2 uses it) on OpenSSL's id-aes*-wrap
 * ciphers, and — for reading legacy 3DES mail only — the CMS Triple-DES key wrap (RFC 3217 §3), which OpenSSL
 * uses with ECDH when the content is 3DES.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

export type KeyWrap = 'aes128-wrap' | 'aes192-wrap' | 'aes256-wrap' | 'cms3des-wrap';

export const KEY_WRAP_OID: Record<KeyWrap, string> = {
  'aes128-wrap': '2.16.840.1.101.3.4.1.5',
  'aes192-wrap': '2.16.840.1.101.3.4.1.25',
  'aes256-wrap': '2.16.840.1.101.3.4.1.45',
  'cms3des-wrap': '1.2.840.113549.1.9.16.3.6',
};

export const KEK_LENGTH: Record<KeyWrap, number> = {
  'aes128-wrap': 16,
  'aes192-wrap': 24,
  'aes256-wrap': 32,
  'cms3des-wrap': 24,
};

/** OpenSSL cipher names; the 3DES wrap carries its own random IV inside the wrapped key. */
const CIPHER: Record<KeyWrap, string> = {
  'aes128-wrap': 'id-aes128-wrap',
  'aes192-wrap': 'id-aes192-wrap',
  'aes256-wrap': 'id-aes256-wrap',
  'cms3des-wrap': 'id-smime-alg-CMS3DESwrap',
};

const WRAP_BY_OID = new Map(Object.entries(KEY_WRAP_OID).map(([name, oid]) => [oid, name as KeyWrap]));

export function keyWrapFromOid(oid: string): KeyWrap | undefined {
  return WRAP_BY_OID.get(oid);
}

/** RFC 3394 §2.2.3.1 default initial value. */
const AES_WRAP_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

const ivFor = (wrap: KeyWrap): Buffer | null => (wrap === 'cms3des-wrap' ? null : AES_WRAP_IV);

/** Wrap `key` (a multiple of 8 bytes, at least 16) under `kek`. Only AES wraps are ever written. */
export function aesKeyWrap(wrap: Exclude<KeyWrap, 'cms3des-wrap'>, kek: Uint8Array, key: Uint8Array): Buffer {
  if (kek.length !== KEK_LENGTH[wrap]) throw new RangeError(`${wrap} needs a ${KEK_LENGTH[wrap]}-byte KEK`);
  if (key.length < 16 || key.length % 8 !== 0) {
    throw new RangeError('AES key wrap needs a key of 16+ bytes, a multiple of 8');
  }
  const cipher = createCipheriv(CIPHER[wrap], kek, AES_WRAP_IV);
  return Buffer.concat([cipher.update(key), cipher.final()]);
}

/** Unwrap; undefined when the integrity check fails (wrong KEK or damaged input) or the length is impossible. */
export function keyUnwrap(wrap: KeyWrap, kek: Uint8Array, wrapped: Uint8Array): Buffer | undefined {
  if (
    kek.length !== KEK_LENGTH[wrap] ||
    wrapped.length < 24 ||
    wrapped.length % 8 !== 0 ||
    wrapped.length > 4096
  ) {
    return undefined;
  }
  try {
    const decipher = createDecipheriv(CIPHER[wrap], kek, ivFor(wrap));
    return Buffer.concat([decipher.update(wrapped), decipher.final()]);
  } catch {
    return undefined;
  }
}
