/**
 * Time-Stamp Protocol (RFC 3161, with the ESSCertIDv2 update of RFC 5816): request parsing, the TSA's
 * response signer, rejections, and the client-side response reader and token verifier.
 *
 * TimeStampSigner is the hot path: the policy, accuracy, signer identifier, algorithm identifiers, the
 * signingCertificateV2 attribute and the certificates field are DER encoded once in the constructor; sign()
 * only concatenates them with the per-request TSTInfo fields (imprint, serial, genTime, nonce), the digest,
 * the signing time and the signature.
 */
import { createHash } from 'node:crypto';
import type { HashAlgorithm, KeyHandle } from '../crypto/key-handle.js';
import { HASH_LENGTH, digestAlgorithmId, hashFromOid } from './algorithms.js';
import { parseCertificate, signatureAlgorithmDer, type ParsedCertificate } from './certificate.js';
import {
  OID_CT_TSTINFO,
  encodeAttribute,
  readSignedData,
  signedAttributesMismatch,
  singleAttributeValue,
  verifySignerSignature,
  type SignedDataView,
  type SignerInfoView,
} from './cms-signed-attrs.js';
import {
  TAG,
  derBoolean,
  explicit,
  integer,
  integerFromUnsigned,
  octetString,
  oid,
  readTlv,
  sequence,
  serialize,
  time,
  tlv,
  utf8String,
} from './der.js';
import {
  DerCursor,
  decodeBoolean,
  decodeInteger,
  readOid,
  readSmallInteger,
  decodeTime,
  generalizedTime,
} from './der-fields.js';
import { Asn1Error } from './errors.js';
import {
  OID_SIGNING_CERTIFICATE,
  OID_SIGNING_CERTIFICATE_V2,
  encodeSigningCertificateV2,
  essCertIdMatches,
  parseSigningCertificate,
  type EssCertId,
} from './ess.js';
import { OID_ALG, OID_CT, OID_KP, OID_PKCS9 } from './oids.js';

export type TspFailInfo =
  | 'badAlg'
  | 'badRequest'
  | 'badDataFormat'
  | 'unacceptedPolicy'
  | 'unacceptedExtension'
  | 'addInfoNotAvailable'
  | 'systemFailure';

/** A request the TSA must reject; failInfo goes into the PKIStatusInfo (RFC 3161 §2.4.2). */
export class TspRequestError extends Error {
  override name = 'TspRequestError';
  constructor(
    readonly failInfo: TspFailInfo,
    message: string,
  ) {
    super(message);
  }
}

/** A TimeStampResp or TimeStampToken that is not well-formed. */
export class TspResponseError extends Error {
  override name = 'TspResponseError';
}

export type TspVerifyReason =
  | 'malformed'
  | 'signer-not-found'
  | 'signer-certificate'
  | 'content-type'
  | 'message-digest'
  | 'signing-certificate'
  | 'signature'
  | 'imprint';

/** A token that does not verify; `reason` says which check failed. */
export class TspVerifyError extends Error {
  override name = 'TspVerifyError';
  constructor(
    readonly reason: TspVerifyReason,
    message: string,
  ) {
    super(message);
  }
}

export interface TimeStampRequest {
  hash: HashAlgorithm;
  messageImprint: Buffer;
  reqPolicy?: string;
  /** INTEGER content bytes, echoed verbatim. */
  nonce?: Buffer;
  certReq: boolean;
  /** The exact MessageImprint bytes of a parsed request: echoed in TSTInfo (RFC 3161 §2.4.2 "same value"). */
  messageImprintDer?: Buffer;
}

export const MAX_TSP_REQUEST_BYTES = 16 * 1024;
const MAX_TSP_NONCE_BYTES = 128;
const MAX_TSP_RESPONSE_BYTES = 1024 * 1024;

const TSP_HASHES: readonly HashAlgorithm[] = ['sha256', 'sha384', 'sha512'];
const SHA1_OID = OID_ALG.sha1;

// ------------------------------------------------------------------------------------------ request parsing

