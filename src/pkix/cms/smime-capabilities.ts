/**
 * S/MIME signed attributes that tell correspondents how to encrypt to the signer (RFC 8551):
 * SMIMECapabilities (§2.5.2: what the sender can decrypt, strongest preferred first) and
 * SMIMEEncryptionKeyPreference (§2.5.3: which certificate to encrypt to, when it is not the signing one).
 * Harvested from inbound signed mail, they drive the algorithm choice for later encryption.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { Name } from '@peculiar/asn1-x509';
import { parseCertificate } from '../certificate.js';
import { DerCache, TAG, integerFromUnsigned, oid, readTlv, sequence, tlv, unsignedHex } from '../der.js';
import { DerCursor, readOid } from '../der-fields.js';
import { Asn1Error } from '../errors.js';
import { nameToString } from '../name.js';
import { OID_ALG } from '../oids.js';

/** id-aa-encrypKeyPref (RFC 8551 §2.5.3). */
export const OID_ENCRYPTION_KEY_PREFERENCE = '1.2.840.113549.1.9.16.2.11';

/** SMIMECapability ::= SEQUENCE { capabilityID OBJECT IDENTIFIER, parameters ANY OPTIONAL }. */
export interface SmimeCapability {
  capabilityId: string;
  /** DER of the parameters, when the capability has any (e.g. RSAES-OAEP-params). */
  parameters?: Buffer;
}

const OID_RSAES_OAEP = '1.2.840.113549.1.1.7';

/** RSAES-OAEP-params with SHA-256 and MGF1-SHA-256 (RFC 4055 §4.1); pSourceFunc keeps its default. */
const OAEP_SHA256_PARAMS = sequence(
  tlv(0xa0, sequence(oid(OID_ALG.sha256))),
  tlv(0xa1, sequence(oid(OID_ALG.mgf1), sequence(oid(OID_ALG.sha256)))),
);

/** The capabilities Sealpost can decrypt, by name. */
export const SMIME_CAPABILITY = {
  aes256Gcm: { capabilityId: '2.16.840.1.101.3.4.1.46' },
  aes128Gcm: { capabilityId: '2.16.840.1.101.3.4.1.6' },
  aes256Cbc: { capabilityId: OID_ALG.aes256Cbc },
  aes192Cbc: { capabilityId: OID_ALG.aes192Cbc },
  aes128Cbc: { capabilityId: OID_ALG.aes128Cbc },
  rsaesOaepSha256: { capabilityId: OID_RSAES_OAEP, parameters: OAEP_SHA256_PARAMS },
} as const satisfies Record<string, SmimeCapability>;

/**
 * What we advertise by default, strongest first (RFC 8551 §2.5.2 orders by preference). GCM leads because our
 * decrypter reads AuthEnvelopedData; senders that cannot write it (Outlook, Thunderbird) skip to AES-CBC.
 */
export const DEFAULT_SMIME_CAPABILITIES: readonly SmimeCapability[] = [
  SMIME_CAPABILITY.aes256Gcm,
  SMIME_CAPABILITY.aes256Cbc,
  SMIME_CAPABILITY.aes128Cbc,
  SMIME_CAPABILITY.rsaesOaepSha256,
];

const CAPABILITY_NAMES = new Map<string, string>([
  ['2.16.840.1.101.3.4.1.46', 'aes256-gcm'],
  ['2.16.840.1.101.3.4.1.26', 'aes192-gcm'],
  ['2.16.840.1.101.3.4.1.6', 'aes128-gcm'],
  [OID_ALG.aes256Cbc, 'aes256-cbc'],
  [OID_ALG.aes192Cbc, 'aes192-cbc'],
  [OID_ALG.aes128Cbc, 'aes128-cbc'],
  [OID_ALG.desEde3Cbc, 'des-ede3-cbc'],
  ['1.2.840.113549.3.2', 'rc2-cbc'],
  [OID_RSAES_OAEP, 'rsaes-oaep'],
  [OID_ALG.rsaEncryption, 'rsaEncryption'],
  ['1.2.840.113549.1.9.16.3.7', 'preferSignedData'],
  ['1.2.840.113549.1.9.16.3.9', 'canNotDecryptAny'],
]);

