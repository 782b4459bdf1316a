/**
 * OCSP (RFC 6960, profiled by RFC 5019): request parsing and a response signer for the responder's hot path,
 * error responses, and a client-side request builder and response reader.
 *
 * The signer never builds asn1-schema objects per request: everything constant (responderID, signature
 * AlgorithmIdentifier, the certs field) is DER encoded once in the constructor, and sign() only concatenates
 * those with the per-answer CertID/status/time bytes and the signature.
 */
import { createHash } from 'node:crypto';
import type { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { HashAlgorithm, KeyHandle } from '../crypto/key-handle.js';
import { parseAlgorithmIdentifier, verifySignature } from './algorithms.js';
import { parseCertificate, signatureAlgorithmDer, type ParsedCertificate } from './certificate.js';
import { REASON_CODES, type RevocationReason } from './crl.js';
import {
  TAG,
  bitString,
  checkDer,
  enumerated,
  explicit,
  integerFromUnsigned,
  octetString,
  oid,
  readTlv,
  sequence,
  tlv,
  unsignedHex,
  type Tlv,
} from './der.js';
import { DerCursor, decodeBoolean, generalizedTime, readOid, readTime } from './der-fields.js';
import { Asn1Error } from './errors.js';
import { OID_ALG } from './oids.js';

/** The request could not be understood: answer with the malformedRequest status (RFC 6960 §2.3). */
export class OcspRequestError extends Error {
  override name = 'OcspRequestError';
}

/** An OCSP response that is not well-formed DER of the RFC 6960 §4.2.1 structures. */
export class OcspResponseError extends Error {
  override name = 'OcspResponseError';
}

export type CertIdHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';

export interface OcspCertId {
  /** The exact CertID bytes from the request, echoed in the response (RFC 6960 §4.2.1 matches on them). */
  der: Buffer;
  hash: CertIdHash;
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  /** Lowercase hex of the serial's magnitude, as ParsedCertificate.serialHex. */
  serialHex: string;
}

export interface OcspRequest {
  certIds: OcspCertId[];
  /**
   * The nonce extension's extnValue content, byte for byte (RFC 8954 clients send an OCTET STRING in it, old
   * ones raw bytes). sign() echoes it unchanged, so either form matches what the client compares.
   */
  nonce?: Buffer;
}

export type OcspCertStatus =
  | { status: 'good' }
  | { status: 'revoked'; revokedAt: Date; reason?: RevocationReason }
  | { status: 'unknown' };

export interface OcspSingleAnswer {
  certId: OcspCertId;
  status: OcspCertStatus;
  thisUpdate: Date;
  nextUpdate: Date;
}

export const OID_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
export const OID_OCSP_NONCE = '1.3.6.1.5.5.7.48.1.2';

/** Bounds from the service contract: small requests, few certificates, short nonces. */
export const MAX_OCSP_REQUEST_BYTES = 16 * 1024;
export const MAX_OCSP_CERT_IDS = 32;
export const MAX_OCSP_NONCE_BYTES = 128;
const MAX_OCSP_RESPONSE_BYTES = 1024 * 1024;

const CERT_ID_HASHES: Record<CertIdHash, { oid: string; length: number }> = {
  sha1: { oid: OID_ALG.sha1, length: 20 },
  sha256: { oid: OID_ALG.sha256, length: 32 },
  sha384: { oid: OID_ALG.sha384, length: 48 },
  sha512: { oid: OID_ALG.sha512, length: 64 },
};
const CERT_ID_HASH_BY_OID = new Map<string, CertIdHash>(
  Object.entries(CERT_ID_HASHES).map(([name, { oid: o }]) => [o, name as CertIdHash]),
);

const REASON_NAMES = new Map(
  Object.entries(REASON_CODES).map(([name, code]) => [code, name as RevocationReason]),
);

// ------------------------------------------------------------------------------------------ request parsing

/** Parse a DER OCSPRequest (RFC 6960 §4.1.1). A signature on the request is accepted but not checked. */
export function parseOcspRequest(der: Uint8Array): OcspRequest {
  if (der.length > MAX_OCSP_REQUEST_BYTES) {
    throw new OcspRequestError(
      `OCSP request of ${der.length} bytes exceeds the ${MAX_OCSP_REQUEST_BYTES}-byte limit`,
    );
  }
  try {
    return readOcspRequest(Buffer.from(der.buffer, der.byteOffset, der.byteLength));
  } catch (e) {
    if (e instanceof OcspRequestError) throw e;
    if (e instanceof Asn1Error) throw new OcspRequestError(`malformed OCSP request: ${e.message}`);
    throw e;
  }
}

function readOcspRequest(buf: Buffer): OcspRequest {
  const root = readTlv(buf, 0, buf.length, 'OCSPRequest');
  if (root.tag !== TAG.SEQUENCE || root.contentEnd !== buf.length) {
    throw new OcspRequestError('malformed OCSP request: not a single DER SEQUENCE');
  }
  const request = new DerCursor(buf, root, 'OCSPRequest');
  const tbs = request.into(request.take(TAG.SEQUENCE, 'tbsRequest'), 'TBSRequest');
  request.optional(0xa0); // optionalSignature: accepted, not checked (we do not require signed requests)
  request.end();

  const version = tbs.optional(0xa0);
  if (version) {
    const v = tbs.into(version);
    const value = v.content(v.take(TAG.INTEGER, 'version'));
    if (value.length !== 1 || value[0] !== 0)
      throw new OcspRequestError('OCSP request version must be v1 (0)');
    v.end();
  }
  tbs.optional(0xa1); // requestorName
  const list = tbs.into(tbs.take(TAG.SEQUENCE, 'requestList'), 'requestList');
  const extensions = tbs.optional(0xa2);
  tbs.end();

  const requests = list.rest();
  if (requests.length === 0) throw new OcspRequestError('OCSP request lists no certificates');
  if (requests.length > MAX_OCSP_CERT_IDS) {
    throw new OcspRequestError(
      `OCSP request lists ${requests.length} certificates; at most ${MAX_OCSP_CERT_IDS} are answered`,
    );
  }
  const certIds = requests.map((r) => {
    if (r.tag !== TAG.SEQUENCE)
      throw new OcspRequestError('malformed OCSP request: a Request must be a SEQUENCE');
    const req = list.into(r, 'Request');
    const certId = readCertId(req, req.take(TAG.SEQUENCE, 'reqCert'));
    req.optional(0xa0); // singleRequestExtensions
    req.end();
    return certId;
  });
  const nonce = extensions ? findNonce(tbs, extensions, (m) => new OcspRequestError(m)) : undefined;
  if (nonce && (nonce.length === 0 || nonce.length > MAX_OCSP_NONCE_BYTES)) {
    throw new OcspRequestError(
      `OCSP nonce of ${nonce.length} bytes is outside 1..${MAX_OCSP_NONCE_BYTES} (RFC 8954 §2.1)`,
    );
  }
  return nonce ? { certIds, nonce } : { certIds };
}

function readCertId(parent: DerCursor, t: Tlv): OcspCertId {
  const c = parent.into(t, 'CertID');
  const alg = c.into(c.take(TAG.SEQUENCE, 'hashAlgorithm'));
  const algOid = readOid(alg, 'algorithm');
  const params = alg.optional(TAG.NULL);
  if (params && params.contentEnd !== params.contentStart)
    throw new Asn1Error('CertID: NULL parameters must be empty');
  alg.end();
  const hash = CERT_ID_HASH_BY_OID.get(algOid);
  if (!hash) throw new OcspRequestError(`CertID hash ${algOid} is not supported (use SHA-1 or SHA-256)`);
  const issuerNameHash = c.content(c.take(TAG.OCTET_STRING, 'issuerNameHash'));
  const issuerKeyHash = c.content(c.take(TAG.OCTET_STRING, 'issuerKeyHash'));
  const serial = c.content(c.take(TAG.INTEGER, 'serialNumber'));
  c.end();
  const expected = CERT_ID_HASHES[hash].length;
  if (issuerNameHash.length !== expected || issuerKeyHash.length !== expected) {
    throw new OcspRequestError(`CertID issuer hashes must be ${expected} bytes for ${hash}`);
  }
  if (serial.length === 0 || serial.length > 32)
    throw new OcspRequestError('CertID serial number is not 1..32 bytes');
  return { der: parent.bytes(t), hash, issuerNameHash, issuerKeyHash, serialHex: unsignedHex(serial) };
}

/** The nonce extnValue content in an [n] EXPLICIT Extensions field, or undefined. */
function findNonce(parent: DerCursor, explicitTlv: Tlv, fail: (m: string) => Error): Buffer | undefined {
  const wrapper = parent.into(explicitTlv);
  const list = wrapper.into(wrapper.take(TAG.SEQUENCE, 'Extensions'), 'Extensions');
  wrapper.end();
  let nonce: Buffer | undefined;
  for (const e of list.rest()) {
    if (e.tag !== TAG.SEQUENCE) throw fail('malformed OCSP extensions: an Extension must be a SEQUENCE');
    const ext = list.into(e, 'Extension');
    const extnId = readOid(ext, 'extnID');
    const critical = ext.optional(TAG.BOOLEAN);
    if (critical) decodeBoolean(ext.content(critical), 'Extension critical');
    const value = ext.content(ext.take(TAG.OCTET_STRING, 'extnValue'));
    ext.end();
    if (extnId === OID_OCSP_NONCE) {
      if (nonce) throw fail('the OCSP nonce extension appears twice');
      nonce = value;
    }
  }
  return nonce;
}

// ------------------------------------------------------------------------------------------ responder

/** subjectPublicKey BIT STRING value without the unused-bits byte: what RFC 6960 key hashes cover. */
function subjectPublicKeyBits(spki: Buffer): Buffer {
  const root = readTlv(spki, 0, spki.length, 'SubjectPublicKeyInfo');
  const c = new DerCursor(spki, root, 'SubjectPublicKeyInfo');
  c.take(TAG.SEQUENCE, 'algorithm');
  return c.content(c.take(TAG.BIT_STRING, 'subjectPublicKey')).subarray(1);
}

/** The issuer's name and key hashes under every CertID hash algorithm, so servesIssuer is a lookup. */
function issuerHashes(issuer: ParsedCertificate): Record<CertIdHash, { name: Buffer; key: Buffer }> {
  const keyBits = subjectPublicKeyBits(issuer.spki);
  const entry = (h: CertIdHash) => ({
    name: createHash(h).update(issuer.subjectDer).digest(),
    key: createHash(h).update(keyBits).digest(),
  });
  return { sha1: entry('sha1'), sha256: entry('sha256'), sha384: entry('sha384'), sha512: entry('sha512') };
}

const CERT_STATUS_GOOD = Buffer.from([0x80, 0x00]); // [0] IMPLICIT NULL
const CERT_STATUS_UNKNOWN = Buffer.from([0x82, 0x00]); // [2] IMPLICIT UnknownInfo (NULL)
const SUCCESSFUL = enumerated(0);
const BASIC_RESPONSE_TYPE = oid(OID_OCSP_BASIC);
const NONCE_EXTN_ID = oid(OID_OCSP_NONCE);

/** RFC 6960 §4.2.2.2: a delegated responder signs with its own key and includes its certificate. */
export class OcspResponder {
  private readonly issuer: Record<CertIdHash, { name: Buffer; key: Buffer }>;
  private readonly responderId: Buffer;
  private readonly signatureAlgorithm: Buffer;
  private readonly certsField: Buffer;
  private readonly key: KeyHandle;
  private readonly hash: HashAlgorithm;

  constructor(p: {
    issuerCertificate: Buffer;
    responderCertificate: Buffer;
    responderKey: KeyHandle;
    hash: HashAlgorithm;
  }) {
    const issuer = parseCertificate(p.issuerCertificate);
    const responder = parseCertificate(p.responderCertificate);
    if (!responder.spki.equals(p.responderKey.spki)) {
      throw new Error(
        'OCSP responder key does not match the responder certificate: configure the matching pair',
      );
    }
    this.issuer = issuerHashes(issuer);
    // ResponderID byKey ([2] EXPLICIT KeyHash): SHA-1 of the responder's public key bits (RFC 6960 §4.2.1).
    const keyHash = createHash('sha1').update(subjectPublicKeyBits(responder.spki)).digest();
    this.responderId = explicit(2, octetString(keyHash));
    this.signatureAlgorithm = signatureAlgorithmDer(p.responderKey.algorithm, p.hash);
    this.certsField = explicit(0, sequence(responder.der));
    this.key = p.responderKey;
    this.hash = p.hash;
  }

  servesIssuer(certId: OcspCertId): boolean {
    const mine = this.issuer[certId.hash];
    return (
      mine !== undefined && mine.name.equals(certId.issuerNameHash) && mine.key.equals(certId.issuerKeyHash)
    );
  }

  async sign(answers: OcspSingleAnswer[], nonce?: Buffer): Promise<Buffer> {
    if (answers.length === 0) throw new RangeError('an OCSP response needs at least one answer');
    const responses = sequence(...answers.map(encodeSingleResponse));
    const producedAt = generalizedTime(new Date());
    const tbs = nonce
      ? sequence(
          this.responderId,
          producedAt,
          responses,
          explicit(1, sequence(sequence(NONCE_EXTN_ID, octetString(nonce)))),
        )
      : sequence(this.responderId, producedAt, responses);
    const signature = await this.key.sign(tbs, this.hash);
    const basic = sequence(tbs, this.signatureAlgorithm, bitString(signature), this.certsField);
    return sequence(SUCCESSFUL, explicit(0, sequence(BASIC_RESPONSE_TYPE, octetString(basic))));
  }
}

function encodeCertStatus(s: OcspCertStatus): Buffer {
  switch (s.status) {
    case 'good':
      return CERT_STATUS_GOOD;
    case 'unknown':
      return CERT_STATUS_UNKNOWN;
    case 'revoked': {
      // RevokedInfo ::= SEQUENCE { revocationTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }, [1] IMPLICIT
      const time = generalizedTime(s.revokedAt);
      if (s.reason === undefined) return tlv(0xa1, time);
      const code = REASON_CODES[s.reason];
      if (code === undefined) throw new RangeError(`unknown revocation reason ${String(s.reason)}`);
      return tlv(0xa1, time, explicit(0, enumerated(code)));
    }
  }
}

function encodeSingleResponse(a: OcspSingleAnswer): Buffer {
  return sequence(
    a.certId.der,
    encodeCertStatus(a.status),
    generalizedTime(a.thisUpdate),
    explicit(0, generalizedTime(a.nextUpdate)),
  );
}

export type OcspErrorStatus =
  'malformedRequest' | 'internalError' | 'tryLater' | 'sigRequired' | 'unauthorized';

const RESPONSE_STATUS: Record<OcspErrorStatus | 'successful', number> = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
};
const RESPONSE_STATUS_NAMES = new Map(Object.entries(RESPONSE_STATUS).map(([name, code]) => [code, name]));

