/** X.509 v3 certificates (RFC 5280 §4): fast signing of a template, and a bounded, typed parser. */
import { randomBytes } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  CertificatePolicies,
  CRLDistributionPoints,
  ExtendedKeyUsage,
  type AlgorithmIdentifier,
  type Extension,
  type Name,
  SubjectAlternativeName,
} from '@peculiar/asn1-x509';
import type { HashAlgorithm, KeyAlgorithm, KeyHandle } from '../crypto/key-handle.js';
import { keyAlgorithmOfSpki, signatureAlgorithmId, verifySignature } from './algorithms.js';
import {
  asAsn1Error,
  bitString,
  children,
  checkDer,
  explicit,
  integer,
  sequence,
  serialize,
  TAG,
  time,
  tlv,
  tlvBytes,
  tlvContent,
  unsignedHex,
} from './der.js';
import { Asn1Error } from './errors.js';
import { extensionDer, KEY_USAGE_NAMES } from './extensions.js';
import { nameDer, nameToString } from './name.js';
import { OID_AD, OID_EXT } from './oids.js';

export interface CertificateTemplate {
  /** Positive INTEGER content bytes, minimal (no redundant leading zero), at most 20 bytes (RFC 5280 §4.1.2.2). */
  serial: Buffer;
  issuer: Name;
  subject: Name;
  notBefore: Date;
  notAfter: Date;
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
  extensions: Extension[];
}

/** Certificates, CRLs and CSRs we accept are far smaller; the bound keeps hostile input cheap to reject. */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;

/** The DER of the signature AlgorithmIdentifier, computed once per (key type, hash, padding). */
const algorithmDerCache = new Map<string, Buffer>();

export function signatureAlgorithmDer(key: KeyAlgorithm, hash: HashAlgorithm, pss = false): Buffer {
  const cacheKey = `${key}/${hash}/${pss}`;
  let der = algorithmDerCache.get(cacheKey);
  if (!der) {
    der = serialize(signatureAlgorithmId(key, hash, { pss }));
    algorithmDerCache.set(cacheKey, der);
  }
  return der;
}

function checkSerial(serial: Buffer): void {
  const first = serial[0];
  if (first === undefined || serial.length > 20)
    throw new RangeError('serial must be 1 to 20 bytes (RFC 5280 §4.1.2.2)');
  if (first & 0x80) throw new RangeError('serial must be positive: clear the top bit of its first byte');
  if (serial.length > 1 && first === 0 && !((serial[1] as number) & 0x80)) {
    throw new RangeError('serial must be minimal: drop the redundant leading zero byte');
  }
  if (serial.every((b) => b === 0)) throw new RangeError('serial must not be zero');
}

/**
 * Build the TBSCertificate DER directly, sign it once with the issuer key, and splice the signature in; the
 * only asn1-schema work is the names and extensions, so signing time is dominated by the signature itself.
 */
export async function signCertificate(
  t: CertificateTemplate,
  issuerKey: KeyHandle,
  hash: HashAlgorithm,
  opts?: { pss?: boolean },
): Promise<Buffer> {
  checkSerial(t.serial);
  if (t.notAfter.getTime() < t.notBefore.getTime()) throw new RangeError('notAfter is before notBefore');
  const algorithm = signatureAlgorithmDer(issuerKey.algorithm, hash, opts?.pss === true);
  const parts = [
    explicit(0, integer(2)), // v3
    tlv(TAG.INTEGER, t.serial),
    algorithm,
    nameDer(t.issuer),
    sequence(time(t.notBefore), time(t.notAfter)),
    nameDer(t.subject),
    t.spki,
  ];
  if (t.extensions.length > 0) {
    const ids = new Set(t.extensions.map((e) => e.extnID));
    if (ids.size !== t.extensions.length) throw new RangeError('an extension appears twice (RFC 5280 §4.2)');
    parts.push(explicit(3, sequence(...t.extensions.map(extensionDer))));
  }
  const tbs = sequence(...parts);
  const signature = await issuerKey.sign(tbs, hash, opts);
  return sequence(tbs, algorithm, bitString(signature));
}

/** 16 CSPRNG bytes, top bit cleared (positive), first byte non-zero (minimal): 127 bits of entropy (BR §7.1). */
export function randomSerial(): Buffer {
  for (;;) {
    const serial = randomBytes(16);
    serial[0] = (serial[0] as number) & 0x7f;
    if (serial[0] !== 0) return serial;
  }
}