/** A readable name for a capability ("aes256-cbc"), or its OID when unknown. */
export function smimeCapabilityName(cap: SmimeCapability): string {
  return CAPABILITY_NAMES.get(cap.capabilityId) ?? cap.capabilityId;
}

/** SMIMECapabilities attribute value: SEQUENCE OF SMIMECapability in the given (preference) order. */
export function encodeSmimeCapabilities(caps: readonly SmimeCapability[]): Buffer {
  return sequence(...caps.map((c) => sequence(oid(c.capabilityId), c.parameters ?? Buffer.alloc(0))));
}

/** Real lists have a dozen entries; the bound keeps hostile attributes cheap. */
const MAX_CAPABILITIES = 256;

function singleElement(value: Buffer, where: string): DerCursor {
  const root = readTlv(value, 0, value.length, where);
  if (root.contentEnd !== value.length) throw new Asn1Error(`${where}: trailing bytes after the value`);
  return new DerCursor(value, root, where);
}

/** Parse an SMIMECapabilities attribute value. Throws Asn1Error when it is malformed. */
export function parseSmimeCapabilities(value: Buffer): SmimeCapability[] {
  const where = 'SMIMECapabilities';
  if (value[0] !== TAG.SEQUENCE) throw new Asn1Error(`${where}: not a SEQUENCE`);
  const list = singleElement(value, where);
  const items = list.rest();
  if (items.length > MAX_CAPABILITIES) throw new Asn1Error(`${where}: more than ${MAX_CAPABILITIES} entries`);
  return items.map((item) => {
    if (item.tag !== TAG.SEQUENCE) throw new Asn1Error(`${where}: an SMIMECapability must be a SEQUENCE`);
    const c = list.into(item);
    const cap: SmimeCapability = { capabilityId: readOid(c, 'capabilityID') };
    if (!c.done) cap.parameters = c.bytes(c.any('parameters'));
    c.end();
    return cap;
  });
}

/** Which certificate the sender wants mail encrypted to: by issuer and serial, or by subject key identifier. */
export type EncryptionKeyPreference = { issuer: string; serialHex: string } | { ski: Buffer };

/**
 * SMIMEEncryptionKeyPreference value naming `encryptionCertificate` by IssuerAndSerialNumber ([0] IMPLICIT,
 * RFC 8551 §2.5.3 — the ASN.1 module uses IMPLICIT TAGS), the form Outlook writes and reads.
 */
export function encodeEncryptionKeyPreference(encryptionCertificate: Buffer): Buffer {
  const cert = parseCertificate(encryptionCertificate);
  return tlv(0xa0, cert.issuerDer, integerFromUnsigned(Buffer.from(cert.serialHex, 'hex')));
}

/** Parse an SMIMEEncryptionKeyPreference value. RecipientKeyIdentifier ([1]) is reduced to its key id. */
export function parseEncryptionKeyPreference(value: Buffer): EncryptionKeyPreference {
  const where = 'SMIMEEncryptionKeyPreference';
  const root = readTlv(value, 0, value.length, where);
  if (root.contentEnd !== value.length) throw new Asn1Error(`${where}: trailing bytes after the value`);
  if (root.tag === 0x82) return { ski: value.subarray(root.contentStart, root.contentEnd) };
  const c = new DerCursor(value, root, where);
  if (root.tag === 0xa1) {
    const ski = c.content(c.take(TAG.OCTET_STRING, 'subjectKeyIdentifier'));
    return { ski };
  }
  if (root.tag !== 0xa0) throw new Asn1Error(`${where}: unknown choice tag 0x${root.tag.toString(16)}`);
  const issuerTlv = c.take(TAG.SEQUENCE, 'issuer');
  const serial = c.content(c.take(TAG.INTEGER, 'serialNumber'));
  c.end();
  return { issuer: nameDerToString(c.bytes(issuerTlv)), serialHex: unsignedHex(serial) };
}

/** The RFC 4514 string of a DER Name, or "#<hex>" (RFC 4514 §2.4 style) when it cannot be decoded. */
export function nameDerToString(der: Buffer): string {
  return nameStrings.get(der, () => {
    try {
      return nameToString(AsnConvert.parse(der, Name));
    } catch {
      return `#${der.toString('hex')}`;
    }
  });
}

/** Signer and issuer names recur on every message from the same correspondents. */
const nameStrings = new DerCache<string>(512);
