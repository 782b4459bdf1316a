/** X.509 v3 certificates (RFC 5280 §4): fast signing of a template, and a bounded, typed parser. */
import { randomBytes } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, type Extension, Name } from '@peculiar/asn1-x509';
import type { HashAlgorithm, KeyAlgorithm, KeyHandle } from '../crypto/key-handle.js';
import { keyAlgorithmOfSpki, signatureAlgorithmId, verifySignature } from './algorithms.js';
import {
  asAsn1Error,
  bitString,
  children,
  checkDer,
  DerCache,
  decodeSmallInteger,
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
  type Tlv,
} from './der.js';
import { DerCursor, decodeBoolean, decodeOid, readOid, readTime } from './der-fields.js';
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
  keyUsage: readonly string[];
  /** ExtKeyUsage OIDs. */
  extKeyUsage: readonly string[];
  /** rfc822Name subjectAltNames, lowercased. */
  emails: readonly string[];
  subjectKeyId?: Buffer;
  authorityKeyId?: Buffer;
  ocspUrls: readonly string[];
  caIssuersUrls: readonly string[];
  crlUrls: readonly string[];
  policies: readonly string[];
  ocspNoCheck: boolean;
  /** OIDs of critical extensions this parser does not interpret: path validation must reject the certificate. */
  unhandledCriticalExtensions: readonly string[];
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

/** One extension as it appears in the certificate: its OID, criticality and the DER inside extnValue. */
interface RawExtension {
  extnID: string;
  critical: boolean;
  value: Buffer;
}

/** A cursor over an extension's value, which must be one well-formed element of `tag`. */
function extensionValue(value: Buffer, tag: number, name: string): DerCursor {
  const root = checkDer(value, `${name} extension`, { maxBytes: MAX_CERTIFICATE_BYTES });
  if (root.tag !== tag) throw new Asn1Error(`${name} extension: malformed value (unexpected tag)`);
  return new DerCursor(value, root, `${name} extension`);
}

/** The elements of a SEQUENCE OF, each of which must have `tag`. */
function sequenceOf(c: DerCursor, tag: number, what: string): Tlv[] {
  const items = c.rest();
  for (const t of items) if (t.tag !== tag) throw new Asn1Error(`${c.where}: ${what} has the wrong type`);
  return items;
}

/** GeneralName (RFC 5280 §4.2.1.6) is a CHOICE of context tags [0]..[8]; anything else is malformed. */
function checkGeneralName(t: Tlv, where: string): void {
  if ((t.tag & 0xc0) !== 0x80 || (t.tag & 0x1f) > 8) throw new Asn1Error(`${where}: not a GeneralName`);
}

/** GeneralName tags of the two string choices we read ([1] rfc822Name, [6] URI, both IA5String IMPLICIT). */
const GN_RFC822 = 0x81;
const GN_URI = 0x86;

function generalNames(c: DerCursor, tag: number): string[] {
  const out: string[] = [];
  for (const gn of c.rest()) {
    checkGeneralName(gn, c.where);
    if (gn.tag === tag) out.push(c.content(gn).toString('latin1'));
  }
  return out;
}

function decodeBasicConstraints(value: Buffer): { isCa: boolean; pathLen?: number } {
  const c = extensionValue(value, TAG.SEQUENCE, 'basicConstraints');
  const ca = c.optional(TAG.BOOLEAN);
  const pathLen = c.optional(TAG.INTEGER);
  c.end();
  return {
    isCa: ca ? decodeBoolean(c.content(ca), c.where) : false,
    ...(pathLen ? { pathLen: decodeSmallInteger(c.content(pathLen), `${c.where}: pathLenConstraint`) } : {}),
  };
}

function decodeOidList(value: Buffer, name: string): string[] {
  const c = extensionValue(value, TAG.SEQUENCE, name);
  return sequenceOf(c, TAG.OID, 'an entry').map((t) => decodeOid(c.content(t)));
}

/** The content of an extension value that must be one primitive element of `tag` (e.g. an OCTET STRING). */
function primitiveValue(value: Buffer, tag: number, name: string): Buffer {
  const root = checkDer(value, `${name} extension`, { maxBytes: MAX_CERTIFICATE_BYTES });
  if (root.tag !== tag) throw new Asn1Error(`${name} extension: malformed value (unexpected tag)`);
  return tlvContent(value, root);
}