export interface ParsedCertificate {
  der: Buffer;
  /** The exact TBSCertificate bytes the signature covers. */
  tbs: Buffer;
  /** Lowercase hex of the serial's magnitude (no sign byte), e.g. "1a2b…". */
  serialHex: string;
  issuer: Name;
  subject: Name;
  issuerDer: Buffer;
  subjectDer: Buffer;
  subjectString: string;
  issuerString: string;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  keyAlgorithm: KeyAlgorithm;
  signatureAlgorithm: AlgorithmIdentifier;
  signature: Buffer;
  isCa: boolean;
  pathLen?: number;
  /** KeyUsage bit names: digitalSignature, nonRepudiation, keyEncipherment, … keyCertSign, cRLSign. */
  keyUsage: string[];
  /** ExtKeyUsage OIDs. */
  extKeyUsage: string[];
  /** rfc822Name subjectAltNames, lowercased. */
  emails: string[];
  subjectKeyId?: Buffer;
  authorityKeyId?: Buffer;
  ocspUrls: string[];
  caIssuersUrls: string[];
  crlUrls: string[];
  policies: string[];
  ocspNoCheck: boolean;
  /** OIDs of critical extensions this parser does not interpret: path validation must reject the certificate. */
  unhandledCriticalExtensions: string[];
  cert: Certificate;
}

const HANDLED_EXTENSIONS = new Set<string>([
  OID_EXT.basicConstraints,
  OID_EXT.keyUsage,
  OID_EXT.extKeyUsage,
  OID_EXT.subjectAltName,
  OID_EXT.subjectKeyIdentifier,
  OID_EXT.authorityKeyIdentifier,
  OID_EXT.authorityInfoAccess,
  OID_EXT.cRLDistributionPoints,
  OID_EXT.certificatePolicies,
  OID_EXT.ocspNoCheck,
]);

type ExtensionFields = Pick<
  ParsedCertificate,
  | 'isCa'
  | 'pathLen'
  | 'keyUsage'
  | 'extKeyUsage'
  | 'emails'
  | 'subjectKeyId'
  | 'authorityKeyId'
  | 'ocspUrls'
  | 'caIssuersUrls'
  | 'crlUrls'
  | 'policies'
  | 'ocspNoCheck'
  | 'unhandledCriticalExtensions'
>;

/** Decode an extension's value as `type`, reporting failures against the extension's name. */
function decodeExtension<T>(ext: Extension, type: new () => T, name: string): T {
  const value = Buffer.from(ext.extnValue.buffer);
  checkDer(value, `${name} extension`, { maxBytes: MAX_CERTIFICATE_BYTES });
  try {
    return AsnConvert.parse(value, type);
  } catch (e) {
    throw new Asn1Error(`${name} extension: malformed value (${(e as Error).message.split('\n')[0]})`);
  }
}

/** KeyUsage BIT STRING → names of the bits set (RFC 5280 §4.2.1.3). */
export function decodeKeyUsage(extnValue: Uint8Array): string[] {
  const t = checkDer(extnValue, 'keyUsage extension', { maxBytes: 16 });
  if (t.tag !== TAG.BIT_STRING || t.contentEnd - t.contentStart < 1) {
    throw new Asn1Error('keyUsage extension: not a BIT STRING');
  }
  const bits = tlvContent(extnValue, t).subarray(1);
  return KEY_USAGE_NAMES.filter((_, i) => (((bits[i >> 3] ?? 0) >> (7 - (i & 7))) & 1) === 1);
}

export function parseExtensions(extensions: readonly Extension[]): ExtensionFields {
  const out: ExtensionFields = {
    isCa: false,
    keyUsage: [],
    extKeyUsage: [],
    emails: [],
    ocspUrls: [],
    caIssuersUrls: [],
    crlUrls: [],
    policies: [],
    ocspNoCheck: false,
    unhandledCriticalExtensions: [],
  };
  const seen = new Set<string>();
  for (const ext of extensions) {
    if (seen.has(ext.extnID)) throw new Asn1Error(`extension ${ext.extnID} appears twice (RFC 5280 §4.2)`);
    seen.add(ext.extnID);
    if (ext.critical && !HANDLED_EXTENSIONS.has(ext.extnID)) out.unhandledCriticalExtensions.push(ext.extnID);
    switch (ext.extnID) {
      case OID_EXT.basicConstraints: {
        const bc = decodeExtension(ext, BasicConstraints, 'basicConstraints');
        out.isCa = bc.cA === true;
        if (bc.pathLenConstraint !== undefined) out.pathLen = bc.pathLenConstraint;
        break;
      }
      case OID_EXT.keyUsage:
        out.keyUsage = decodeKeyUsage(Buffer.from(ext.extnValue.buffer));
        break;
      case OID_EXT.extKeyUsage:
        out.extKeyUsage = [...decodeExtension(ext, ExtendedKeyUsage, 'extKeyUsage')];
        break;
      case OID_EXT.subjectAltName:
        for (const gn of decodeExtension(ext, SubjectAlternativeName, 'subjectAltName')) {
          if (gn.rfc822Name !== undefined) out.emails.push(gn.rfc822Name.toLowerCase());
        }
        break;
      case OID_EXT.subjectKeyIdentifier:
        out.subjectKeyId = Buffer.from(decodeExtension(ext, OctetString, 'subjectKeyIdentifier').buffer);
        break;
      case OID_EXT.authorityKeyIdentifier: {
        const keyId = decodeExtension(ext, AuthorityKeyIdentifier, 'authorityKeyIdentifier').keyIdentifier;
        if (keyId) out.authorityKeyId = Buffer.from(keyId.buffer);
        break;
      }
      case OID_EXT.authorityInfoAccess:
        for (const ad of decodeExtension(ext, AuthorityInfoAccessSyntax, 'authorityInfoAccess')) {
          const url = ad.accessLocation.uniformResourceIdentifier;
          if (url === undefined) continue;
          if (ad.accessMethod === OID_AD.ocsp) out.ocspUrls.push(url);
          if (ad.accessMethod === OID_AD.caIssuers) out.caIssuersUrls.push(url);
        }
        break;
      case OID_EXT.cRLDistributionPoints:
        for (const dp of decodeExtension(ext, CRLDistributionPoints, 'cRLDistributionPoints')) {
          for (const gn of dp.distributionPoint?.fullName ?? []) {
            if (gn.uniformResourceIdentifier !== undefined) out.crlUrls.push(gn.uniformResourceIdentifier);
          }
        }
        break;
      case OID_EXT.certificatePolicies:
        out.policies = Array.from(
          decodeExtension(ext, CertificatePolicies, 'certificatePolicies'),
          (p) => p.policyIdentifier,
        );
        break;
      case OID_EXT.ocspNoCheck:
        out.ocspNoCheck = true;
        break;
    }
  }
  return out;
}