/** Parse a DER TimeStampReq (RFC 3161 §2.4.1). Every refusal is a TspRequestError with the failInfo to send. */
export function parseTimeStampRequest(der: Uint8Array): TimeStampRequest {
  if (der.length > MAX_TSP_REQUEST_BYTES) {
    throw new TspRequestError(
      'badRequest',
      `request of ${der.length} bytes exceeds the ${MAX_TSP_REQUEST_BYTES}-byte limit`,
    );
  }
  try {
    return readTimeStampRequest(Buffer.from(der.buffer, der.byteOffset, der.byteLength));
  } catch (e) {
    if (e instanceof TspRequestError) throw e;
    if (e instanceof Asn1Error)
      throw new TspRequestError('badRequest', `malformed TimeStampReq: ${e.message}`);
    throw e;
  }
}

function readTimeStampRequest(buf: Buffer): TimeStampRequest {
  const root = readTlv(buf, 0, buf.length, 'TimeStampReq');
  if (root.tag !== TAG.SEQUENCE || root.contentEnd !== buf.length) {
    throw new TspRequestError('badRequest', 'malformed TimeStampReq: not a single DER SEQUENCE');
  }
  const c = new DerCursor(buf, root, 'TimeStampReq');
  if (readSmallInteger(c, 'version') !== 1)
    throw new TspRequestError('badRequest', 'TimeStampReq version must be 1');
  const imprintTlv = c.take(TAG.SEQUENCE, 'messageImprint');
  const { hash, digest } = readMessageImprint(
    c.into(imprintTlv, 'MessageImprint'),
    (fail, m) => new TspRequestError(fail, m),
  );
  const request: TimeStampRequest = {
    hash,
    messageImprint: digest,
    certReq: false,
    messageImprintDer: c.bytes(imprintTlv),
  };
  if (c.peekTag() === TAG.OID) request.reqPolicy = readOid(c, 'reqPolicy');
  const nonce = c.optional(TAG.INTEGER);
  if (nonce) {
    const bytes = c.content(nonce);
    if (bytes.length === 0 || bytes.length > MAX_TSP_NONCE_BYTES) {
      throw new TspRequestError('badRequest', `nonce must be 1..${MAX_TSP_NONCE_BYTES} bytes`);
    }
    request.nonce = bytes;
  }
  const certReq = c.optional(TAG.BOOLEAN);
  if (certReq) request.certReq = decodeBoolean(c.content(certReq), 'certReq');
  if (c.optional(0xa0))
    throw new TspRequestError('unacceptedExtension', 'this TSA accepts no request extensions');
  c.end();
  return request;
}

type FailFactory = (fail: TspFailInfo, message: string) => Error;

/** MessageImprint ::= SEQUENCE { hashAlgorithm, hashedMessage }: SHA-2 only, digest length checked. */
function readMessageImprint(c: DerCursor, fail: FailFactory): { hash: HashAlgorithm; digest: Buffer } {
  const alg = c.into(c.take(TAG.SEQUENCE, 'hashAlgorithm'));
  const algOid = readOid(alg, 'algorithm');
  const params = alg.optional(TAG.NULL);
  if (!alg.done || (params && params.contentEnd !== params.contentStart)) {
    throw fail('badAlg', 'the hash algorithm must have absent or NULL parameters');
  }
  const hash = hashFromOid(algOid);
  if (!hash || algOid !== OID_ALG[hash]) {
    const name = algOid === SHA1_OID ? 'SHA-1' : algOid;
    throw fail('badAlg', `hash algorithm ${name} is not accepted; use SHA-256, SHA-384 or SHA-512`);
  }
  const digest = c.content(c.take(TAG.OCTET_STRING, 'hashedMessage'));
  c.end();
  if (digest.length !== HASH_LENGTH[hash]) {
    throw fail(
      'badDataFormat',
      `a ${hash} message imprint is ${HASH_LENGTH[hash]} bytes, not ${digest.length}`,
    );
  }
  return { hash, digest };
}

/** A DER TimeStampReq (client side). `nonce` is INTEGER content bytes (positive, minimal). */
export function buildTimeStampRequest(p: {
  hash: HashAlgorithm;
  digest: Buffer;
  policy?: string;
  nonce?: Buffer;
  certReq?: boolean;
}): Buffer {
  if (p.digest.length !== HASH_LENGTH[p.hash]) {
    throw new RangeError(`a ${p.hash} digest is ${HASH_LENGTH[p.hash]} bytes, not ${p.digest.length}`);
  }
  const parts = [integer(1), messageImprint(p.hash, p.digest)];
  if (p.policy) parts.push(oid(p.policy));
  if (p.nonce) parts.push(tlv(TAG.INTEGER, p.nonce));
  if (p.certReq) parts.push(derBoolean(true));
  return sequence(...parts);
}

