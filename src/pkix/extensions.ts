/**
 * Builders for the X.509 v3 extensions Sealpost issues. Criticality follows RFC 5280 §4.2 and the CA/B Forum
 * S/MIME Baseline Requirements §7.1.2: basicConstraints and keyUsage critical, the rest non-critical unless noted.
 */
import { createHash } from 'node:crypto';
import { OctetString } from '@peculiar/asn1-schema';
import { Extension } from '@peculiar/asn1-x509';
import {
  checkDer,
  children,
  derBoolean,
  derNull,
  explicit,
  integer,
  octetString,
  oid,
  sequence,
  TAG,
  tlv,
} from './der.js';
import { Asn1Error } from './errors.js';
import { OID_AD, OID_EXT } from './oids.js';

export type KeyUsageName =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'cRLSign'
  | 'encipherOnly'
  | 'decipherOnly';

/** KeyUsage bit names in bit order (RFC 5280 §4.2.1.3). */
export const KEY_USAGE_NAMES: readonly KeyUsageName[] = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

function extension(extnID: string, critical: boolean, valueDer: Buffer): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(valueDer) });
}

/** GeneralName [6] uniformResourceIdentifier IA5String (IMPLICIT). */
const uriName = (url: string): Buffer => tlv(0x86, Buffer.from(url, 'latin1'));

export function basicConstraints(ca: boolean, pathLen?: number): Extension {
  if (pathLen !== undefined && (!ca || !Number.isInteger(pathLen) || pathLen < 0)) {
    throw new RangeError('pathLen is only allowed for a CA and must be a non-negative integer');
  }
  // cA DEFAULT FALSE is omitted when false (DER).
  const fields = ca ? [derBoolean(true), ...(pathLen !== undefined ? [integer(pathLen)] : [])] : [];
  return extension(OID_EXT.basicConstraints, true, sequence(...fields));
}

export function keyUsage(usages: string[]): Extension {
  let flags = 0;
  for (const usage of usages) {
    const bit = KEY_USAGE_NAMES.indexOf(usage as KeyUsageName);
    if (bit < 0)
      throw new RangeError(`unknown key usage "${usage}"; use one of ${KEY_USAGE_NAMES.join(', ')}`);
    flags |= 1 << bit;
  }
  if (flags === 0) throw new RangeError('keyUsage needs at least one usage (RFC 5280 §4.2.1.3)');
  // Named bit list in DER: bit 0 is the most significant bit of the first octet; trailing zero bits dropped.
  const highest = 31 - Math.clz32(flags);
  const octets = Buffer.alloc((highest >> 3) + 1);
  for (let bit = 0; bit <= highest; bit++) {
    if (flags & (1 << bit)) octets[bit >> 3] = (octets[bit >> 3] as number) | (0x80 >> (bit & 7));
  }
  const unusedBits = 7 - (highest & 7);
  return extension(OID_EXT.keyUsage, true, tlv(TAG.BIT_STRING, Buffer.from([unusedBits]), octets));
}

export function extKeyUsage(oids: string[], critical = false): Extension {
  if (oids.length === 0) throw new RangeError('extKeyUsage needs at least one purpose');
  return extension(OID_EXT.extKeyUsage, critical, sequence(...oids.map(oid)));
}

/** RFC 5321 Mailbox in ASCII form: what an rfc822Name IA5String can carry (RFC 5280 §4.2.1.6). */
const MAILBOX =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

export function isAsciiMailbox(email: string): boolean {
  return email.length <= 254 && MAILBOX.test(email);
}

/**
 * subjectAltName with rfc822Names. RFC 5280 §4.2.1.6: critical when the subject DN is empty; pass
 * `{ subjectEmpty: true }` for that case.
 */