/** OCSPResponse with only a responseStatus (RFC 6960 §4.2.1: no responseBytes unless successful). */
export function ocspErrorResponse(status: OcspErrorStatus): Buffer {
  const code = RESPONSE_STATUS[status];
  if (code === undefined || code === 0) throw new RangeError(`${status} is not an OCSP error status`);
  return sequence(enumerated(code));
}

// ------------------------------------------------------------------------------------------ client side

/** CertID for `serialHex` issued by `issuer` (RFC 6960 §4.1.1). */
export function buildCertId(issuerCertificate: Buffer, serialHex: string, hash: CertIdHash = 'sha1'): Buffer {
  const issuer = parseCertificate(issuerCertificate);
  const hashes = issuerHashes(issuer)[hash];
  const magnitude = Buffer.from(serialHex.length % 2 ? '0' + serialHex : serialHex, 'hex');
  if (magnitude.length === 0) throw new RangeError('serialHex must be a non-empty hex string');
  const hashAlgorithm = sequence(oid(CERT_ID_HASHES[hash].oid), Buffer.from([TAG.NULL, 0]));
  return sequence(
    hashAlgorithm,
    octetString(hashes.name),
    octetString(hashes.key),
    integerFromUnsigned(magnitude),
  );
}

/** The extnValue content for a raw nonce: an OCTET STRING (RFC 8954 §2.1). Compare with ParsedOcspResponse.nonce. */
export function encodeOcspNonce(nonce: Buffer): Buffer {
  return octetString(nonce);
}