const DIGEST_ALGORITHM_DER: Record<HashAlgorithm, Buffer> = {
  sha256: serialize(digestAlgorithmId('sha256')),
  sha384: serialize(digestAlgorithmId('sha384')),
  sha512: serialize(digestAlgorithmId('sha512')),
};

function messageImprint(hash: HashAlgorithm, digest: Buffer): Buffer {
  return sequence(DIGEST_ALGORITHM_DER[hash], octetString(digest));
}

// ------------------------------------------------------------------------------------------ signer

export interface TimeStampAccuracy {
  seconds?: number;
  millis?: number;
  micros?: number;
}

/** Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] 1..999, micros [1] 1..999 }, normalised. */
function encodeAccuracy(a: TimeStampAccuracy | undefined): { der: Buffer; subSecond: boolean } {
  if (!a) return { der: Buffer.alloc(0), subSecond: false };
  const parts = [a.seconds ?? 0, a.millis ?? 0, a.micros ?? 0];
  if (parts.some((n) => !Number.isSafeInteger(n) || n < 0)) {
    throw new RangeError('accuracy seconds, millis and micros must be non-negative integers');
  }
  const total =
    BigInt(parts[0] as number) * 1_000_000n + BigInt(parts[1] as number) * 1000n + BigInt(parts[2] as number);
  if (total === 0n) return { der: Buffer.alloc(0), subSecond: false };
  const seconds = total / 1_000_000n;
  const millis = Number((total / 1000n) % 1000n);
  const micros = Number(total % 1000n);
  const fields: Buffer[] = [];
  if (seconds > 0n) fields.push(integer(seconds));
  if (millis > 0) fields.push(tlv(0x80, integer(millis).subarray(2)));
  if (micros > 0) fields.push(tlv(0x81, integer(micros).subarray(2)));
  return { der: sequence(...fields), subSecond: millis > 0 || micros > 0 };
}

const POLICY_OID = /^[0-2](\.(0|[1-9]\d*))+$/;
const GRANTED = sequence(integer(0));
const SIGNED_DATA_VERSION = integer(3); // eContentType is not id-data (RFC 5652 §5.1)
const SIGNER_INFO_VERSION = integer(1); // sid is IssuerAndSerialNumber
const CONTENT_INFO_TYPE = oid(OID_CT.signedData);
const TSTINFO_TYPE = oid(OID_CT_TSTINFO);
const ATTR_CONTENT_TYPE = encodeAttribute(OID_PKCS9.contentType, TSTINFO_TYPE);

export interface TimeStampSignerOptions {
  certificate: Buffer;
  /** Intermediate certificates to include after the TSA certificate when certReq is set (not the root). */
  chain?: Buffer[];
  key: KeyHandle;
  hash: HashAlgorithm;
  policy: string;
  accuracy?: TimeStampAccuracy;
  ordering?: false;
}

/** Issues RFC 3161 tokens: SignedData over TSTInfo with contentType, signingTime, messageDigest, signingCertificateV2. */
export class TimeStampSigner {
  readonly policy: string;
  private readonly key: KeyHandle;
  private readonly hash: HashAlgorithm;
  private readonly genTimeMillis: boolean;
  private readonly tstHead: Buffer;
  private readonly accuracy: Buffer;
  private readonly attrSigningCertificate: Buffer;
  private readonly attrMessageDigest: Buffer;
  private readonly signerInfoHead: Buffer;
  private readonly signatureAlgorithm: Buffer;
  private readonly digestAlgorithms: Buffer;
  private readonly certificates: Buffer;

