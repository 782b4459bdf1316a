/**
 * The signed attributes of an S/MIME SignerInfo (RFC 5652 §5.3, §11; RFC 8551 §2.5; RFC 5035): building the DER
 * SET OF that the signature covers, and reading the attributes back into typed facts for the verifier.
 */
import type { HashAlgorithm } from '../../crypto/key-handle.js';
import { encodeAttribute } from '../cms-signed-attrs.js';
import { HASH_LENGTH } from '../algorithms.js';
import { DerCache, TAG, octetString, oid, readTlv, setOf, time, tlvContent, type Tlv } from '../der.js';
import { decodeOid, decodeTime, readOid, type DerCursor } from '../der-fields.js';
import { Asn1Error } from '../errors.js';
import {
  OID_SIGNING_CERTIFICATE,
  OID_SIGNING_CERTIFICATE_V2,
  encodeSigningCertificateV2,
  parseSigningCertificate,
  type EssCertId,
  type EssCertificateRef,
} from '../ess.js';
import { OID_PKCS9 } from '../oids.js';
import {
  OID_ENCRYPTION_KEY_PREFERENCE,
  encodeEncryptionKeyPreference,
  encodeSmimeCapabilities,
  parseEncryptionKeyPreference,
  parseSmimeCapabilities,
  type EncryptionKeyPreference,
  type SmimeCapability,
} from './smime-capabilities.js';

/** id-aa-signatureTimeStampToken (RFC 3161 Appendix A): an unsigned attribute holding a TimeStampToken. */
export const OID_SIGNATURE_TIMESTAMP_TOKEN = '1.2.840.113549.1.9.16.2.14';

/** One single-valued attribute given as its type and the DER of its value. */
export interface CmsAttribute {
  type: string;
  value: Buffer;
}

export interface SignedAttributesInput {
  contentType: string;
  messageDigest: Buffer;
  /** Omitted when undefined (PAdES baseline forbids it, ETSI EN 319 142-1 §5.2.1). */
  signingTime?: Date;
  /** The signer's certificate, bound by signingCertificateV2 with SHA-256 (RFC 5035 §3). */
  signerCertificate: EssCertificateRef;
  capabilities?: readonly SmimeCapability[];
  /** DER of the signer's encryption certificate. */
  encryptionKeyPreference?: Buffer;
  extra?: readonly CmsAttribute[];
}

/**
 * The signed attributes as a DER SET OF (tag 0x31) in X.690 §11.6 order: the exact bytes to sign
 * (RFC 5652 §5.4). The SignerInfo carries them with the tag changed to [0] IMPLICIT (0xa0).
 */
/**
 * The attributes that depend only on the signer's certificates and capability list are the same in every
 * message a signer sends: encoded once (keyed by the bytes, or by the list object, which callers do not edit).
 */
const signingCertificateValues = new DerCache<Buffer>(256);
const encryptionKeyPreferences = new DerCache<Buffer>(256);
const capabilityValues = new WeakMap<readonly SmimeCapability[], Buffer>();

function capabilitiesValue(capabilities: readonly SmimeCapability[]): Buffer {
  let value = capabilityValues.get(capabilities);
  if (!value) capabilityValues.set(capabilities, (value = encodeSmimeCapabilities(capabilities)));
  return value;
}

export function buildSignedAttributes(p: SignedAttributesInput): Buffer {
  const attributes: CmsAttribute[] = [
    { type: OID_PKCS9.contentType, value: oid(p.contentType) },
    { type: OID_PKCS9.messageDigest, value: octetString(p.messageDigest) },
    {
      type: OID_SIGNING_CERTIFICATE_V2,
      value: signingCertificateValues.get(p.signerCertificate.der, () =>
        encodeSigningCertificateV2(p.signerCertificate, 'sha256'),
      ),
    },
  ];
  if (p.signingTime) attributes.push({ type: OID_PKCS9.signingTime, value: time(p.signingTime) });
  if (p.capabilities && p.capabilities.length > 0) {
    attributes.push({ type: OID_PKCS9.smimeCapabilities, value: capabilitiesValue(p.capabilities) });
  }
  const preference = p.encryptionKeyPreference;
  if (preference) {
    attributes.push({
      type: OID_ENCRYPTION_KEY_PREFERENCE,
      value: encryptionKeyPreferences.get(preference, () => encodeEncryptionKeyPreference(preference)),
    });
  }
  const builtIn = new Set(attributes.map((a) => a.type));
  for (const extra of p.extra ?? []) {
    if (builtIn.has(extra.type)) {
      throw new RangeError(`signed attribute ${extra.type} is built in: set it through its own option`);
    }
    builtIn.add(extra.type);
    attributes.push(extra);
  }
  return setOf(...attributes.map((a) => encodeAttribute(a.type, a.value)));
}

/** More attributes than any real signer writes; the bound keeps hostile SignerInfos cheap. */
const MAX_ATTRIBUTES = 64;

/**
 * attrType → DER of each value, from a cursor over a SET OF Attribute (signed or unsigned). An attribute type
 * that appears twice is malformed (RFC 5652 §5.3 allows each type once).
 */