/** AuthorityKeyIdentifier ::= SEQUENCE { [0] keyIdentifier, [1] authorityCertIssuer, [2] serial }, all optional. */
function decodeAuthorityKeyId(value: Buffer): Buffer | undefined {
  const c = extensionValue(value, TAG.SEQUENCE, 'authorityKeyIdentifier');
  const keyId = c.optional(0x80);
  c.optional(0xa1);
  c.optional(0x82);
  c.end();
  return keyId ? c.content(keyId) : undefined;
}

/** AuthorityInfoAccessSyntax: SEQUENCE OF { accessMethod OID, accessLocation GeneralName } (RFC 5280 §4.2.2.1). */
function decodeAuthorityInfoAccess(value: Buffer): { ocsp: string[]; caIssuers: string[] } {
  const c = extensionValue(value, TAG.SEQUENCE, 'authorityInfoAccess');
  const out = { ocsp: [] as string[], caIssuers: [] as string[] };
  for (const t of sequenceOf(c, TAG.SEQUENCE, 'an AccessDescription')) {
    const ad = c.into(t);
    const method = readOid(ad, 'accessMethod');
    const location = ad.any('accessLocation');
    ad.end();
    checkGeneralName(location, ad.where);
    if (location.tag !== GN_URI) continue;
    const url = ad.content(location).toString('latin1');
    if (method === OID_AD.ocsp) out.ocsp.push(url);
    if (method === OID_AD.caIssuers) out.caIssuers.push(url);
  }
  return out;
}

/** CRLDistributionPoints: the URIs of every distributionPoint's fullName (RFC 5280 §4.2.1.13). */
function decodeCrlDistributionPoints(value: Buffer): string[] {
  const c = extensionValue(value, TAG.SEQUENCE, 'cRLDistributionPoints');
  const urls: string[] = [];
  for (const t of sequenceOf(c, TAG.SEQUENCE, 'a DistributionPoint')) {
    const dp = c.into(t);
    const name = dp.optional(0xa0); // distributionPoint [0] DistributionPointName (a CHOICE: explicit)
    dp.optional(0x81); // reasons
    dp.optional(0xa2); // cRLIssuer
    dp.end();
    if (!name) continue;
    const choice = dp.into(name);
    const fullName = choice.optional(0xa0); // fullName [0] IMPLICIT GeneralNames
    if (!fullName) choice.take(0xa1, 'nameRelativeToCRLIssuer');
    choice.end();
    if (fullName) urls.push(...generalNames(choice.into(fullName), GN_URI));
  }
  return urls;
}

/** CertificatePolicies: SEQUENCE OF PolicyInformation { policyIdentifier, policyQualifiers OPTIONAL }. */
function decodePolicies(value: Buffer): string[] {
  const c = extensionValue(value, TAG.SEQUENCE, 'certificatePolicies');
  return sequenceOf(c, TAG.SEQUENCE, 'a PolicyInformation').map((t) => {
    const info = c.into(t);
    const id = readOid(info, 'policyIdentifier');
    info.optional(TAG.SEQUENCE);
    info.end();
    return id;
  });
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

/** The fields of the extensions we interpret (asn1-schema Extension objects, e.g. from a parsed Certificate). */
export function parseExtensions(extensions: readonly Extension[]): ExtensionFields {
  return interpretExtensions(
    extensions.map((e) => ({
      extnID: e.extnID,
      critical: e.critical,
      value: Buffer.from(e.extnValue.buffer),
    })),
  );
}

/** ExtensionFields while they are being filled in (the parsed result's lists are read-only). */
type ExtensionFieldsBuilder = {
  -readonly [K in keyof ExtensionFields]: ExtensionFields[K] extends readonly string[]
    ? string[]
    : ExtensionFields[K];
};

function interpretExtensions(extensions: readonly RawExtension[]): ExtensionFields {
  const out: ExtensionFieldsBuilder = {
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
        const bc = decodeBasicConstraints(ext.value);
        out.isCa = bc.isCa;
        if (bc.pathLen !== undefined) out.pathLen = bc.pathLen;
        break;
      }
      case OID_EXT.keyUsage:
        out.keyUsage = decodeKeyUsage(ext.value);
        break;
      case OID_EXT.extKeyUsage:
        out.extKeyUsage = decodeOidList(ext.value, 'extKeyUsage');
        break;
      case OID_EXT.subjectAltName: {
        const names = extensionValue(ext.value, TAG.SEQUENCE, 'subjectAltName');
        for (const email of generalNames(names, GN_RFC822)) out.emails.push(email.toLowerCase());
        break;
      }
      case OID_EXT.subjectKeyIdentifier:
        out.subjectKeyId = primitiveValue(ext.value, TAG.OCTET_STRING, 'subjectKeyIdentifier');
        break;
      case OID_EXT.authorityKeyIdentifier: {
        const keyId = decodeAuthorityKeyId(ext.value);
        if (keyId) out.authorityKeyId = keyId;
        break;
      }
      case OID_EXT.authorityInfoAccess: {
        const aia = decodeAuthorityInfoAccess(ext.value);
        out.ocspUrls.push(...aia.ocsp);
        out.caIssuersUrls.push(...aia.caIssuers);
        break;
      }
      case OID_EXT.cRLDistributionPoints:
        out.crlUrls.push(...decodeCrlDistributionPoints(ext.value));
        break;
      case OID_EXT.certificatePolicies:
        out.policies = decodePolicies(ext.value);
        break;
      case OID_EXT.ocspNoCheck:
        out.ocspNoCheck = true;
        break;
    }
  }
  return out;
}