  constructor(p: TimeStampSignerOptions) {
    const cert = parseCertificate(p.certificate);
    if (!cert.spki.equals(p.key.spki)) {
      throw new Error('TSA key does not match the TSA certificate: configure the matching pair');
    }
    if (!cert.extKeyUsage.includes(OID_KP.timeStamping)) {
      throw new Error(
        'the TSA certificate lacks extendedKeyUsage timeStamping (RFC 3161 §2.3): issue one with the TSA profile',
      );
    }
    if (!POLICY_OID.test(p.policy)) throw new RangeError(`TSA policy "${p.policy}" is not a dotted OID`);
    this.policy = p.policy;
    this.key = p.key;
    this.hash = p.hash;
    const accuracy = encodeAccuracy(p.accuracy);
    this.accuracy = accuracy.der;
    // RFC 3161 §2.4.2: fractions of a second in genTime only when the accuracy is finer than a second.
    this.genTimeMillis = accuracy.subSecond;
    this.tstHead = Buffer.concat([integer(1), oid(p.policy)]);
    this.attrSigningCertificate = encodeAttribute(
      OID_SIGNING_CERTIFICATE_V2,
      encodeSigningCertificateV2(cert),
    );
    // The digest is the last bytes of this attribute: sign() copies the real one over the zeros.
    this.attrMessageDigest = encodeAttribute(
      OID_PKCS9.messageDigest,
      octetString(Buffer.alloc(HASH_LENGTH[p.hash])),
    );
    const digestAlgorithm = DIGEST_ALGORITHM_DER[p.hash];
    this.signerInfoHead = Buffer.concat([SIGNER_INFO_VERSION, issuerAndSerial(cert), digestAlgorithm]);
    this.signatureAlgorithm = signatureAlgorithmDer(p.key.algorithm, p.hash);
    this.digestAlgorithms = tlv(TAG.SET, digestAlgorithm);
    // CertificateSet [0] IMPLICIT: TSA certificate first, then the chain, as verifiers look for the signer first.
    this.certificates = tlv(0xa0, cert.der, ...(p.chain ?? []));
  }

  /** A granted TimeStampResp (RFC 3161 §2.4.2) for `req`. */
  async sign(req: TimeStampRequest, serial: bigint, genTime: Date): Promise<Buffer> {
    return sequence(GRANTED, await this.signToken(req, serial, genTime));
  }

  /** The TimeStampToken alone (ContentInfo DER): for a caller in the same process, with no response to unwrap. */
  async signToken(req: TimeStampRequest, serial: bigint, genTime: Date): Promise<Buffer> {
    if (req.reqPolicy !== undefined && req.reqPolicy !== this.policy) {
      throw new TspRequestError('unacceptedPolicy', `this TSA only issues under policy ${this.policy}`);
    }
    if (!TSP_HASHES.includes(req.hash) || req.messageImprint.length !== HASH_LENGTH[req.hash]) {
      throw new TspRequestError('badDataFormat', 'message imprint does not match its hash algorithm');
    }
    const tstInfo = tlv(
      TAG.SEQUENCE,
      this.tstHead,
      req.messageImprintDer ?? messageImprint(req.hash, req.messageImprint),
      integer(serial),
      generalizedTime(genTime, this.genTimeMillis),
      this.accuracy,
      req.nonce ? tlv(TAG.INTEGER, req.nonce) : EMPTY,
    );
    const messageDigest = Buffer.from(this.attrMessageDigest);
    createHash(this.hash)
      .update(tstInfo)
      .digest()
      .copy(messageDigest, messageDigest.length - HASH_LENGTH[this.hash]);
    const signingTime = encodeAttribute(OID_PKCS9.signingTime, time(genTime));
    // SET OF Attribute in DER order (X.690 §11.6): the signature covers this exact encoding (RFC 5652 §5.4).
    const attrs = [ATTR_CONTENT_TYPE, signingTime, messageDigest, this.attrSigningCertificate].sort(
      Buffer.compare,
    );
    const signedAttrs = tlv(TAG.SET, ...attrs);
    const signature = await this.key.sign(signedAttrs, this.hash);
    signedAttrs[0] = 0xa0; // [0] IMPLICIT in the SignerInfo
    const signerInfo = sequence(
      this.signerInfoHead,
      signedAttrs,
      this.signatureAlgorithm,
      octetString(signature),
    );
    const signedData = sequence(
      SIGNED_DATA_VERSION,
      this.digestAlgorithms,
      sequence(TSTINFO_TYPE, explicit(0, octetString(tstInfo))),
      req.certReq ? this.certificates : EMPTY,
      tlv(TAG.SET, signerInfo),
    );
    return sequence(CONTENT_INFO_TYPE, explicit(0, signedData));
  }
}

const EMPTY = Buffer.alloc(0);

function issuerAndSerial(cert: ParsedCertificate): Buffer {
  return sequence(cert.issuerDer, integerFromUnsigned(Buffer.from(cert.serialHex, 'hex')));
}

// ------------------------------------------------------------------------------------------ rejections