/**
 * A DER OCSPRequest for one certificate. `nonce` is the raw nonce value (16–32 random bytes recommended);
 * it is wrapped as RFC 8954 says.
 */
export function buildOcspRequest(p: {
  issuerCertificate: Buffer;
  serialHex: string;
  hash?: 'sha1' | 'sha256';
  nonce?: Buffer;
}): Buffer {
  const request = sequence(buildCertId(p.issuerCertificate, p.serialHex, p.hash ?? 'sha1'));
  const parts = [sequence(request)];
  if (p.nonce)
    parts.push(explicit(2, sequence(sequence(NONCE_EXTN_ID, octetString(encodeOcspNonce(p.nonce))))));
  return sequence(sequence(...parts));
}

export interface ParsedOcspAnswer {
  certId: OcspCertId;
  serialHex: string;
  status: OcspCertStatus;
  thisUpdate: Date;
  nextUpdate?: Date;
}

export interface ParsedOcspResponse {
  status: string;
  producedAt?: Date;
  answers: ParsedOcspAnswer[];
  /** The nonce extension's extnValue content, as OcspRequest.nonce (compare with encodeOcspNonce(raw)). */
  nonce?: Buffer;
  certificates: Buffer[];
  /** The included certificate the responderID names, if any. */
  responderCertificate?: Buffer;
  /** Signature checked against responderCertificate; undefined when no included certificate matches. */
  signatureValid?: boolean;
}