export function subjectAltNameEmails(emails: string[], opts?: { subjectEmpty?: boolean }): Extension {
  if (emails.length === 0) throw new RangeError('subjectAltName needs at least one email address');
  for (const email of emails) {
    if (!isAsciiMailbox(email))
      throw new RangeError(`"${email}" is not an ASCII email address usable as rfc822Name`);
  }
  // GeneralName [1] rfc822Name IA5String (IMPLICIT).
  const names = sequence(...emails.map((e) => tlv(0x81, Buffer.from(e, 'latin1'))));
  return extension(OID_EXT.subjectAltName, opts?.subjectEmpty === true, names);
}

/**
 * Key identifier: RFC 5280 §4.2.1.2 method 1, the SHA-1 of the subjectPublicKey BIT STRING value. This is what
 * OpenSSL computes, so identifiers match those of certificates issued by other tools for the same key (SHA-1
 * here is an identifier, not a security function).
 */
export function keyIdentifier(spki: Uint8Array): Buffer {
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm, subjectPublicKey BIT STRING }; hash the bits after the
  // unused-bits octet.
  const root = checkDer(spki, 'SubjectPublicKeyInfo', { maxBytes: 16 * 1024 });
  const key = children(spki, root, 'SubjectPublicKeyInfo')[1];
  if (root.tag !== TAG.SEQUENCE || key?.tag !== TAG.BIT_STRING || key.contentEnd === key.contentStart) {
    throw new Asn1Error('SubjectPublicKeyInfo: expected SEQUENCE { algorithm, subjectPublicKey BIT STRING }');
  }
  return createHash('sha1')
    .update(spki.subarray(key.contentStart + 1, key.contentEnd))
    .digest();
}

/** DER of an Extension, written directly (critical only when TRUE: DEFAULT FALSE is omitted in DER). */
export function extensionDer(e: Extension): Buffer {
  const value = octetString(new Uint8Array(e.extnValue.buffer));
  return e.critical ? sequence(oid(e.extnID), derBoolean(true), value) : sequence(oid(e.extnID), value);
}

export function subjectKeyIdentifier(spki: Uint8Array): Extension {
  return extension(OID_EXT.subjectKeyIdentifier, false, octetString(keyIdentifier(spki)));
}

/** AuthorityKeyIdentifier with only keyIdentifier [0] (RFC 5280 §4.2.1.1). */
export function authorityKeyIdentifier(issuerSki: Uint8Array): Extension {
  return extension(OID_EXT.authorityKeyIdentifier, false, sequence(tlv(0x80, issuerSki)));
}

/** certificatePolicies with bare policy OIDs (no qualifiers, as the S/MIME BR §7.1.2.3 allows). */
export function certificatePolicies(oids: string[]): Extension {
  if (oids.length === 0) throw new RangeError('certificatePolicies needs at least one policy OID');
  return extension(OID_EXT.certificatePolicies, false, sequence(...oids.map((o) => sequence(oid(o)))));
}

export function authorityInfoAccess(ocspUrls: string[], caIssuersUrls: string[]): Extension {
  const items = [
    ...ocspUrls.map((u) => sequence(oid(OID_AD.ocsp), uriName(u))),
    ...caIssuersUrls.map((u) => sequence(oid(OID_AD.caIssuers), uriName(u))),
  ];
  if (items.length === 0) throw new RangeError('authorityInfoAccess needs an OCSP or caIssuers URL');
  return extension(OID_EXT.authorityInfoAccess, false, sequence(...items));
}

/** One DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames } } with the URLs. */
export function crlDistributionPoints(urls: string[]): Extension {
  if (urls.length === 0) throw new RangeError('cRLDistributionPoints needs at least one URL');
  const point = sequence(explicit(0, explicit(0, ...urls.map(uriName))));
  return extension(OID_EXT.cRLDistributionPoints, false, sequence(point));
}

/** id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): extension value is NULL. */
export function ocspNoCheck(): Extension {
  return new Extension({
    extnID: OID_EXT.ocspNoCheck,
    critical: false,
    extnValue: new OctetString(derNull()),
  });
}