/** PKIFailureInfo bit numbers (RFC 3161 §2.4.2). */
const FAIL_INFO_BITS: Record<TspFailInfo | 'timeNotAvailable', number> = {
  badAlg: 0,
  badRequest: 2,
  badDataFormat: 5,
  timeNotAvailable: 14,
  unacceptedPolicy: 15,
  unacceptedExtension: 16,
  addInfoNotAvailable: 17,
  systemFailure: 25,
};
const FAIL_INFO_NAMES = new Map(Object.entries(FAIL_INFO_BITS).map(([name, bit]) => [bit, name]));
const MAX_STATUS_STRING = 512;

/** A named-bit BIT STRING with one bit set, trailing zero bits removed as DER requires (X.690 §11.2.2). */
function failInfoBitString(bit: number): Buffer {
  const bytes = Buffer.alloc((bit >> 3) + 1);
  bytes[bit >> 3] = 0x80 >> (bit & 7);
  return tlv(TAG.BIT_STRING, Buffer.from([7 - (bit & 7)]), bytes);
}

/** TimeStampResp with status rejection (2), a statusString and one failInfo bit. */
export function timeStampRejection(failInfo: TspFailInfo, statusString: string): Buffer {
  const bit = FAIL_INFO_BITS[failInfo];
  if (bit === undefined) throw new RangeError(`unknown failInfo ${String(failInfo)}`);
  const text = [...statusString].slice(0, MAX_STATUS_STRING).join('');
  const parts = [integer(2)];
  if (text) parts.push(sequence(utf8String(text)));
  parts.push(failInfoBitString(bit));
  return sequence(sequence(...parts));
}

// ------------------------------------------------------------------------------------------ reading tokens

export interface ParsedTimeStampToken {
  /** The ContentInfo DER. */
  token: Buffer;
  policy: string;
  serial: bigint;
  genTime: Date;
  hash: HashAlgorithm;
  messageImprint: Buffer;
  /** INTEGER content bytes. */
  nonce?: Buffer;
  /** The included (or given) certificate the SignerInfo names. */
  signerCertificate?: Buffer;
  certificates: Buffer[];
  accuracyMillis?: number;
  ordering: boolean;
}

interface TokenParts {
  parsed: ParsedTimeStampToken;
  view: SignedDataView;
  signer: SignerInfoView;
  tstInfo: Buffer;
  signerCert?: ParsedCertificate;
}

function readToken(token: Buffer, given?: Buffer): TokenParts {
  const view = readSignedData(token, 'TimeStampToken', { maxBytes: MAX_TSP_RESPONSE_BYTES });
  if (view.eContentType !== OID_CT_TSTINFO)
    throw new Asn1Error('TimeStampToken: the content is not a TSTInfo');
  if (!view.eContent) throw new Asn1Error('TimeStampToken: the TSTInfo content is missing');
  const [signer, extra] = view.signers;
  if (!signer || extra)
    throw new Asn1Error('TimeStampToken: must have exactly one SignerInfo (RFC 3161 §2.4.2)');
  const tst = readTstInfo(view.eContent);
  const signerCert = findSignerCertificate(signer, given ? [given] : view.certificates);
  const parsed: ParsedTimeStampToken = { token, ...tst, certificates: view.certificates };
  if (signerCert) parsed.signerCertificate = signerCert.der;
  return { parsed, view, signer, tstInfo: view.eContent, ...(signerCert ? { signerCert } : {}) };
}

type TstFields = Omit<ParsedTimeStampToken, 'token' | 'certificates' | 'signerCertificate'>;

/** TSTInfo (RFC 3161 §2.4.2). */
function readTstInfo(der: Buffer): TstFields {
  const root = readTlv(der, 0, der.length, 'TSTInfo');
  if (root.tag !== TAG.SEQUENCE || root.contentEnd !== der.length)
    throw new Asn1Error('TSTInfo: not a single SEQUENCE');
  const c = new DerCursor(der, root, 'TSTInfo');
  if (readSmallInteger(c, 'version') !== 1) throw new Asn1Error('TSTInfo: version must be 1');
  const policy = readOid(c, 'policy');
  const { hash, digest } = readMessageImprint(
    c.into(c.take(TAG.SEQUENCE, 'messageImprint'), 'MessageImprint'),
    (_f, m) => new Asn1Error(m),
  );
  const serialBytes = c.content(c.take(TAG.INTEGER, 'serialNumber'));
  if (serialBytes.length > 64) throw new Asn1Error('TSTInfo: serialNumber is too long');
  const genTimeTlv = c.take(TAG.GENERALIZED_TIME, 'genTime');
  const genTime = decodeTime(genTimeTlv, c.content(genTimeTlv), 'TSTInfo genTime');
  const fields: TstFields = {
    policy,
    serial: decodeInteger(serialBytes),
    genTime,
    hash,
    messageImprint: digest,
    ordering: false,
  };
  const accuracy = c.optional(TAG.SEQUENCE);
  if (accuracy) fields.accuracyMillis = readAccuracyMillis(c.into(accuracy, 'Accuracy'));
  const ordering = c.optional(TAG.BOOLEAN);
  if (ordering) fields.ordering = decodeBoolean(c.content(ordering), 'ordering');
  const nonce = c.optional(TAG.INTEGER);
  if (nonce) fields.nonce = c.content(nonce);
  c.optional(0xa0); // tsa name
  c.optional(0xa1); // extensions
  c.end();
  return fields;
}