/** Parse a DER certificate (≤ 64 KiB). Every structural problem is an Asn1Error; the signature is not checked. */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  const bytes = Buffer.from(der);
  const root = checkDer(bytes, 'certificate', { maxBytes: MAX_CERTIFICATE_BYTES });
  const [tbsTlv, , sigTlv] = children(bytes, root, 'certificate');
  if (root.tag !== TAG.SEQUENCE || !tbsTlv || tbsTlv.tag !== TAG.SEQUENCE || sigTlv?.tag !== TAG.BIT_STRING) {
    throw new Asn1Error('certificate: expected SEQUENCE { tbsCertificate, signatureAlgorithm, signature }');
  }
  let cert: Certificate;
  try {
    cert = AsnConvert.parse(bytes, Certificate);
  } catch (e) {
    throw new Asn1Error(`certificate: does not match RFC 5280 §4.1 (${(e as Error).message.split('\n')[0]})`);
  }
  return asAsn1Error('certificate', () => {
    const tbsCert = cert.tbsCertificate;
    if (serialize(tbsCert.signature).compare(serialize(cert.signatureAlgorithm)) !== 0) {
      throw new Asn1Error(
        'certificate: signature algorithm in TBSCertificate differs from the outer one (RFC 5280 §4.1.1.2)',
      );
    }
    const tbsChildren = children(bytes, tbsTlv, 'tbsCertificate');
    const offset = tbsChildren[0]?.tag === 0xa0 ? 1 : 0; // version is optional (v1)
    const issuerTlv = tbsChildren[offset + 2];
    const subjectTlv = tbsChildren[offset + 4];
    const spkiTlv = tbsChildren[offset + 5];
    if (!issuerTlv || !subjectTlv || !spkiTlv) throw new Asn1Error('tbsCertificate: missing fields');
    const spki = tlvBytes(bytes, spkiTlv);
    return {
      der: bytes,
      tbs: tlvBytes(bytes, tbsTlv),
      serialHex: unsignedHex(Buffer.from(tbsCert.serialNumber)),
      issuer: tbsCert.issuer,
      subject: tbsCert.subject,
      issuerDer: tlvBytes(bytes, issuerTlv),
      subjectDer: tlvBytes(bytes, subjectTlv),
      subjectString: nameToString(tbsCert.subject),
      issuerString: nameToString(tbsCert.issuer),
      notBefore: tbsCert.validity.notBefore.getTime(),
      notAfter: tbsCert.validity.notAfter.getTime(),
      spki,
      keyAlgorithm: keyAlgorithmOfSpki(spki),
      signatureAlgorithm: cert.signatureAlgorithm,
      signature: Buffer.from(cert.signatureValue),
      ...parseExtensions(tbsCert.extensions ?? []),
      cert,
    };
  });
}

/** Canonical form for name comparison when the encodings differ (RFC 5280 §7.1, simplified: case and spaces). */
function normalizedName(name: Name): string {
  return nameToString(name).toLowerCase().replace(/\s+/g, ' ');
}

/** True when `issuer`'s subject matches `child`'s issuer and `issuer`'s key verifies `child`'s signature. */
export function isIssuedBy(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  const sameName =
    child.issuerDer.equals(issuer.subjectDer) ||
    normalizedName(child.issuer) === normalizedName(issuer.subject);
  return sameName && verifySignature(issuer.spki, child.signatureAlgorithm, child.tbs, child.signature);
}