/**
 * Read a DER OCSPResponse. Structure is checked fully; the signature only against an included certificate
 * matching the responderID. Whether that responder is authorised for the issuer is the validation layer's job.
 */
export function parseOcspResponse(der: Uint8Array): ParsedOcspResponse {
  try {
    return readOcspResponse(Buffer.from(der.buffer, der.byteOffset, der.byteLength));
  } catch (e) {
    if (e instanceof OcspResponseError) throw e;
    if (e instanceof Asn1Error || e instanceof OcspRequestError) {
      throw new OcspResponseError(`malformed OCSP response: ${e.message}`);
    }
    throw e;
  }
}

function readOcspResponse(buf: Buffer): ParsedOcspResponse {
  const root = checkDer(buf, 'OCSPResponse', { maxBytes: MAX_OCSP_RESPONSE_BYTES, maxDepth: 40 });
  if (root.tag !== TAG.SEQUENCE) throw new OcspResponseError('malformed OCSP response: not a SEQUENCE');
  const response = new DerCursor(buf, root, 'OCSPResponse');
  const statusBytes = response.content(response.take(TAG.ENUMERATED, 'responseStatus'));
  const status = statusBytes.length === 1 ? RESPONSE_STATUS_NAMES.get(statusBytes[0] as number) : undefined;
  if (!status) throw new OcspResponseError('malformed OCSP response: unknown responseStatus');
  const bytesTlv = response.optional(0xa0);
  response.end();
  if (status !== 'successful') return { status, answers: [], certificates: [] };
  if (!bytesTlv) throw new OcspResponseError('malformed OCSP response: successful but without responseBytes');

  const wrapper = response.into(bytesTlv);
  const responseBytes = wrapper.into(wrapper.take(TAG.SEQUENCE, 'ResponseBytes'));
  wrapper.end();
  const type = readOid(responseBytes, 'responseType');
  if (type !== OID_OCSP_BASIC)
    throw new OcspResponseError(`OCSP response type ${type} is not id-pkix-ocsp-basic`);
  const basicTlv = responseBytes.take(TAG.OCTET_STRING, 'response');
  responseBytes.end();
  const basicDer = responseBytes.content(basicTlv);
  const basicRoot = readTlv(basicDer, 0, basicDer.length, 'BasicOCSPResponse');
  if (basicRoot.tag !== TAG.SEQUENCE || basicRoot.contentEnd !== basicDer.length) {
    throw new OcspResponseError('malformed OCSP response: BasicOCSPResponse is not a single SEQUENCE');
  }
  const basic = new DerCursor(basicDer, basicRoot, 'BasicOCSPResponse');
  const tbsTlv = basic.take(TAG.SEQUENCE, 'tbsResponseData');
  const sigAlgDer = basic.bytes(basic.take(TAG.SEQUENCE, 'signatureAlgorithm'));
  const sigBits = basic.content(basic.take(TAG.BIT_STRING, 'signature'));
  const certs: Buffer[] = [];
  const certsTlv = basic.optional(0xa0);
  if (certsTlv) {
    const w = basic.into(certsTlv);
    const list = w.into(w.take(TAG.SEQUENCE, 'certs'));
    w.end();
    for (const cert of list.rest()) certs.push(list.bytes(cert));
  }
  basic.end();

  const tbs = basic.into(tbsTlv, 'ResponseData');
  tbs.optional(0xa0); // version (v1)
  const responderTlv = tbs.any('responderID');
  if (responderTlv.tag !== 0xa1 && responderTlv.tag !== 0xa2) {
    throw new OcspResponseError('malformed OCSP response: responderID is neither byName [1] nor byKey [2]');
  }
  const producedAt = readTime(tbs, 'producedAt');
  const list = tbs.into(tbs.take(TAG.SEQUENCE, 'responses'), 'responses');
  const extTlv = tbs.optional(0xa1);
  tbs.end();
  const answers = list.rest().map((t) => readSingleResponse(list, t));
  const nonce = extTlv ? findNonce(tbs, extTlv, (m) => new OcspResponseError(m)) : undefined;

  const responder = findResponderCertificate(tbs, responderTlv, certs);
  const result: ParsedOcspResponse = { status, producedAt, answers, certificates: certs };
  if (nonce) result.nonce = nonce;
  if (responder) {
    result.responderCertificate = responder.der;
    result.signatureValid = checkSignature(responder.spki, sigAlgDer, basic.bytes(tbsTlv), sigBits);
  }
  return result;
}