/** Extensions ::= SEQUENCE OF Extension { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. */
function readExtensions(der: Buffer, field: Tlv): RawExtension[] {
  const wrapper = new DerCursor(der, field, 'extensions');
  const list = wrapper.into(wrapper.take(TAG.SEQUENCE, 'Extensions'));
  wrapper.end();
  return sequenceOf(list, TAG.SEQUENCE, 'an Extension').map((t) => {
    const e = list.into(t, 'Extension');
    const extnID = readOid(e, 'extnID');
    const critical = e.optional(TAG.BOOLEAN);
    const value = e.take(TAG.OCTET_STRING, 'extnValue');
    e.end();
    return {
      extnID,
      critical: critical ? decodeBoolean(e.content(critical), e.where) : false,
      value: e.content(value),
    };
  });
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } (RFC 5280 §4.1.1.2). */
function checkAlgorithmIdentifier(der: Buffer, t: Tlv, what: string): void {
  if (t.tag !== TAG.SEQUENCE) throw new Asn1Error(`${what}: not an AlgorithmIdentifier`);
  const c = new DerCursor(der, t, what);
  readOid(c, 'algorithm');
  if (!c.done) c.any('parameters');
  c.end();
}

/** Name ::= SEQUENCE OF SET OF AttributeTypeAndValue { type OID, value ANY } (RFC 5280 §4.1.2.4). */
function checkName(der: Buffer, t: Tlv, what: string): void {
  if (t.tag !== TAG.SEQUENCE) throw new Asn1Error(`${what}: a Name must be a SEQUENCE`);
  const rdns = new DerCursor(der, t, what);
  for (const rdn of sequenceOf(rdns, TAG.SET, 'a RelativeDistinguishedName')) {
    const atvs = rdns.into(rdn);
    for (const atv of sequenceOf(atvs, TAG.SEQUENCE, 'an AttributeTypeAndValue')) {
      const c = atvs.into(atv);
      readOid(c, 'type');
      c.any('value');
      c.end();
    }
  }
}

/** The fields read straight from the DER, and the asn1-schema views built only when someone asks for them. */
interface CertificateCore {
  view?: ParsedCertificate;
  fields: Omit<
    ParsedCertificate,
    'issuer' | 'subject' | 'subjectString' | 'issuerString' | 'signatureAlgorithm' | 'cert'
  >;
  signatureAlgorithmDer: Buffer;
  issuer?: Name;
  subject?: Name;
  subjectString?: string;
  issuerString?: string;
  signatureAlgorithm?: AlgorithmIdentifier;
  cert?: Certificate;
}

/** asn1-schema decoding of a piece this parser has already checked structurally; a failure is an Asn1Error. */
function decodeAs<T>(der: Buffer, type: new () => T, what: string): T {
  try {
    return AsnConvert.parse(der, type);
  } catch (e) {
    throw new Asn1Error(`${what}: does not match RFC 5280 §4.1 (${(e as Error).message.split('\n')[0]})`);
  }
}

