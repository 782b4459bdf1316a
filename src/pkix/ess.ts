/**
 * ESS signing-certificate attributes: SigningCertificate (RFC 2634 §5.4, SHA-1 ESSCertID) and
 * SigningCertificateV2 (RFC 5035 §3, ESSCertIDv2). They bind a CMS signature to the signer's certificate so a
 * substituted certificate with the same key is detected; RFC 5816 makes the v2 form the one a TSA uses.
 */
import { createHash } from 'node:crypto';
import type { HashAlgorithm } from '../crypto/key-handle.js';
import { hashFromOid } from './algorithms.js';
import {
  TAG,
  explicit,
  integerFromUnsigned,
  octetString,
  oid,
  readTlv,
  sequence,
  unsignedHex,
} from './der.js';
import { DerCursor, decodeOid } from './der-fields.js';
import { Asn1Error } from './errors.js';
import { OID_ALG } from './oids.js';

export const OID_SIGNING_CERTIFICATE = '1.2.840.113549.1.9.16.2.12';
export const OID_SIGNING_CERTIFICATE_V2 = '1.2.840.113549.1.9.16.2.47';

/** The certificate an ESSCertID points at: its DER, issuer Name DER and serial INTEGER content. */
export interface EssCertificateRef {
  der: Buffer;
  issuerDer: Buffer;
  /** Lowercase hex of the serial's magnitude (der.ts unsignedHex), as ParsedCertificate.serialHex. */
  serialHex: string;
}

export interface EssCertId {
  hash: HashAlgorithm | 'sha1';
  certHash: Buffer;
  issuerSerial?: { issuerDer: Buffer; serialHex: string };
}

/** IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber } with one directoryName ([4] EXPLICIT Name). */
function issuerSerial(cert: EssCertificateRef): Buffer {
  return sequence(
    sequence(explicit(4, cert.issuerDer)),
    integerFromUnsigned(Buffer.from(cert.serialHex, 'hex')),
  );
}

/**
 * SigningCertificateV2 value with one ESSCertIDv2 (hash of the whole certificate + IssuerSerial). SHA-256 is the
 * DEFAULT hashAlgorithm, so DER omits it (X.690 §11.5).
 */
export function encodeSigningCertificateV2(cert: EssCertificateRef, hash: HashAlgorithm = 'sha256'): Buffer {
  const certHash = createHash(hash).update(cert.der).digest();
  const hashAlgorithm = hash === 'sha256' ? Buffer.alloc(0) : sequence(oid(OID_ALG[hash]));
  const essCertIdV2 = sequence(hashAlgorithm, octetString(certHash), issuerSerial(cert));
  return sequence(sequence(essCertIdV2));
}

/**
 * The ESSCertIDs in a SigningCertificate (`version` 1) or SigningCertificateV2 (`version` 2) attribute value.
 * Policies are ignored. Throws Asn1Error when the value is malformed or names a hash we do not know.
 */
export function parseSigningCertificate(value: Buffer, version: 1 | 2): EssCertId[] {
  const where = version === 1 ? 'SigningCertificate' : 'SigningCertificateV2';
  const root = readTlv(value, 0, value.length, where);
  if (root.tag !== TAG.SEQUENCE || root.contentEnd !== value.length) {
    throw new Asn1Error(`${where}: not a single SEQUENCE`);
  }
  const outer = new DerCursor(value, root, where);
  const certs = outer.into(outer.take(TAG.SEQUENCE, 'certs'));
  const ids: EssCertId[] = [];
  for (const item of certs.rest()) {
    if (item.tag !== TAG.SEQUENCE) throw new Asn1Error(`${where}: an ESSCertID must be a SEQUENCE`);
    ids.push(parseEssCertId(certs.into(item), version));
  }
  if (ids.length === 0) throw new Asn1Error(`${where}: no ESSCertID`);
  return ids;
}

function parseEssCertId(c: DerCursor, version: 1 | 2): EssCertId {
  let hash: EssCertId['hash'] = version === 1 ? 'sha1' : 'sha256';
  if (version === 2) {
    const alg = c.optional(TAG.SEQUENCE);
    if (alg) {
      const algCursor = c.into(alg);
      const oidString = decodeOid(algCursor.content(algCursor.take(TAG.OID, 'hashAlgorithm')), c.where);
      const named = hashFromOid(oidString);
      if (!named || oidString !== OID_ALG[named])
        throw new Asn1Error(`${c.where}: unsupported ESSCertIDv2 hash ${oidString}`);
      hash = named;
    }
  }
  const certHash = c.content(c.take(TAG.OCTET_STRING, 'certHash'));
  const expectedLength = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 }[hash];
  if (certHash.length !== expectedLength)
    throw new Asn1Error(`${c.where}: certHash length does not match ${hash}`);
  const serialTlv = c.optional(TAG.SEQUENCE);
  const id: EssCertId = { hash, certHash };
  if (serialTlv) {
    const is = c.into(serialTlv);
    const names = is.into(is.take(TAG.SEQUENCE, 'issuer GeneralNames'));
    const directoryName = names.rest().find((n) => n.tag === 0xa4);
    const serial = is.content(is.take(TAG.INTEGER, 'serialNumber'));
    if (directoryName) {
      const nameCursor = names.into(directoryName);
      const name = nameCursor.take(TAG.SEQUENCE, 'directoryName');
      id.issuerSerial = { issuerDer: nameCursor.bytes(name), serialHex: unsignedHex(serial) };
    }
  }
  c.end();
  return id;
}

/** Does this ESSCertID identify `cert`? The hash must match; IssuerSerial, when present, too (RFC 5035 §4). */
export function essCertIdMatches(id: EssCertId, cert: EssCertificateRef): boolean {
  const digest = createHash(id.hash).update(cert.der).digest();
  if (!digest.equals(id.certHash)) return false;
  if (!id.issuerSerial) return true;
  return id.issuerSerial.issuerDer.equals(cert.issuerDer) && id.issuerSerial.serialHex === cert.serialHex;
}
