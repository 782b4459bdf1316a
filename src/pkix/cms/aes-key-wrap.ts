/** AES key wrap (RFC 3394) for CMS key agreement (RFC 3565 §2.3.2), on OpenSSL's id-aes*-wrap ciphers. */
import { createCipheriv, createDecipheriv } from 'node:crypto';

export type KeyWrap = 'aes128-wrap' | 'aes192-wrap' | 'aes256-wrap';

export const KEY_WRAP_OID: Record<KeyWrap, string> = {
  'aes128-wrap': '2.16.840.1.101.3.4.1.5',
  'aes192-wrap': '2.16.840.1.101.3.4.1.25',
  'aes256-wrap': '2.16.840.1.101.3.4.1.45',
};

export const KEK_LENGTH: Record<KeyWrap, number> = {
  'aes128-wrap': 16,
  'aes192-wrap': 24,
  'aes256-wrap': 32,
};

const WRAP_BY_OID = new Map(Object.entries(KEY_WRAP_OID).map(([name, oid]) => [oid, name as KeyWrap]));

export function keyWrapFromOid(oid: string): KeyWrap | undefined {
  return WRAP_BY_OID.get(oid);
}

/** RFC 3394 §2.2.3.1 default initial value. */
const DEFAULT_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

function cipherName(kek: Uint8Array): string {
  if (kek.length !== 16 && kek.length !== 24 && kek.length !== 32)
    throw new RangeError('AES KEK must be 16, 24 or 32 bytes');
  return `id-aes${kek.length * 8}-wrap`;
}

/** Wrap `key` (a multiple of 8 bytes, at least 16) under `kek`. */
export function aesKeyWrap(kek: Uint8Array, key: Uint8Array): Buffer {
  if (key.length < 16 || key.length % 8 !== 0)
    throw new RangeError('AES key wrap needs a key of 16+ bytes, a multiple of 8');
  const cipher = createCipheriv(cipherName(kek), kek, DEFAULT_IV);
  return Buffer.concat([cipher.update(key), cipher.final()]);
}

/** Unwrap; undefined when the integrity check fails (wrong KEK or damaged input) or the length is impossible. */
export function aesKeyUnwrap(kek: Uint8Array, wrapped: Uint8Array): Buffer | undefined {
  if (wrapped.length < 24 || wrapped.length % 8 !== 0 || wrapped.length > 4096) return undefined;
  try {
    const decipher = createDecipheriv(cipherName(kek), kek, DEFAULT_IV);
    return Buffer.concat([decipher.update(wrapped), decipher.final()]);
  } catch {
    return undefined;
  }
}