function readSingleResponse(list: DerCursor, t: Tlv): ParsedOcspAnswer {
  if (t.tag !== TAG.SEQUENCE)
    throw new OcspResponseError('malformed OCSP response: SingleResponse is not a SEQUENCE');
  const c = list.into(t, 'SingleResponse');
  const certId = readCertId(c, c.take(TAG.SEQUENCE, 'certID'));
  const statusTlv = c.any('certStatus');
  let status: OcspCertStatus;
  if (statusTlv.tag === 0x80) status = { status: 'good' };
  else if (statusTlv.tag === 0x82) status = { status: 'unknown' };
  else if (statusTlv.tag === 0xa1) {
    const revoked = c.into(statusTlv, 'RevokedInfo');
    const revokedAt = readTime(revoked, 'revocationTime');
    status = { status: 'revoked', revokedAt };
    const reasonTlv = revoked.optional(0xa0);
    if (reasonTlv) {
      const r = revoked.into(reasonTlv);
      const code = r.content(r.take(TAG.ENUMERATED, 'revocationReason'));
      r.end();
      const name = code.length === 1 ? REASON_NAMES.get(code[0] as number) : undefined;
      if (!name) throw new OcspResponseError('malformed OCSP response: unknown CRLReason code');
      status.reason = name;
    }
    revoked.end();
  } else {
    throw new OcspResponseError(
      'malformed OCSP response: certStatus is not good [0], revoked [1] or unknown [2]',
    );
  }
  const thisUpdate = readTime(c, 'thisUpdate');
  const next = c.optional(0xa0);
  c.optional(0xa1); // singleExtensions
  c.end();
  const answer: ParsedOcspAnswer = { certId, serialHex: certId.serialHex, status, thisUpdate };
  if (next) answer.nextUpdate = readTime(c.into(next), 'nextUpdate');
  return answer;
}