function readCertificate(bytes: Buffer): CertificateCore {
  const root = checkDer(bytes, 'certificate', { maxBytes: MAX_CERTIFICATE_BYTES });
  const top = children(bytes, root, 'certificate');
  const [tbsTlv, algTlv, sigTlv] = top;
  if (
    root.tag !== TAG.SEQUENCE ||
    top.length !== 3 ||
    tbsTlv?.tag !== TAG.SEQUENCE ||
    algTlv?.tag !== TAG.SEQUENCE ||
    sigTlv?.tag !== TAG.BIT_STRING
  ) {
    throw new Asn1Error('certificate: expected SEQUENCE { tbsCertificate, signatureAlgorithm, signature }');
  }
  return asAsn1Error('certificate', () => {
    // TBSCertificate (RFC 5280 §4.1): [0] version (absent for v1), serial, signature, issuer, validity,
    // subject, subjectPublicKeyInfo, [1] issuerUniqueID, [2] subjectUniqueID, [3] extensions.
    const tbs = new DerCursor(bytes, tbsTlv, 'tbsCertificate');
    const version = tbs.optional(0xa0);
    if (version) {
      const v = tbs.into(version, 'version');
      v.take(TAG.INTEGER, 'version');
      v.end();
    }
    const serialTlv = tbs.take(TAG.INTEGER, 'serialNumber');
    const innerAlgTlv = tbs.take(TAG.SEQUENCE, 'signature');
    const issuerTlv = tbs.take(TAG.SEQUENCE, 'issuer');
    const validity = tbs.into(tbs.take(TAG.SEQUENCE, 'validity'), 'validity');
    const subjectTlv = tbs.take(TAG.SEQUENCE, 'subject');
    const spkiTlv = tbs.take(TAG.SEQUENCE, 'subjectPublicKeyInfo');
    tbs.optional(0x81);
    tbs.optional(0x82);
    const extensionsTlv = tbs.optional(0xa3);
    tbs.end();
    if (tlvContent(bytes, serialTlv).length === 0) throw new Asn1Error('tbsCertificate: empty serialNumber');
    checkAlgorithmIdentifier(bytes, innerAlgTlv, 'tbsCertificate signature');
    checkAlgorithmIdentifier(bytes, algTlv, 'certificate signatureAlgorithm');
    checkName(bytes, issuerTlv, 'issuer');
    checkName(bytes, subjectTlv, 'subject');
    const notBefore = readTime(validity, 'notBefore');
    const notAfter = readTime(validity, 'notAfter');
    validity.end();
    const innerAlg = tlvBytes(bytes, innerAlgTlv);
    const signatureAlgorithmDer = tlvBytes(bytes, algTlv);
    if (!innerAlg.equals(signatureAlgorithmDer)) {
      // Different bytes may still be the same value in another encoding: compare as asn1-schema re-encodes it.
      const inner = serialize(decodeAs(innerAlg, AlgorithmIdentifier, 'tbsCertificate signature'));
      const outer = serialize(decodeAs(signatureAlgorithmDer, AlgorithmIdentifier, 'signatureAlgorithm'));
      if (!inner.equals(outer)) {
        throw new Asn1Error(
          'certificate: signature algorithm in TBSCertificate differs from the outer one (RFC 5280 §4.1.1.2)',
        );
      }
    }
    const spki = tlvBytes(bytes, spkiTlv);
    const signature = tlvContent(bytes, sigTlv);
    if (signature.length === 0) throw new Asn1Error('certificate: signature BIT STRING is empty');
    return {
      fields: {
        der: bytes,
        tbs: tlvBytes(bytes, tbsTlv),
        serialHex: unsignedHex(tlvContent(bytes, serialTlv)),
        issuerDer: tlvBytes(bytes, issuerTlv),
        subjectDer: tlvBytes(bytes, subjectTlv),
        notBefore,
        notAfter,
        spki,
        keyAlgorithm: keyAlgorithmOfSpki(spki),
        signature: signature.subarray(1),
        ...interpretExtensions(extensionsTlv ? readExtensions(bytes, extensionsTlv) : []),
      },
      signatureAlgorithmDer,
    };
  });
}

