/**
 * Content encryption for EnvelopedData (AES-CBC, RFC 3565) and AuthEnvelopedData (AES-GCM, RFC 5084), and
 * Triple-DES-CBC for reading legacy mail only (RFC 3370 §5.1; never written).
 */
import {
  createCipheriv,
  createDecipheriv,
  randomBytes,
  type Cipher,
  type CipherGCM,
  type DecipherGCM,
} from 'node:crypto';
import { integer, octetString, oid, sequence } from '../der.js';
import { Asn1Error } from '../errors.js';
import type { BerCursor, BerNode } from './ber.js';
import { CmsDecryptError } from './envelope-errors.js';

export type ContentCipher = 'aes-256-cbc' | 'aes-128-cbc' | 'aes-256-gcm' | 'aes-128-gcm';
export type ReadableContentCipher = ContentCipher | 'des-ede3-cbc';

export const CONTENT_CIPHER_OID: Record<ReadableContentCipher, string> = {
  'aes-128-cbc': '2.16.840.1.101.3.4.1.2',
  'aes-256-cbc': '2.16.840.1.101.3.4.1.42',
  'aes-128-gcm': '2.16.840.1.101.3.4.1.6',
  'aes-256-gcm': '2.16.840.1.101.3.4.1.46',
  'des-ede3-cbc': '1.2.840.113549.3.7',
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
};

const BLOCK_SIZE: Record<ReadableContentCipher, number> = {
  'aes-128-cbc': 16,
  'aes-256-cbc': 16,
  'aes-128-gcm': 1,
  'aes-256-gcm': 1,
  'des-ede3-cbc': 8,
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
  const key = randomBytes(CONTENT_KEY_LENGTH[cipher]);
  if (isAead(cipher)) {
    const nonce = randomBytes(GCM_NONCE_LENGTH);
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
  const iv = randomBytes(16);
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
}

/** Read contentEncryptionAlgorithm; an algorithm we do not read is a CmsDecryptError that names it. */
export function parseContentAlgorithm(c: BerCursor, node: BerNode): ContentAlgorithm {
  const alg = c.into(node, 'contentEncryptionAlgorithm');
  const algOid = alg.oid(alg.any('algorithm'), 'algorithm');
  const cipher = CIPHER_BY_OID.get(algOid);
  if (!cipher) {
    throw new CmsDecryptError(
      `content cipher ${algOid} is not supported; AES-128/256 in CBC or GCM mode and 3DES-CBC are`,
    );
  }
  const params = alg.any('parameters');
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
    if (ciphertext.length === 0 || ciphertext.length % BLOCK_SIZE[alg.cipher] !== 0) return undefined;
    const decipher = createDecipheriv(alg.cipher, key, alg.iv);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return undefined;
  }
}
