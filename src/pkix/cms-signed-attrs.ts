/**
 * The CMS SignedData pieces shared by the TSP signer and verifier (RFC 5652 §5): attribute encoding, a bounded
 * reader for one SignedData ContentInfo that keeps the exact signed bytes, and the SignerInfo checks
 * (content-type and message-digest attributes, signature over the DER signed attributes).
 */
import { createHash } from 'node:crypto';
import type { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { HashAlgorithm } from '../crypto/key-handle.js';
import {
  hashFromOid,
  parseAlgorithmIdentifier,
  signatureAlgorithmId,
  verifySignature,
} from './algorithms.js';
import { TAG, checkDer, oid, sequence, tlv, unsignedHex, type Tlv } from './der.js';
import { DerCursor, decodeOid, readOid, readSmallInteger } from './der-fields.js';
import { Asn1Error } from './errors.js';
import { OID_ALG, OID_CT, OID_PKCS9 } from './oids.js';

/** id-ct-TSTInfo (RFC 3161 §2.4.2). */
export const OID_CT_TSTINFO = '1.2.840.113549.1.9.16.1.4';

/** Attribute ::= SEQUENCE { attrType OID, attrValues SET OF AttributeValue } with a single value. */
export function encodeAttribute(type: string, value: Uint8Array): Buffer {
  return sequence(oid(type), tlv(TAG.SET, value));
}

/** The signer's identifier (RFC 5652 §5.3): IssuerAndSerialNumber (v1) or SubjectKeyIdentifier (v3). */
export type SignerId = { issuerDer: Buffer; serialHex: string } | { subjectKeyId: Buffer };

export interface SignerInfoView {
  sid: SignerId;
  digestHash: HashAlgorithm;
  /** The signed attributes re-tagged as SET OF (0x31): the exact bytes the signature covers (RFC 5652 §5.4). */
  signedAttrs: Buffer;
  /** attrType → DER of each value. */
  attributes: Map<string, Buffer[]>;
  signatureAlgorithm: AlgorithmIdentifier;
  signature: Buffer;
}

export interface SignedDataView {
  eContentType: string;
  eContent?: Buffer;
  certificates: Buffer[];
  signers: SignerInfoView[];
}

export interface SignedDataLimits {
  maxBytes: number;
}

/** ContentInfo { id-signedData, [0] SignedData } → a view with exact byte slices. Throws Asn1Error. */
export function readSignedData(der: Uint8Array, what: string, limits: SignedDataLimits): SignedDataView {
  const buf = Buffer.from(der);
  const root = checkDer(buf, what, { maxBytes: limits.maxBytes, maxDepth: 40 });
  if (root.tag !== TAG.SEQUENCE) throw new Asn1Error(`${what}: a ContentInfo must be a SEQUENCE`);
  const contentInfo = new DerCursor(buf, root, `${what} ContentInfo`);
  const contentType = readOid(contentInfo, 'contentType');
  if (contentType !== OID_CT.signedData)
    throw new Asn1Error(`${what}: content type ${contentType} is not SignedData`);
  const wrapper = contentInfo.into(contentInfo.take(0xa0, '[0] content'));
  const sd = wrapper.into(wrapper.take(TAG.SEQUENCE, 'SignedData'), `${what} SignedData`);
  wrapper.end();
  contentInfo.end();

  readSmallInteger(sd, 'version');
  sd.take(TAG.SET, 'digestAlgorithms');
  const encap = sd.into(sd.take(TAG.SEQUENCE, 'encapContentInfo'), `${what} encapContentInfo`);
  const eContentType = readOid(encap, 'eContentType');
  let eContent: Buffer | undefined;
  const explicitContent = encap.optional(0xa0);
  if (explicitContent) {
    const inner = encap.into(explicitContent);
    // BER constructed OCTET STRINGs are legal in CMS but never produced by a DER signer such as a TSA.
    eContent = inner.content(inner.take(TAG.OCTET_STRING, 'eContent as a primitive OCTET STRING'));
    inner.end();
  }
  encap.end();

  const certificates: Buffer[] = [];
  const certSet = sd.optional(0xa0);
  if (certSet) {
    for (const choice of sd.into(certSet).rest()) {
      if (choice.tag === TAG.SEQUENCE) certificates.push(sd.bytes(choice)); // other choices: attribute certs etc.
    }
  }
  sd.optional(0xa1); // crls
  const signerSet = sd.into(sd.take(TAG.SET, 'signerInfos'));
  sd.end();
  const signers = signerSet.rest().map((t) => readSignerInfo(signerSet, t, `${what} SignerInfo`));
  return { eContentType, ...(eContent ? { eContent } : {}), certificates, signers };
}

function readDigestHash(c: DerCursor, what: string): HashAlgorithm {
  const alg = c.into(c.take(TAG.SEQUENCE, what));
  const algOid = readOid(alg, 'algorithm');
  const hash = hashFromOid(algOid);
  if (!hash || algOid !== OID_ALG[hash]) {
    throw new Asn1Error(
      `${c.where}: digest algorithm ${algOid} is not accepted (use SHA-256, SHA-384 or SHA-512)`,
    );
  }
  return hash;
}

function readSignerInfo(parent: DerCursor, t: Tlv, where: string): SignerInfoView {
  if (t.tag !== TAG.SEQUENCE) throw new Asn1Error(`${where}: must be a SEQUENCE`);
  const si = parent.into(t, where);
  const version = readSmallInteger(si, 'version');
  let sid: SignerId;
  if (version === 1) {
    const ias = si.into(si.take(TAG.SEQUENCE, 'IssuerAndSerialNumber'));
    const issuer = ias.take(TAG.SEQUENCE, 'issuer');
    const serial = ias.take(TAG.INTEGER, 'serialNumber');
    ias.end();
    sid = { issuerDer: ias.bytes(issuer), serialHex: unsignedHex(ias.content(serial)) };
  } else if (version === 3) {
    sid = { subjectKeyId: si.content(si.take(0x80, '[0] SubjectKeyIdentifier')) };
  } else {
    throw new Asn1Error(`${where}: version ${version} is not 1 or 3`);
  }
  const digestHash = readDigestHash(si, 'digestAlgorithm');
  const attrsTlv = si.take(0xa0, 'signedAttrs (required for TSTInfo content, RFC 5652 §5.3)');
  const signedAttrs = si.bytes(attrsTlv);
  signedAttrs[0] = TAG.SET;
  const attributes = new Map<string, Buffer[]>();
  const attrs = si.into(attrsTlv, `${where} signedAttrs`);
  for (const a of attrs.rest()) {
    if (a.tag !== TAG.SEQUENCE) throw new Asn1Error(`${where}: an Attribute must be a SEQUENCE`);
    const attr = attrs.into(a);
    const type = readOid(attr, 'attrType');
    const values = attr.into(attr.take(TAG.SET, 'attrValues'));
    attr.end();
    if (attributes.has(type)) throw new Asn1Error(`${where}: attribute ${type} appears twice`);
    attributes.set(
      type,
      values.rest().map((v) => values.bytes(v)),
    );
  }
  const sigAlgTlv = si.take(TAG.SEQUENCE, 'signatureAlgorithm');
  const signatureAlgorithm = parseAlgorithmIdentifier(si.bytes(sigAlgTlv), `${where} signatureAlgorithm`);
  const signature = si.content(si.take(TAG.OCTET_STRING, 'signature'));
  si.optional(0xa1); // unsignedAttrs
  si.end();
  return { sid, digestHash, signedAttrs, attributes, signatureAlgorithm, signature };
}

/** The single value of a single-valued attribute, or undefined when absent. Throws when it has several. */
export function singleAttributeValue(si: SignerInfoView, type: string, name: string): Buffer | undefined {
  const values = si.attributes.get(type);
  if (!values) return undefined;
  if (values.length !== 1)
    throw new Asn1Error(`${name} attribute must have exactly one value (RFC 5652 §11)`);
  return values[0];
}

/**
 * Why the signed attributes do not fit `eContentType`/`eContent`, or undefined when they do: the content-type
 * attribute must name the content and the message-digest attribute must be its hash (RFC 5652 §5.4, §11.1–2).
 */
export function signedAttributesMismatch(
  si: SignerInfoView,
  eContentType: string,
  eContent: Buffer,
): string | undefined {
  const contentType = singleAttributeValue(si, OID_PKCS9.contentType, 'content-type');
  if (!contentType) return 'the content-type signed attribute is missing';
  if (contentType[0] !== TAG.OID || decodeOid(contentType.subarray(2)) !== eContentType) {
    return 'the content-type signed attribute does not match the encapsulated content type';
  }
  const digestValue = singleAttributeValue(si, OID_PKCS9.messageDigest, 'message-digest');
  if (!digestValue) return 'the message-digest signed attribute is missing';
  const expected = createHash(si.digestHash).update(eContent).digest();
  if (digestValue[0] !== TAG.OCTET_STRING || !digestValue.subarray(2).equals(expected)) {
    return 'the message-digest signed attribute does not match the content (the content was altered)';
  }
  return undefined;
}

/**
 * Check the SignerInfo signature with `spki`. CMS allows the bare key OID (rsaEncryption, id-ecPublicKey) as
 * signatureAlgorithm with the hash taken from digestAlgorithm (RFC 5754 §3, RFC 5753 §7.1.3): map those to the
 * combined X.509 identifiers verifySignature knows.
 */
export function verifySignerSignature(si: SignerInfoView, spki: Buffer): boolean {
  let alg = si.signatureAlgorithm;
  if (alg.algorithm === OID_ALG.rsaEncryption) alg = signatureAlgorithmId('rsa-2048', si.digestHash);
  else if (alg.algorithm === OID_ALG.ecPublicKey) alg = signatureAlgorithmId('ec-p256', si.digestHash);
  return verifySignature(spki, alg, si.signedAttrs, si.signature);
}