export function readAttributes(set: DerCursor): Map<string, Buffer[]> {
  const out = new Map<string, Buffer[]>();
  const items = set.rest();
  if (items.length > MAX_ATTRIBUTES)
    throw new Asn1Error(`${set.where}: more than ${MAX_ATTRIBUTES} attributes`);
  for (const item of items) {
    if (item.tag !== TAG.SEQUENCE) throw new Asn1Error(`${set.where}: an Attribute must be a SEQUENCE`);
    const attr = set.into(item);
    const type = readOid(attr, 'attrType');
    const values = attr.into(attr.take(TAG.SET, 'attrValues'));
    attr.end();
    if (out.has(type)) throw new Asn1Error(`${set.where}: attribute ${type} appears twice`);
    out.set(
      type,
      values.rest().map((v) => values.bytes(v)),
    );
  }
  return out;
}

/** What the signed attributes say, each field present only when its attribute was present and well-formed. */
export interface SignedAttributeFacts {
  contentType?: string;
  messageDigest?: Buffer;
  signingTime?: Date;
  /** ESSCertIDs from signingCertificateV2, or from the SHA-1 SigningCertificate when only that is present. */
  signingCertificate?: EssCertId[];
  capabilities?: SmimeCapability[];
  encryptionKeyPreference?: EncryptionKeyPreference;
  /** Malformed or missing attributes, one sentence each. */
  problems: string[];
}

/** Read the attributes the S/MIME verifier cares about; a malformed one becomes a problem, not an exception. */
export function interpretSignedAttributes(
  attrs: Map<string, Buffer[]>,
  digest: HashAlgorithm,
): SignedAttributeFacts {
  const facts: SignedAttributeFacts = { problems: [] };
  const read = <T>(type: string, name: string, decode: (value: Buffer) => T): T | undefined => {
    const values = attrs.get(type);
    if (!values) return undefined;
    if (values.length !== 1) {
      facts.problems.push(`the ${name} attribute must have exactly one value (RFC 5652 §11)`);
      return undefined;
    }
    try {
      return decode(values[0] as Buffer);
    } catch (e) {
      facts.problems.push(`the ${name} attribute is malformed: ${(e as Error).message}`);
      return undefined;
    }
  };
  const set = <K extends keyof SignedAttributeFacts>(
    key: K,
    value: SignedAttributeFacts[K] | undefined,
  ): void => {
    if (value !== undefined) facts[key] = value;
  };
  set('contentType', read(OID_PKCS9.contentType, 'content-type', decodeOidValue));
  set(
    'messageDigest',
    read(OID_PKCS9.messageDigest, 'message-digest', (v) => decodeDigestValue(v, digest)),
  );
  set('signingTime', read(OID_PKCS9.signingTime, 'signing-time', decodeTimeValue));
  const v2 = read(OID_SIGNING_CERTIFICATE_V2, 'signingCertificateV2', (v) => parseSigningCertificate(v, 2));
  set(
    'signingCertificate',
    v2 ?? read(OID_SIGNING_CERTIFICATE, 'signingCertificate', (v) => parseSigningCertificate(v, 1)),
  );
  set('capabilities', read(OID_PKCS9.smimeCapabilities, 'SMIMECapabilities', parseSmimeCapabilities));
  set(
    'encryptionKeyPreference',
    read(OID_ENCRYPTION_KEY_PREFERENCE, 'SMIMEEncryptionKeyPreference', parseEncryptionKeyPreference),
  );
  if (!facts.contentType && !attrs.has(OID_PKCS9.contentType)) {
    facts.problems.push('the content-type signed attribute is missing (RFC 5652 §5.3)');
  }
  if (!facts.messageDigest && !attrs.has(OID_PKCS9.messageDigest)) {
    facts.problems.push('the message-digest signed attribute is missing (RFC 5652 §5.3)');
  }
  return facts;
}

function wholeValue(value: Buffer, tag: number, what: string): { t: Tlv; content: Buffer } {
  const t = readTlv(value, 0, value.length, what);
  if (t.tag !== tag || t.contentEnd !== value.length) throw new Asn1Error(`not ${what}`);
  return { t, content: tlvContent(value, t) };
}

function decodeOidValue(value: Buffer): string {
  return decodeOid(wholeValue(value, TAG.OID, 'an OBJECT IDENTIFIER').content);
}

function decodeDigestValue(value: Buffer, digest: HashAlgorithm): Buffer {
  const { content } = wholeValue(value, TAG.OCTET_STRING, 'an OCTET STRING');
  if (content.length !== HASH_LENGTH[digest])
    throw new Asn1Error(`${content.length} bytes is not a ${digest} digest`);
  return content;
}

function decodeTimeValue(value: Buffer): Date {
  const tag = value[0] === TAG.GENERALIZED_TIME ? TAG.GENERALIZED_TIME : TAG.UTC_TIME;
  const { t, content } = wholeValue(value, tag, 'a UTCTime or GeneralizedTime');
  return decodeTime(t, content, 'signing-time');
}