function readAccuracyMillis(c: DerCursor): number {
  const small = (tag: number, what: string, max: number): number => {
    const t = c.optional(tag);
    if (!t) return 0;
    const v = decodeInteger(c.content(t));
    if (v < 0n || v > BigInt(max)) throw new Asn1Error(`Accuracy: ${what} is out of range`);
    return Number(v);
  };
  const seconds = small(TAG.INTEGER, 'seconds', 86_400 * 365);
  const millis = small(0x80, 'millis', 999);
  const micros = small(0x81, 'micros', 999);
  c.end();
  return seconds * 1000 + millis + micros / 1000;
}

function findSignerCertificate(signer: SignerInfoView, candidates: Buffer[]): ParsedCertificate | undefined {
  for (const der of candidates) {
    let cert: ParsedCertificate;
    try {
      cert = parseCertificate(der);
    } catch {
      continue;
    }
    const sid = signer.sid;
    const matches =
      'subjectKeyId' in sid
        ? cert.subjectKeyId?.equals(sid.subjectKeyId) === true
        : cert.issuerDer.equals(sid.issuerDer) && cert.serialHex === sid.serialHex;
    if (matches) return cert;
  }
  return undefined;
}

/** Read a DER TimeStampResp. The token, if any, is parsed but not verified: use verifyTimeStampToken for that. */
export function parseTimeStampResponse(der: Uint8Array): {
  status: number;
  statusString?: string;
  failInfo?: string;
  token?: ParsedTimeStampToken;
} {
  try {
    return readTimeStampResponse(Buffer.from(der.buffer, der.byteOffset, der.byteLength));
  } catch (e) {
    if (e instanceof Asn1Error) throw new TspResponseError(`malformed TimeStampResp: ${e.message}`);
    throw e;
  }
}

function readTimeStampResponse(buf: Buffer): ReturnType<typeof parseTimeStampResponse> {
  if (buf.length > MAX_TSP_RESPONSE_BYTES)
    throw new Asn1Error(`${buf.length} bytes exceeds the response size limit`);
  const root = readTlv(buf, 0, buf.length, 'TimeStampResp');
  if (root.tag !== TAG.SEQUENCE || root.contentEnd !== buf.length)
    throw new Asn1Error('not a single DER SEQUENCE');
  const c = new DerCursor(buf, root, 'TimeStampResp');
  const info = c.into(c.take(TAG.SEQUENCE, 'status'), 'PKIStatusInfo');
  const status = readSmallInteger(info, 'status');
  if (status > 5) throw new Asn1Error(`PKIStatus ${status} is not defined`);
  const result: ReturnType<typeof parseTimeStampResponse> = { status };
  const text = info.optional(TAG.SEQUENCE);
  if (text) {
    const strings = info.into(text, 'PKIFreeText');
    result.statusString = strings
      .rest()
      .map((s) => {
        if (s.tag !== TAG.UTF8_STRING) throw new Asn1Error('PKIFreeText: expected UTF8String');
        return strings.content(s).toString('utf8');
      })
      .join('; ');
  }
  const failInfo = info.optional(TAG.BIT_STRING);
  if (failInfo) result.failInfo = failInfoNames(info.content(failInfo));
  info.end();
  const tokenTlv = c.optional(TAG.SEQUENCE);
  c.end();
  if (tokenTlv) result.token = readToken(c.bytes(tokenTlv)).parsed;
  return result;
}