function findResponderCertificate(
  tbs: DerCursor,
  responderTlv: Tlv,
  certs: Buffer[],
): ParsedCertificate | undefined {
  const id = tbs.into(responderTlv);
  const value = id.any('responderID value');
  id.end();
  for (const der of certs) {
    let cert: ParsedCertificate;
    try {
      cert = parseCertificate(der);
    } catch {
      continue; // an unreadable extra certificate does not make the response malformed
    }
    if (
      responderTlv.tag === 0xa1
        ? cert.subjectDer.equals(id.bytes(value))
        : matchesKeyHash(cert, id.content(value))
    ) {
      return cert;
    }
  }
  return undefined;
}

function matchesKeyHash(cert: ParsedCertificate, keyHash: Buffer): boolean {
  return createHash('sha1').update(subjectPublicKeyBits(cert.spki)).digest().equals(keyHash);
}

function checkSignature(spki: Buffer, sigAlgDer: Buffer, tbs: Buffer, sigBits: Buffer): boolean {
  if (sigBits[0] !== 0) return false; // a signature is a whole number of bytes
  let alg: AlgorithmIdentifier;
  try {
    alg = parseAlgorithmIdentifier(sigAlgDer);
  } catch {
    return false;
  }
  return verifySignature(spki, alg, tbs, sigBits.subarray(1));
}
