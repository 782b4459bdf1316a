/**
 * Key derivation for CMS key agreement: the ANSI X9.63 KDF (SEC 1 §3.6.1) over ECC-CMS-SharedInfo
 * (RFC 5753 §7.2), used for ECDH on P-256/P-384 (RFC 5753) and X25519 (RFC 8418 §2).
 */
import { createHash } from 'node:crypto';
import { explicit, octetString, sequence } from '../der.js';

export type KdfHash = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

/** dhSinglePass-stdDH-*kdf-scheme (RFC 5753 §7.1.4; SEC 1 for the SHA-2 arcs). */
export const KDF_SCHEME_OID: Record<KdfHash, string> = {
  sha1: '1.3.133.16.840.63.0.2',
  sha224: '1.3.132.1.11.0',
  sha256: '1.3.132.1.11.1',
  sha384: '1.3.132.1.11.2',
  sha512: '1.3.132.1.11.3',
};

const KDF_BY_OID = new Map(Object.entries(KDF_SCHEME_OID).map(([hash, oid]) => [oid, hash as KdfHash]));

export function kdfHashFromSchemeOid(oid: string): KdfHash | undefined {
  return KDF_BY_OID.get(oid);
}

/** K = H(Z ‖ 00000001 ‖ SharedInfo) ‖ H(Z ‖ 00000002 ‖ SharedInfo) ‖ …, truncated to `length` bytes. */
export function x963Kdf(hash: KdfHash, z: Uint8Array, sharedInfo: Uint8Array, length: number): Buffer {
  const blocks: Buffer[] = [];
  const counter = Buffer.alloc(4);
  for (let produced = 0, i = 1; produced < length; i++) {
    counter.writeUInt32BE(i);
    const block = createHash(hash).update(z).update(counter).update(sharedInfo).digest();
    blocks.push(block);
    produced += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/**
 * ECC-CMS-SharedInfo ::= SEQUENCE { keyInfo AlgorithmIdentifier, entityUInfo [0] EXPLICIT OCTET STRING OPTIONAL,
 * suppPubInfo [2] EXPLICIT OCTET STRING } with keyInfo = the key-wrap algorithm exactly as the message carries
 * it, entityUInfo = ukm when present, suppPubInfo = the KEK length in bits as a 32-bit big-endian integer.
 */
export function eccCmsSharedInfo(
  keyWrapAlgorithm: Uint8Array,
  ukm: Uint8Array | undefined,
  kekBytes: number,
): Buffer {
  const bits = Buffer.alloc(4);
  bits.writeUInt32BE(kekBytes * 8);
  const parts: Buffer[] = [Buffer.from(keyWrapAlgorithm)];
  if (ukm) parts.push(explicit(0, octetString(ukm)));
  parts.push(explicit(2, octetString(bits)));
  return sequence(...parts);
}