function failInfoNames(bits: Buffer): string {
  if (bits.length < 1 || (bits[0] as number) > 7) throw new Asn1Error('PKIFailureInfo: malformed BIT STRING');
  const names: string[] = [];
  for (let i = 0; i < (bits.length - 1) * 8 && i < 64; i++) {
    if (((bits[1 + (i >> 3)] as number) >> (7 - (i & 7))) & 1)
      names.push(FAIL_INFO_NAMES.get(i) ?? `bit${i}`);
  }
  return names.join(',');
}

/**
 * Read a TimeStampToken (ContentInfo DER) without checking its signature: for tokens already verified where they
 * crossed a trust boundary (the TSA client verifies every reply) or made in process. Malformed → TspVerifyError.
 */
export function readTimeStampToken(token: Uint8Array): ParsedTimeStampToken {
  try {
    return readToken(Buffer.from(token)).parsed;
  } catch (e) {
    if (e instanceof Asn1Error)
      throw new TspVerifyError('malformed', `malformed timestamp token: ${e.message}`);
    throw e;
  }
}

// ------------------------------------------------------------------------------------------ verification

/**
 * Verify a TimeStampToken (ContentInfo DER): the CMS signature, the content-type and message-digest attributes,
 * the ESS signing-certificate binding (v2 or v1) to the signer certificate, the signer's timeStamping EKU, and,
 * when `digest` or `data` is given, the message imprint. Chain building and revocation are the caller's job.
 */
export function verifyTimeStampToken(
  token: Uint8Array,
  p: { digest?: Buffer; data?: Uint8Array; signerCertificate?: Buffer },
): ParsedTimeStampToken {
  let parts: TokenParts;
  try {
    parts = readToken(Buffer.from(token), p.signerCertificate);
  } catch (e) {
    if (e instanceof Asn1Error)
      throw new TspVerifyError('malformed', `malformed timestamp token: ${e.message}`);
    throw e;
  }
  const { parsed, signer, signerCert, tstInfo } = parts;
  if (!signerCert) {
    throw new TspVerifyError(
      'signer-not-found',
      p.signerCertificate
        ? 'the given certificate is not the one that signed the token'
        : 'the token does not include the TSA certificate: pass signerCertificate, or request with certReq',
    );
  }
  if (!signerCert.extKeyUsage.includes(OID_KP.timeStamping)) {
    throw new TspVerifyError(
      'signer-certificate',
      'the signer certificate is not a TSA certificate (no timeStamping EKU)',
    );
  }
  checkSignerInfo(signer, tstInfo, signerCert);
  const expected = p.digest ?? (p.data ? createHash(parsed.hash).update(p.data).digest() : undefined);
  if (expected && !expected.equals(parsed.messageImprint)) {
    throw new TspVerifyError('imprint', 'the token timestamps different data (message imprint mismatch)');
  }
  return parsed;
}

function checkSignerInfo(signer: SignerInfoView, tstInfo: Buffer, cert: ParsedCertificate): void {
  let mismatch: string | undefined;
  let essIds;
  try {
    mismatch = signedAttributesMismatch(signer, OID_CT_TSTINFO, tstInfo);
    const v2 = singleAttributeValue(signer, OID_SIGNING_CERTIFICATE_V2, 'signingCertificateV2');
    const v1 = singleAttributeValue(signer, OID_SIGNING_CERTIFICATE, 'signingCertificate');
    essIds = v2 ? parseSigningCertificate(v2, 2) : v1 ? parseSigningCertificate(v1, 1) : undefined;
  } catch (e) {
    if (e instanceof Asn1Error)
      throw new TspVerifyError('malformed', `malformed timestamp token: ${e.message}`);
    throw e;
  }
  if (mismatch)
    throw new TspVerifyError(mismatch.includes('content-type') ? 'content-type' : 'message-digest', mismatch);
  if (!essIds) {
    throw new TspVerifyError(
      'signing-certificate',
      'the token has no signingCertificate(V2) attribute (RFC 3161 §2.4.2, RFC 5816)',
    );
  }
  // RFC 5035 §5.4: the first ESSCertID identifies the signing certificate.
  if (!essCertIdMatches(essIds[0] as EssCertId, cert)) {
    throw new TspVerifyError(
      'signing-certificate',
      'the signingCertificate attribute names a different certificate than the signer',
    );
  }
  if (!verifySignerSignature(signer, cert.spki)) {
    throw new TspVerifyError('signature', 'the token signature does not verify with the TSA certificate');
  }
}
