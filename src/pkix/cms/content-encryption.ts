/**
 * Content encryption for EnvelopedData (AES-CBC, RFC 3565) and AuthEnvelopedData (AES-GCM, RFC 5084), and
 * Triple-DES-CBC and RC2-CBC for reading legacy messages only (RFC 3370 §5.1, §5.2; never written). RC2 is
 * what PDFBox puts in the /Recipients envelopes of public-key-encrypted PDFs.
 */
import { createCipheriv, createDecipheriv, type Cipher, type CipherGCM, type DecipherGCM } from 'node:crypto';
import { randomBytesPooled } from '../../crypto/random-pool.js';
import { integer, octetString, oid, sequence } from '../der.js';
import { Asn1Error } from '../errors.js';
import type { BerCursor, BerNode } from './ber.js';
import { CmsDecryptError } from './envelope-errors.js';
import { rc2CbcDecrypt } from '../rc2.js';

export type ContentCipher = 'aes-256-cbc' | 'aes-128-cbc' | 'aes-256-gcm' | 'aes-128-gcm';
export type ReadableContentCipher = ContentCipher | 'des-ede3-cbc' | 'rc2-cbc';

export const CONTENT_CIPHER_OID: Record<ReadableContentCipher, string> = {
  'aes-128-cbc': '2.16.840.1.101.3.4.1.2',
  'aes-256-cbc': '2.16.840.1.101.3.4.1.42',
  'aes-128-gcm': '2.16.840.1.101.3.4.1.6',
  'aes-256-gcm': '2.16.840.1.101.3.4.1.46',
  'des-ede3-cbc': '1.2.840.113549.3.7',
  'rc2-cbc': '1.2.840.113549.3.2',
};
const CIPHER_BY_OID = new Map(
  Object.entries(CONTENT_CIPHER_OID).map(([name, o]) => [o, name as ReadableContentCipher]),
);

export const CONTENT_KEY_LENGTH: Record<ReadableContentCipher, number> = {
  'aes-128-cbc': 16,
  'aes-256-cbc': 32,
  'aes-128-gcm': 16,
  'aes-256-gcm': 32,
  'des-ede3-cbc': 24,
  // RC2 keys vary; 16 bytes (128 bits) is what PDFBox and most RC2 writers use. See ContentAlgorithm.keyLength.
  'rc2-cbc': 16,
};

const BLOCK_SIZE: Record<ReadableContentCipher, number> = {
  'aes-128-cbc': 16,
  'aes-256-cbc': 16,
  'aes-128-gcm': 1,
  'aes-256-gcm': 1,
  'des-ede3-cbc': 8,
  'rc2-cbc': 8,
};

export const isAead = (c: ReadableContentCipher): boolean => c.endsWith('-gcm');

/** RFC 5084 §3.2: a 12-byte nonce is recommended; we write a full 16-byte tag (aes-ICVlen 16). */
const GCM_NONCE_LENGTH = 12;
export const GCM_TAG_LENGTH = 16;

/** Ciphertext length for `plainLength` bytes: CBC adds 1–16 bytes of PKCS#7 padding, GCM adds none. */
export function encryptedLength(cipher: ContentCipher, plainLength: number): number {
  const block = BLOCK_SIZE[cipher];
  return block === 1 ? plainLength : (Math.floor(plainLength / block) + 1) * block;
}

export interface ContentEncryption {
  cipher: ContentCipher;
  /** The content-encryption key the recipient infos carry. */
  key: Buffer;
  /** DER contentEncryptionAlgorithm with its IV/nonce parameters. */
  algorithmIdentifier: Buffer;
  update(chunk: Uint8Array): Buffer;
  final(): Buffer;
  /** The GCM authentication tag, available after final(); undefined for CBC. */
  tag(): Buffer | undefined;
}

/** A fresh random key and IV for `cipher`, ready to encrypt a stream of content. */
export function startContentEncryption(cipher: ContentCipher): ContentEncryption {
  const key = randomBytesPooled(CONTENT_KEY_LENGTH[cipher]);
  if (isAead(cipher)) {
    const nonce = randomBytesPooled(GCM_NONCE_LENGTH);
    const gcm: CipherGCM = createCipheriv(cipher as 'aes-256-gcm', key, nonce, {
      authTagLength: GCM_TAG_LENGTH,
    });
    // GCMParameters ::= SEQUENCE { aes-nonce OCTET STRING, aes-ICVlen INTEGER DEFAULT 12 } (RFC 5084 §3.2)
    const params = sequence(octetString(nonce), integer(GCM_TAG_LENGTH));
    return {
      cipher,
      key,
      algorithmIdentifier: sequence(oid(CONTENT_CIPHER_OID[cipher]), params),
      update: (chunk) => gcm.update(chunk),
      final: () => gcm.final(),
      tag: () => gcm.getAuthTag(),
    };
  }
  const iv = randomBytesPooled(16);
  const cbc: Cipher = createCipheriv(cipher, key, iv);
  return {
    cipher,
    key,
    algorithmIdentifier: sequence(oid(CONTENT_CIPHER_OID[cipher]), octetString(iv)),
    update: (chunk) => cbc.update(chunk),
    final: () => cbc.final(),
    tag: () => undefined,
  };
}