/**
 * Parsed certificates by DER: the same signer, recipient and CA certificates come back on every message, and
 * parsing was most of the cost of a small S/MIME operation.
 */
const parsedCertificates = new DerCache<CertificateCore>(512);

/**
 * Parse a DER certificate (≤ 64 KiB). Every structural problem is an Asn1Error; the signature is not checked.
 * The fields are read straight from the DER; the asn1-schema objects (`cert`, `issuer`, `subject`,
 * `signatureAlgorithm`) and the name strings are decoded on first access.
 */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  const bytes = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const core =
    bytes.length > MAX_CERTIFICATE_BYTES
      ? readCertificate(bytes)
      : parsedCertificates.get(bytes, () => readCertificate(Buffer.from(bytes)));
  return (core.view ??= certificateView(core));
}

/**
 * The one view of a cached certificate that every caller shares (parsing is on the hot path of every message
 * signed or verified, so it is not copied per call). Its lists are frozen; treat the rest as read-only too.
 */
function certificateView(core: CertificateCore): ParsedCertificate {
  const f = core.fields;
  for (const list of [
    f.keyUsage,
    f.extKeyUsage,
    f.emails,
    f.ocspUrls,
    f.caIssuersUrls,
    f.crlUrls,
    f.policies,
    f.unhandledCriticalExtensions,
  ])
    Object.freeze(list);
  return {
    ...f,
    get issuer(): Name {
      return (core.issuer ??= decodeAs(f.issuerDer, Name, 'issuer'));
    },
    get subject(): Name {
      return (core.subject ??= decodeAs(f.subjectDer, Name, 'subject'));
    },
    get issuerString(): string {
      return (core.issuerString ??= asAsn1Error('issuer', () => nameToString(this.issuer)));
    },
    get subjectString(): string {
      return (core.subjectString ??= asAsn1Error('subject', () => nameToString(this.subject)));
    },
    get signatureAlgorithm(): AlgorithmIdentifier {
      return (core.signatureAlgorithm ??= decodeAs(
        core.signatureAlgorithmDer,
        AlgorithmIdentifier,
        'signatureAlgorithm',
      ));
    },
    get cert(): Certificate {
      return (core.cert ??= decodeAs(f.der, Certificate, 'certificate'));
    },
  };
}

const normalizedNames = new WeakMap<ParsedCertificate, { issuer?: string; subject?: string }>();

/**
 * A certificate's issuer or subject in canonical form, for name comparison when the encodings differ (RFC 5280
 * §7.1, simplified: case and spaces). Computed once per certificate: path building compares names constantly.
 */
export function normalizedName(cert: ParsedCertificate, which: 'issuer' | 'subject'): string {
  let names = normalizedNames.get(cert);
  if (!names) normalizedNames.set(cert, (names = {}));
  return (names[which] ??= (which === 'issuer' ? cert.issuerString : cert.subjectString)
    .toLowerCase()
    .replace(/\s+/g, ' '));
}

/** Does `child` name `candidate`'s subject as its issuer (same DER, or the same name encoded differently)? */
export function issuerNameMatches(child: ParsedCertificate, candidate: ParsedCertificate): boolean {
  return (
    child.issuerDer.equals(candidate.subjectDer) ||
    normalizedName(child, 'issuer') === normalizedName(candidate, 'subject')
  );
}

/** True when `issuer`'s subject matches `child`'s issuer and `issuer`'s key verifies `child`'s signature. */
export function isIssuedBy(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  return issuerNameMatches(child, issuer) && issuerKeySigned(child, issuer);
}

/**
 * Certificate signature checks by (certificate, issuer): path building checks the same CA links for every
 * message verified, and the answer for given bytes never changes. Parsed certificates are shared views (one per
 * distinct DER), so the views themselves are the keys.
 */
const certificateSignatureChecks = new WeakMap<ParsedCertificate, WeakMap<ParsedCertificate, boolean>>();

function issuerKeySigned(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  let byIssuer = certificateSignatureChecks.get(child);
  if (!byIssuer) certificateSignatureChecks.set(child, (byIssuer = new WeakMap()));
  let signed = byIssuer.get(issuer);
  if (signed === undefined) {
    signed = verifySignature(issuer.spki, child.signatureAlgorithm, child.tbs, child.signature);
    byIssuer.set(issuer, signed);
  }
  return signed;
}
