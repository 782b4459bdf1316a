import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { MasterKey } from './master-key.js';
import { SoftwareKey } from './software-key.js';

/**
 * Sealed private keys: PKCS#8 DER encrypted under the master key with AES-256-GCM (NIST SP 800-38D).
 *
 * Blob format, version 1 (all lengths fixed except the ciphertext):
 *
 *   offset  size  field
 *   0       3     magic "SPK"
 *   3       1     format version (1)
 *   4       8     keyId of the master key that sealed it (lets an operator tell which key is needed)
 *   12      12    random 96-bit IV (SP 800-38D §8.2.2; one fresh IV per seal)
 *   24      16    GCM tag (128 bits)
 *   40      n     ciphertext of the PKCS#8 DER
 *
 * The GCM additional data is the 12-byte header followed by the caller's `aad` (the key's id or label),
 * so neither the header nor the binding to a key record can be changed, and a blob copied onto another
 * key record does not open.
 */

export class KeySealError extends Error {
  override readonly name = 'KeySealError';
}

const MAGIC = Buffer.from('SPK', 'latin1');
const VERSION = 1;
const KEY_ID_BYTES = 8;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + 1 + KEY_ID_BYTES; // the authenticated header
const PREFIX_BYTES = HEADER_BYTES + IV_BYTES + TAG_BYTES;
/** An RSA-4096 PKCS#8 is about 2.4 kB; bound what we encrypt and parse. */
const MAX_PKCS8_BYTES = 16 * 1024;

/**
 * One message for every way opening can fail (wrong master key, foreign AAD, any corruption), so the
 * error says nothing about which check failed.
 */
const CANNOT_OPEN = 'cannot open sealed key: wrong master key or corrupted data';

function checkAad(aad: string): Buffer {
  if (aad.length === 0)
    throw new KeySealError('sealed key AAD is empty; pass the key id or label it belongs to');
  return Buffer.from(aad, 'utf8');
}

function header(master: MasterKey): Buffer {
  return Buffer.concat([MAGIC, Buffer.from([VERSION]), Buffer.from(master.keyId, 'hex')]);
}

export function sealPrivateKey(pkcs8: Buffer, master: MasterKey, aad: string): Buffer {
  const aadBytes = checkAad(aad);
  if (pkcs8.length === 0 || pkcs8.length > MAX_PKCS8_BYTES) {
    throw new KeySealError(
      `sealPrivateKey expects 1 to ${MAX_PKCS8_BYTES} bytes of PKCS#8 DER, got ${pkcs8.length} bytes`,
    );
  }
  // Catch the usual mistake (PEM text instead of DER) before it is sealed away for years.
  if (pkcs8.subarray(0, 11).toString('latin1') === '-----BEGIN ') {
    throw new KeySealError('sealPrivateKey expects PKCS#8 DER, got PEM text; decode the PEM first');
  }
  const head = header(master);
  const iv = randomBytes(IV_BYTES);
  return master.withKeyBytes((key) => {
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.concat([head, aadBytes]));
    const ciphertext = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
    return Buffer.concat([head, iv, cipher.getAuthTag(), ciphertext]);
  });
}

/** Decrypt a sealed blob to PKCS#8 DER. The caller should zero the result once it is loaded. */
export function openSealedKey(blob: Buffer, master: MasterKey, aad: string): Buffer {
  const aadBytes = checkAad(aad);
  if (blob.length <= PREFIX_BYTES || blob.length > PREFIX_BYTES + MAX_PKCS8_BYTES) {
    throw new KeySealError(CANNOT_OPEN);
  }
  const head = blob.subarray(0, HEADER_BYTES);
  if (!head.equals(header(master))) throw new KeySealError(CANNOT_OPEN);
  const iv = blob.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES);
  const tag = blob.subarray(HEADER_BYTES + IV_BYTES, PREFIX_BYTES);
  const ciphertext = blob.subarray(PREFIX_BYTES);
  return master.withKeyBytes((key) => {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.concat([head, aadBytes]));
    decipher.setAuthTag(tag);
    const plaintext = decipher.update(ciphertext);
    try {
      decipher.final(); // throws when the tag does not verify
    } catch {
      plaintext.fill(0); // never hand out or keep unauthenticated plaintext
      throw new KeySealError(CANNOT_OPEN);
    }
    return plaintext;
  });
}

/** Open a sealed blob and load it as a signing key; the intermediate PKCS#8 bytes are zeroed. */
export function loadSealedSoftwareKey(blob: Buffer, master: MasterKey, aad: string): SoftwareKey {
  const pkcs8 = openSealedKey(blob, master, aad);
  try {
    return SoftwareKey.fromPkcs8(pkcs8);
  } catch (err) {
    throw new KeySealError(
      `sealed key "${aad}" opened but does not hold a usable private key: ${(err as Error).message}`,
    );
  } finally {
    pkcs8.fill(0);
  }
}

/** The keyId of the master key that sealed `blob` (unauthenticated: use it to pick a key, not to trust). */
export function sealedKeyId(blob: Buffer): string {
  if (blob.length <= PREFIX_BYTES || !blob.subarray(0, MAGIC.length).equals(MAGIC) || blob[3] !== VERSION) {
    throw new KeySealError('not a sealed key blob (version 1); it may be corrupted or from another product');
  }
  return blob.subarray(MAGIC.length + 1, HEADER_BYTES).toString('hex');
}