export interface ContentAlgorithm {
  cipher: ReadableContentCipher;
  iv: Buffer;
  /** GCM only: the aes-ICVlen the sender declared. */
  tagLength?: number;
  /** RC2 only: effective key bits from RC2CBCParameter's version (RFC 2268 §6); absent = the key's length. */
  effectiveBits?: number;
  /** Content-key length in bytes when the parameters fix it (RC2); else CONTENT_KEY_LENGTH[cipher]. */
  keyLength?: number;
}

/** RFC 2268 §6: rc2ParameterVersion → effective key bits for the three common sizes; ≥ 256 means itself. */
const RC2_VERSION_BITS = new Map([
  [160, 40],
  [120, 64],
  [58, 128],
]);

/** RC2-CBCParameter ::= SEQUENCE { rc2ParameterVersion INTEGER OPTIONAL, iv OCTET STRING (8) } (RFC 3370 §5.2). */
function parseRc2Parameters(c: BerCursor, params: BerNode): ContentAlgorithm {
  const seq = c.into(params, 'RC2-CBCParameter');
  const version = seq.optional(0x02);
  const iv = seq.octets(seq.take(0x04, 'iv'), 'iv', 64);
  if (iv.length !== 8) throw new Asn1Error('RC2-CBCParameter: the IV must be 8 bytes');
  if (!version) return { cipher: 'rc2-cbc', iv };
  const v = seq.smallInteger(version, 'rc2ParameterVersion');
  const bits = RC2_VERSION_BITS.get(v) ?? (v >= 256 && v <= 1024 ? v : undefined);
  if (bits === undefined)
    throw new CmsDecryptError(`RC2 parameter version ${v} names no effective key length we read`);
  return { cipher: 'rc2-cbc', iv, effectiveBits: bits, keyLength: Math.min(128, Math.ceil(bits / 8)) };
}

/** Read contentEncryptionAlgorithm; an algorithm we do not read is a CmsDecryptError that names it. */
export function parseContentAlgorithm(c: BerCursor, node: BerNode): ContentAlgorithm {
  const alg = c.into(node, 'contentEncryptionAlgorithm');
  const algOid = alg.oid(alg.any('algorithm'), 'algorithm');
  const cipher = CIPHER_BY_OID.get(algOid);
  if (!cipher) {
    throw new CmsDecryptError(
      `content cipher ${algOid} is not supported; AES-128/256 in CBC or GCM mode, 3DES-CBC and RC2-CBC are`,
    );
  }
  const params = alg.any('parameters');
  if (cipher === 'rc2-cbc') return parseRc2Parameters(alg, params);
  if (!isAead(cipher)) {
    if (params.tag !== 0x04 && params.tag !== 0x24)
      throw new Asn1Error('contentEncryptionAlgorithm: the IV is not an OCTET STRING');
    const iv = alg.octets(params, 'IV', 64);
    if (iv.length !== BLOCK_SIZE[cipher])
      throw new Asn1Error(`contentEncryptionAlgorithm: ${cipher} needs a ${BLOCK_SIZE[cipher]}-byte IV`);
    return { cipher, iv };
  }
  const gcm = alg.into(params, 'GCMParameters');
  const nonce = gcm.octets(gcm.take(0x04, 'aes-nonce'), 'aes-nonce', 64);
  const icv = gcm.optional(0x02);
  const tagLength = icv ? gcm.smallInteger(icv, 'aes-ICVlen') : 12;
  if (nonce.length === 0 || tagLength < 12 || tagLength > 16) {
    throw new Asn1Error('GCMParameters: the nonce must not be empty and aes-ICVlen must be 12 to 16');
  }
  return { cipher, iv: nonce, tagLength };
}

/**
 * Decrypt the whole content; undefined when the key is wrong or the data damaged (bad CBC padding, bad GCM tag),
 * so the caller can try the next candidate key and end in one uniform error.
 */
export function decryptContent(
  alg: ContentAlgorithm,
  key: Buffer,
  ciphertext: Buffer,
  aead?: { tag: Buffer; aad?: Buffer },
): Buffer | undefined {
  if (alg.cipher === 'rc2-cbc') return decryptRc2(alg, key, ciphertext);
  if (key.length !== CONTENT_KEY_LENGTH[alg.cipher]) return undefined;
  try {
    if (isAead(alg.cipher)) {
      if (!aead || aead.tag.length !== alg.tagLength) return undefined;
      const gcm: DecipherGCM = createDecipheriv(alg.cipher as 'aes-256-gcm', key, alg.iv, {
        authTagLength: aead.tag.length,
      });
      gcm.setAuthTag(aead.tag);
      if (aead.aad) gcm.setAAD(aead.aad);
      return Buffer.concat([gcm.update(ciphertext), gcm.final()]);
    }
    const block = BLOCK_SIZE[alg.cipher];
    if (ciphertext.length === 0 || ciphertext.length % block !== 0) return undefined;
    // One update over the whole ciphertext with padding left in, then the padding checked and cut off here: the
    // plaintext is a view of the one buffer OpenSSL wrote, not a copy joined to the last block by final().
    const decipher = createDecipheriv(alg.cipher, key, alg.iv).setAutoPadding(false);
    const padded = decipher.update(ciphertext);
    decipher.final();
    return withoutPadding(padded, block);
  } catch {
    return undefined;
  }
}

function decryptRc2(alg: ContentAlgorithm, key: Buffer, ciphertext: Buffer): Buffer | undefined {
  if (key.length < 1 || key.length > 128 || (alg.keyLength !== undefined && key.length !== alg.keyLength))
    return undefined;
  try {
    // Without a version, Bouncy Castle (PDFBox) and OpenSSL use the whole key as the effective length.
    return rc2CbcDecrypt(key, alg.effectiveBits ?? Math.min(1024, key.length * 8), alg.iv, ciphertext);
  } catch {
    return undefined;
  }
}

/** Content decryption chunk by chunk (the streaming reader); RC2 is read in memory only. */
export interface ContentDecryption {
  update(chunk: Uint8Array): Buffer;
  /**
   * The last plaintext, or undefined when the key is wrong or the data damaged (bad CBC padding, bad GCM tag):
   * the same outcome decryptContent reports. `aead` carries the GCM tag (and authAttrs), read after the content.
   */
  final(aead?: { tag: Buffer; aad?: Buffer }): Buffer | undefined;
}

/** Start decrypting with `key`; undefined when the key cannot belong to `alg` (wrong length). */
export function startContentDecryption(alg: ContentAlgorithm, key: Buffer): ContentDecryption | undefined {
  if (alg.cipher === 'rc2-cbc' || key.length !== CONTENT_KEY_LENGTH[alg.cipher]) return undefined;
  if (isAead(alg.cipher)) {
    const gcm: DecipherGCM = createDecipheriv(alg.cipher as 'aes-256-gcm', key, alg.iv, {
      authTagLength: alg.tagLength ?? GCM_TAG_LENGTH,
    });
    return {
      update: (chunk) => gcm.update(chunk),
      final(aead) {
        // GCM needs its additional data before the first update; authAttrs come after the content (RFC 5083
        // §2.1), so a streamed message with them cannot be checked here (the caller refuses it earlier).
        if (!aead || aead.aad || aead.tag.length !== alg.tagLength) return undefined;
        try {
          gcm.setAuthTag(aead.tag);
          return gcm.final();
        } catch {
          return undefined;
        }
      },
    };
  }
  const decipher = createDecipheriv(alg.cipher, key, alg.iv);
  let total = 0;
  return {
    update(chunk) {
      total += chunk.length;
      return decipher.update(chunk);
    },
    final() {
      if (total === 0 || total % BLOCK_SIZE[alg.cipher] !== 0) return undefined;
      try {
        return decipher.final();
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * The plaintext without its PKCS#7 padding (RFC 5652 §6.3), or undefined when the padding is malformed (wrong key
 * or damaged data). Every padding byte is compared, without an early exit.
 */
function withoutPadding(padded: Buffer, block: number): Buffer | undefined {
  const n = padded[padded.length - 1] as number;
  if (n === 0 || n > block) return undefined;
  let diff = 0;
  for (let i = padded.length - n; i < padded.length; i++) diff |= (padded[i] as number) ^ n;
  return diff === 0 ? padded.subarray(0, padded.length - n) : undefined;
}
