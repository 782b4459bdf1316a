/**
 * CMS SignedData (RFC 5652 §5) as S/MIME (RFC 8551) and CAdES-T use it: signing a streamed content with one
 * signer, and reading and cryptographically checking what any client sends — signer found by
 * IssuerAndSerialNumber or SubjectKeyIdentifier, message digest, signature over the signed attributes exactly as
 * received, ESS signing-certificate binding and the signature timestamp token. Chain building, revocation, key
 * usage and address checks belong to the validation layer; the result exposes what it needs.
 */
import { createHash, type Hash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { HashAlgorithm, KeyHandle } from '../../crypto/key-handle.js';
import { defaultHashFor, isRsa } from '../../crypto/key-handle.js';
import { digestAlgorithmId, hashFromOid } from '../algorithms.js';
import { parseCertificate, signatureAlgorithmDer, type ParsedCertificate } from '../certificate.js';
import { encodeAttribute, verifySignerSignature, type SignerId } from '../cms-signed-attrs.js';
import {
  TAG,
  encodeLength,
  explicit,
  integer,
  integerFromUnsigned,
  octetString,
  oid,
  readTlv,
  sequence,
  serialize,
  tlv,
  unsignedHex,
  type Tlv,
} from '../der.js';
import { DerCursor, readOid, readSmallInteger } from '../der-fields.js';
import { Asn1Error } from '../errors.js';
import { essCertIdMatches } from '../ess.js';
import { OID_ALG, OID_CT } from '../oids.js';
import { TspVerifyError, verifyTimeStampToken } from '../tsp.js';
import {
  OID_SIGNATURE_TIMESTAMP_TOKEN,
  buildSignedAttributes,
  interpretSignedAttributes,
  readAttributes,
  type CmsAttribute,
} from './signed-attributes.js';
import {
  DEFAULT_SMIME_CAPABILITIES,
  nameDerToString,
  type EncryptionKeyPreference,
  type SmimeCapability,
} from './smime-capabilities.js';

/** A SignedData we cannot sign or read; the message says what is wrong and what to do. */
export class CmsSignedDataError extends Error {
  override name = 'CmsSignedDataError';
}

/** Largest DER (and largest in-memory content) the Buffer API accepts; bigger content must be streamed detached. */
export const MAX_SIGNED_DATA_BYTES = 64 * 1024 * 1024;
const MAX_SIGNERS = 100;
const MAX_CERTIFICATES = 500;
/** ContentInfo → SignedData → SignerInfo → attribute → value → certificate internals stay well below this. */
const MAX_NESTING = 40;

export type SignedContent = Buffer | AsyncIterable<Uint8Array> | NodeJS.ReadableStream;

export interface SignOptions {
  signer: KeyHandle;
  /** DER of the signer's certificate. */
  certificate: Buffer;
  /** Intermediate certificates to embed after the signer's (not the root, which the recipient must trust). */
  chain?: Buffer[];
  /** Default: the key's usual hash (SHA-256; SHA-384 for P-384 and RSA-4096); always SHA-512 for Ed25519. */
  hash?: HashAlgorithm;
  /** RSA only: RSASSA-PSS instead of PKCS#1 v1.5. */
  pss?: boolean;
  /** Default true. false encapsulates the content (opaque signing); that needs a Buffer. */
  detached?: boolean;
  identifier?: 'issuerAndSerial' | 'subjectKeyIdentifier';
  /** Default: now. false omits the attribute (PAdES baseline forbids it). */
  signingTime?: Date | false;
  /** Default: DEFAULT_SMIME_CAPABILITIES. An empty list omits the attribute. */
  capabilities?: readonly SmimeCapability[];
  /** DER of the signer's encryption certificate, advertised as SMIMEEncryptionKeyPreference. */
  encryptionKeyPreference?: Buffer;
  /**
   * CAdES-T: get a TimeStampToken (ContentInfo DER) over the signature value; it is stored as the unsigned
   * attribute id-aa-signatureTimeStampToken (RFC 3161 Appendix A).
   */
  timestamp?: (signatureValue: Buffer) => Promise<Buffer>;
  /** Further single-valued signed attributes (e.g. for PAdES); may not repeat a built-in one. */
  extraSignedAttributes?: readonly CmsAttribute[];
}

const EMPTY = Buffer.alloc(0);

/** Sign `content` (hashed as it streams) and return the ContentInfo(SignedData) DER. */
export async function signData(content: SignedContent, o: SignOptions): Promise<Buffer> {
  const cert = parseSignerCertificate(o.certificate);
  if (!cert.spki.equals(o.signer.spki)) {
    throw new CmsSignedDataError(
      'the signer key does not match the signer certificate: pass the matching pair',
    );
  }
  const hash = signingHash(o);
  if (o.pss && !isRsa(o.signer.algorithm)) {
    throw new CmsSignedDataError(`RSASSA-PSS needs an RSA key, not ${o.signer.algorithm}`);
  }
  const detached = o.detached ?? true;
  if (!detached && !Buffer.isBuffer(content)) {
    throw new CmsSignedDataError(
      'opaque signing encapsulates the content: pass it as a Buffer, or sign detached',
    );
  }
  if (!detached && (content as Buffer).length > MAX_SIGNED_DATA_BYTES) {
    throw new CmsSignedDataError(
      `content of ${(content as Buffer).length} bytes is too large to encapsulate; sign it detached`,
    );
  }
  const bySki = o.identifier === 'subjectKeyIdentifier';
  if (bySki && !cert.subjectKeyId) {
    throw new CmsSignedDataError(
      'the signer certificate has no subjectKeyIdentifier: identify it by issuer and serial',
    );
  }

  const { digests } = await digestContent(content, [hash], 0);
  const signedAttrs = buildSignedAttributes({
    contentType: OID_CT.data,
    messageDigest: digests.get(hash) as Buffer,
    ...(o.signingTime === false ? {} : { signingTime: o.signingTime ?? new Date() }),
    signerCertificate: cert,
    capabilities: o.capabilities ?? DEFAULT_SMIME_CAPABILITIES,
    ...(o.encryptionKeyPreference ? { encryptionKeyPreference: o.encryptionKeyPreference } : {}),
    ...(o.extraSignedAttributes ? { extra: o.extraSignedAttributes } : {}),
  });
  const signature = await o.signer.sign(signedAttrs, hash, o.pss ? { pss: true } : undefined);
  const unsignedAttrs = o.timestamp
    ? tlv(0xa1, encodeAttribute(OID_SIGNATURE_TIMESTAMP_TOKEN, await fetchTimestamp(o.timestamp, signature)))
    : EMPTY;
  signedAttrs[0] = 0xa0; // [0] IMPLICIT SET OF Attribute inside the SignerInfo (RFC 5652 §5.3)

  // Versions (RFC 5652 §5.1, §5.3): 3 when the signer is identified by SubjectKeyIdentifier, else 1.
  const version = integer(bySki ? 3 : 1);
  const sid = bySki
    ? tlv(0x80, cert.subjectKeyId as Buffer)
    : sequence(cert.issuerDer, integerFromUnsigned(Buffer.from(cert.serialHex, 'hex')));
  const digestAlgorithm = serialize(digestAlgorithmId(hash));
  const signerInfo = sequence(
    version,
    sid,
    digestAlgorithm,
    signedAttrs,
    signatureAlgorithmDer(o.signer.algorithm, hash, o.pss === true),
    octetString(signature),
    unsignedAttrs,
  );
  const encapContentInfo = detached
    ? sequence(oid(OID_CT.data))
    : sequence(oid(OID_CT.data), explicit(0, octetString(content as Buffer)));
  const signedData = sequence(
    version,
    tlv(TAG.SET, digestAlgorithm),
    encapContentInfo,
    tlv(0xa0, cert.der, ...(o.chain ?? [])),
    tlv(TAG.SET, signerInfo),
  );
  return sequence(oid(OID_CT.signedData), explicit(0, signedData));
}

function parseSignerCertificate(der: Buffer): ParsedCertificate {
  try {
    return parseCertificate(der);
  } catch (e) {
    throw new CmsSignedDataError(`the signer certificate cannot be read: ${(e as Error).message}`);
  }
}

function signingHash(o: SignOptions): HashAlgorithm {
  if (o.signer.algorithm !== 'ed25519') return o.hash ?? defaultHashFor(o.signer.algorithm);
  // RFC 8419 §3.1: with signed attributes, Ed25519 signers use SHA-512 as the message digest algorithm.
  if (o.hash && o.hash !== 'sha512') {
    throw new CmsSignedDataError('Ed25519 signatures use SHA-512 for the message digest (RFC 8419 §3.1)');
  }
  return 'sha512';
}

/** Ask for the token and check it is one over this signature before embedding it. */
async function fetchTimestamp(
  get: (signature: Buffer) => Promise<Buffer>,
  signature: Buffer,
): Promise<Buffer> {
  const token = await get(signature);
  try {
    verifyTimeStampToken(token, { data: signature });
  } catch (e) {
    // A token without the TSA certificate cannot be checked here, but is still a valid token to embed.
    if (!(e instanceof TspVerifyError) || e.reason !== 'signer-not-found') {
      throw new CmsSignedDataError(`the timestamp token is not usable: ${(e as Error).message}`);
    }
  }
  return token;
}

/**
 * Hash `content` with each of `hashes` in one pass. With `keepLimit` > 0 the bytes are also kept, as long as
 * they fit (needed only to verify a signature made without signed attributes).
 */
async function digestContent(
  content: SignedContent,
  hashes: readonly HashAlgorithm[],
  keepLimit: number,
): Promise<{ digests: Map<HashAlgorithm, Buffer>; bytes?: Buffer }> {
  const hashers = new Map<HashAlgorithm, Hash>(hashes.map((h) => [h, createHash(h)]));
  const finish = (): Map<HashAlgorithm, Buffer> =>
    new Map([...hashers].map(([h, hasher]) => [h, hasher.digest()]));
  if (content instanceof Uint8Array) {
    for (const hasher of hashers.values()) hasher.update(content);
    return { digests: finish(), bytes: Buffer.from(content.buffer, content.byteOffset, content.byteLength) };
  }
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let keeping = keepLimit > 0;
  for await (const chunk of content as AsyncIterable<Uint8Array | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    for (const hasher of hashers.values()) hasher.update(bytes);
    if (!keeping) continue;
    keptBytes += bytes.length;
    if (keptBytes > keepLimit) {
      keeping = false;
      kept.length = 0;
    } else {
      kept.push(Buffer.from(bytes)); // copy: a stream may reuse its chunk buffers
    }
  }
  return { digests: finish(), ...(keeping ? { bytes: Buffer.concat(kept) } : {}) };
}

// ------------------------------------------------------------------------------------------ reading

/** One SignerInfo as received (RFC 5652 §5.3). */
export interface CmsSignerInfo {
  sid: SignerId;
  digestAlgorithmOid: string;
  /** Undefined when the digest algorithm is not SHA-256/384/512 (e.g. SHA-1, which we do not accept). */
  digestHash?: HashAlgorithm;
  /** The signed attributes re-tagged as SET OF (0x31): the exact bytes the signature covers (RFC 5652 §5.4). */
  signedAttrs?: Buffer;
  signedAttributes?: Map<string, Buffer[]>;
  unsignedAttributes: Map<string, Buffer[]>;
  signatureAlgorithm: AlgorithmIdentifier;
  signature: Buffer;
}

export interface CmsSignedDataView {
  eContentType: string;
  eContent?: Buffer;
  certificates: Buffer[];
  signers: CmsSignerInfo[];
}

/**
 * Read a ContentInfo(SignedData) in DER or BER (NSS writes indefinite lengths and chunked OCTET STRINGs),
 * keeping the exact signed-attribute bytes. Throws CmsSignedDataError.
 */
export function readCmsSignedData(der: Uint8Array): CmsSignedDataView {
  if (der.length > MAX_SIGNED_DATA_BYTES) {
    throw new CmsSignedDataError(
      `SignedData of ${der.length} bytes exceeds the ${MAX_SIGNED_DATA_BYTES}-byte limit; sign large content detached`,
    );
  }
  try {
    return readSignedDataStructure(
      toDefiniteLengths(Buffer.from(der.buffer, der.byteOffset, der.byteLength)),
    );
  } catch (e) {
    if (e instanceof Asn1Error) throw new CmsSignedDataError(`malformed CMS SignedData: ${e.message}`);
    throw e;
  }
}

function readSignedDataStructure(buf: Buffer): CmsSignedDataView {
  const root = readTlv(buf, 0, buf.length, 'ContentInfo');
  if (root.tag !== TAG.SEQUENCE) throw new Asn1Error('ContentInfo: not a SEQUENCE');
  const contentInfo = new DerCursor(buf, root, 'ContentInfo');
  const contentType = readOid(contentInfo, 'contentType');
  if (contentType !== OID_CT.signedData) {
    throw new CmsSignedDataError(
      `the CMS content type is ${contentType}, not SignedData: this is not a signature`,
    );
  }
  const wrapper = contentInfo.into(contentInfo.take(0xa0, '[0] content'));
  const sd = wrapper.into(wrapper.take(TAG.SEQUENCE, 'SignedData'), 'SignedData');
  wrapper.end();

  readSmallInteger(sd, 'version');
  sd.take(TAG.SET, 'digestAlgorithms');
  const encap = sd.into(sd.take(TAG.SEQUENCE, 'encapContentInfo'), 'encapContentInfo');
  const eContentType = readOid(encap, 'eContentType');
  const explicitContent = encap.optional(0xa0);
  let eContent: Buffer | undefined;
  if (explicitContent) {
    const inner = encap.into(explicitContent);
    eContent = octetStringValue(inner, inner.any('eContent'), 0);
    inner.end();
  }
  encap.end();

  const certificates: Buffer[] = [];
  const certSet = sd.optional(0xa0);
  if (certSet) {
    // Other CertificateChoices (attribute certificates, [3] other) are skipped: S/MIME needs X.509 only.
    const choices = sd.into(certSet).rest();
    if (choices.length > MAX_CERTIFICATES) throw new Asn1Error(`more than ${MAX_CERTIFICATES} certificates`);
    for (const choice of choices) if (choice.tag === TAG.SEQUENCE) certificates.push(sd.bytes(choice));
  }
  sd.optional(0xa1); // crls: revocation is the validation layer's job, which fetches its own
  const signerTlvs = sd.into(sd.take(TAG.SET, 'signerInfos')).rest();
  sd.end();
  if (signerTlvs.length > MAX_SIGNERS) throw new Asn1Error(`more than ${MAX_SIGNERS} SignerInfos`);
  const signers = signerTlvs.map((t, i) => readSignerInfo(sd, t, `SignerInfo ${i + 1}`));
  return { eContentType, ...(eContent ? { eContent } : {}), certificates, signers };
}

/** An OCTET STRING's value; BER allows it constructed from segments (X.690 §8.7.3). */
function octetStringValue(c: DerCursor, t: Tlv, depth: number): Buffer {
  if (t.tag === TAG.OCTET_STRING) return c.content(t);
  if (t.tag !== (TAG.OCTET_STRING | 0x20) || depth > 4)
    throw new Asn1Error(`${c.where}: expected an OCTET STRING`);
  const segments = c.into(t);
  return Buffer.concat(segments.rest().map((s) => octetStringValue(segments, s, depth + 1)));
}

function readSignerInfo(parent: DerCursor, t: Tlv, where: string): CmsSignerInfo {
  if (t.tag !== TAG.SEQUENCE) throw new Asn1Error(`${where}: not a SEQUENCE`);
  const si = parent.into(t, where);
  readSmallInteger(si, 'version');
  let sid: SignerId;
  const sidTlv = si.any('sid');
  if (sidTlv.tag === TAG.SEQUENCE) {
    const ias = si.into(sidTlv, `${where} IssuerAndSerialNumber`);
    const issuer = ias.take(TAG.SEQUENCE, 'issuer');
    const serial = ias.take(TAG.INTEGER, 'serialNumber');
    ias.end();
    sid = { issuerDer: ias.bytes(issuer), serialHex: unsignedHex(ias.content(serial)) };
  } else if (sidTlv.tag === 0x80) {
    sid = { subjectKeyId: si.content(sidTlv) };
  } else {
    throw new Asn1Error(`${where}: sid is neither IssuerAndSerialNumber nor [0] SubjectKeyIdentifier`);
  }
  const digestAlgorithmOid = readOid(si.into(si.take(TAG.SEQUENCE, 'digestAlgorithm')), 'algorithm');
  const digestHash = hashFromOid(digestAlgorithmOid);
  const info: CmsSignerInfo = {
    sid,
    digestAlgorithmOid,
    // Only a plain digest OID names the message digest; signature OIDs here are a legacy mistake.
    ...(digestHash && OID_ALG[digestHash] === digestAlgorithmOid ? { digestHash } : {}),
    unsignedAttributes: new Map(),
    signatureAlgorithm: new AlgorithmIdentifier(),
    signature: EMPTY,
  };
  const signedTlv = si.optional(0xa0);
  if (signedTlv) {
    info.signedAttrs = si.bytes(signedTlv);
    info.signedAttrs[0] = TAG.SET; // RFC 5652 §5.4: the signature covers the EXPLICIT SET OF encoding
    info.signedAttributes = readAttributes(si.into(signedTlv, `${where} signedAttrs`));
  }
  const algorithm = si.take(TAG.SEQUENCE, 'signatureAlgorithm');
  try {
    info.signatureAlgorithm = AsnConvert.parse(si.bytes(algorithm), AlgorithmIdentifier);
  } catch {
    throw new Asn1Error(`${where}: malformed signatureAlgorithm`);
  }
  info.signature = si.content(si.take(TAG.OCTET_STRING, 'signature'));
  const unsignedTlv = si.optional(0xa1);
  if (unsignedTlv) info.unsignedAttributes = readAttributes(si.into(unsignedTlv, `${where} unsignedAttrs`));
  si.end();
  return info;
}

// ------------------------------------------------------------------------------------------ BER → definite

interface Rewritten {
  /** The element's new encoding, as slices of the input plus rebuilt headers. */
  parts: Buffer[];
  length: number;
  /** Offset just past the element in the input. */
  end: number;
  /** True when the element is copied byte for byte (it and everything inside has definite lengths). */
  verbatim: boolean;
}

/** Real SignedData has a few thousand elements; the budget stops a flat flood of tiny ones (X.690 allows it). */
const MAX_ELEMENTS = 500_000;

/**
 * Rewrite indefinite lengths (X.690 §8.1.3.6) as definite ones so the DER cursor can read the structure.
 * Elements that already have definite lengths — in particular the signed attributes — are copied unchanged,
 * so the bytes a signature covers are never re-encoded. Nesting and element count are bounded; every failure
 * is an Asn1Error.
 */
export function toDefiniteLengths(buf: Buffer): Buffer {
  if (buf.length === 0) throw new Asn1Error('empty input');
  const top = rewrite(buf, 0, buf.length, 1, { left: MAX_ELEMENTS });
  if (top.end !== buf.length) {
    throw new Asn1Error(`${buf.length - top.end} trailing bytes after the CMS structure`);
  }
  return top.verbatim ? buf : Buffer.concat(top.parts, top.length);
}

function tagBytes(buf: Buffer, offset: number, limit: number): number {
  if (((buf[offset] as number) & 0x1f) !== 0x1f) return 1;
  let p = offset + 1;
  while (p < limit && ((buf[p] as number) & 0x80) !== 0 && p - offset < 5) p++;
  return p - offset + 1;
}

function rewrite(
  buf: Buffer,
  offset: number,
  limit: number,
  depth: number,
  budget: { left: number },
): Rewritten {
  if (depth > MAX_NESTING) throw new Asn1Error(`nesting deeper than ${MAX_NESTING} levels`);
  if (--budget.left < 0) throw new Asn1Error(`more than ${MAX_ELEMENTS} ASN.1 elements`);
  if (offset >= limit) throw new Asn1Error(`unexpected end of data at byte ${offset}`);
  const tagLength = tagBytes(buf, offset, limit);
  const tag = buf.subarray(offset, offset + tagLength);
  const constructed = ((buf[offset] as number) & 0x20) !== 0;
  if (buf[offset + tagLength] === 0x80) {
    if (!constructed) throw new Asn1Error(`primitive element at byte ${offset} has an indefinite length`);
    const inner = rewriteChildren(buf, offset + tagLength + 1, limit, true, depth, budget);
    return withDefiniteHeader(tag, inner);
  }
  const t = readTlv(buf, offset, limit, 'CMS');
  if (constructed) {
    const inner = rewriteChildren(buf, t.contentStart, t.contentEnd, false, depth, budget);
    if (!inner.verbatim) return withDefiniteHeader(tag, inner);
  }
  const length = t.contentEnd - offset;
  return { parts: [buf.subarray(offset, t.contentEnd)], length, end: t.contentEnd, verbatim: true };
}

/**
 * The children from `start`: up to `end` (definite), or up to and including the end-of-contents octets
 * (indefinite). Consecutive verbatim children are kept as one slice, so the part list stays short.
 */
function rewriteChildren(
  buf: Buffer,
  start: number,
  end: number,
  indefinite: boolean,
  depth: number,
  budget: { left: number },
): Rewritten {
  const parts: Buffer[] = [];
  let length = 0;
  let runStart = start;
  let p = start;
  let contentEnd: number;
  for (;;) {
    if (indefinite && p + 1 < end && buf[p] === 0 && buf[p + 1] === 0) {
      contentEnd = p;
      p += 2;
      break;
    }
    if (!indefinite && p >= end) {
      contentEnd = p;
      break;
    }
    const child = rewrite(buf, p, end, depth + 1, budget);
    if (!child.verbatim) {
      if (p > runStart) parts.push(buf.subarray(runStart, p));
      parts.push(...child.parts);
      runStart = child.end;
    }
    length += child.length;
    p = child.end;
  }
  const verbatim = !indefinite && parts.length === 0;
  if (contentEnd > runStart) parts.push(buf.subarray(runStart, contentEnd));
  return { parts, length, end: p, verbatim };
}

/** `tag` + definite length + the rewritten contents; `inner.end` is where the element ended in the input. */
function withDefiniteHeader(tag: Buffer, inner: Rewritten): Rewritten {
  const header = Buffer.concat([tag, encodeLength(inner.length)]);
  return {
    parts: [header, ...inner.parts],
    length: header.length + inner.length,
    end: inner.end,
    verbatim: false,
  };
}

// ------------------------------------------------------------------------------------------ verification

export interface TimestampCheck {
  /** Present when the token could be read. */
  genTime?: Date;
  valid: boolean;
  error?: string;
  tsaCertificate?: Buffer;
}

export interface SignatureCheck {
  signerCertificate?: Buffer;
  /** "issuer=<DN>, serial=<hex>" or "ski=<hex>". */
  signerIdentifier: string;
  /** 'unsupported' for anything but SHA-256/384/512; the problems say which. */
  digestAlgorithm: HashAlgorithm | 'unsupported';
  signatureAlgorithm: string;
  /** The signature verifies with the signer certificate's key. */
  signatureValid: boolean;
  /** The content hashes to the signed message digest. */
  digestMatches: boolean;
  signingTime?: Date;
  /** Every certificate embedded in the SignedData (for chain building). */
  certificates: Buffer[];
  capabilities?: SmimeCapability[];
  encryptionKeyPreference?: EncryptionKeyPreference;
  timestamp?: TimestampCheck;
  /** Everything found wrong with this signer, one sentence each; empty when all checks passed. */
  problems: string[];
}

export interface VerifiedSignedData {
  /** The content of an opaque (encapsulated) signature. */
  encapsulatedContent?: Buffer;
  contentType: string;
  signers: SignatureCheck[];
}

/**
 * The cryptographic checks of every SignerInfo in `der`: message digest against the content (streamed for a
 * detached signature), signature over the signed attributes as received, ESS signing-certificate binding and
 * timestamp token. A bad signature is reported in `problems`; malformed input throws CmsSignedDataError.
 */
export async function verifySignedData(
  der: Buffer,
  p: { content?: Buffer | AsyncIterable<Uint8Array> | NodeJS.ReadableStream } = {},
): Promise<VerifiedSignedData> {
  const view = readCmsSignedData(der);
  if (view.eContent && p.content) {
    throw new CmsSignedDataError('the signature encapsulates its content: verify it without passing content');
  }
  const content = view.eContent ?? p.content;
  if (!content)
    throw new CmsSignedDataError('this is a detached signature: pass the signed content to verify it');
  const hashes = [...new Set(view.signers.flatMap((s) => (s.digestHash ? [s.digestHash] : [])))];
  const needsBytes = view.signers.some((s) => !s.signedAttrs);
  const { digests, bytes } = await digestContent(content, hashes, needsBytes ? MAX_SIGNED_DATA_BYTES : 0);
  const certificates = view.certificates.flatMap((certDer) => {
    try {
      return [parseCertificate(certDer)];
    } catch {
      return []; // an unreadable extra certificate does not invalidate the signature; the validator sees all
    }
  });
  const context: VerifyContext = { view, digests, certificates, ...(bytes ? { bytes } : {}) };
  return {
    ...(view.eContent ? { encapsulatedContent: view.eContent } : {}),
    contentType: view.eContentType,
    signers: view.signers.map((si) => checkSigner(si, context)),
  };
}

interface VerifyContext {
  view: CmsSignedDataView;
  digests: Map<HashAlgorithm, Buffer>;
  certificates: ParsedCertificate[];
  bytes?: Buffer;
}

function checkSigner(si: CmsSignerInfo, ctx: VerifyContext): SignatureCheck {
  const problems: string[] = [];
  const check: SignatureCheck = {
    signerIdentifier: describeSignerId(si.sid),
    digestAlgorithm: si.digestHash ?? 'unsupported',
    signatureAlgorithm: algorithmName(si.signatureAlgorithm.algorithm),
    signatureValid: false,
    digestMatches: false,
    certificates: ctx.view.certificates,
    problems,
  };
  const cert = ctx.certificates.find((c) => certificateMatchesSignerId(c, si.sid));
  if (cert) check.signerCertificate = cert.der;
  else
    problems.push('the signer certificate is not embedded in the signature: the signature cannot be checked');
  const timestamp = checkTimestamp(si);
  if (timestamp) check.timestamp = timestamp;
  if (!si.digestHash) {
    problems.push(
      `digest algorithm ${algorithmName(si.digestAlgorithmOid)} is not accepted (SHA-256/384/512 only)`,
    );
    return check;
  }

  const signedBytes = si.signedAttributes
    ? checkSignedAttributes(si, si.signedAttributes, si.digestHash, cert, ctx, check)
    : ctx.bytes;
  if (!signedBytes) problems.push('content over 64 MiB signed without signed attributes cannot be checked');
  if (cert && signedBytes) {
    // verifySignerSignature checks its `signedAttrs` bytes: without signed attributes, that is the content.
    check.signatureValid = verifySignerSignature(
      {
        sid: si.sid,
        digestHash: si.digestHash,
        attributes: new Map<string, Buffer[]>(),
        signedAttrs: signedBytes,
        signatureAlgorithm: si.signatureAlgorithm,
        signature: si.signature,
      },
      cert.spki,
    );
    if (!check.signatureValid) {
      problems.push(
        si.signedAttrs
          ? 'the signature does not verify with the signer certificate (signed attributes altered or wrong key)'
          : 'the signature does not verify over the content (content altered or wrong key)',
      );
    }
  }
  // Without signed attributes the signature covers the content itself (RFC 5652 §5.4).
  if (!si.signedAttrs) check.digestMatches = check.signatureValid;
  return check;
}

/**
 * Fill `check` from the signed attributes (content type, message digest against the content, ESS binding to
 * the signer certificate, S/MIME facts) and return the bytes the signature covers.
 */
function checkSignedAttributes(
  si: CmsSignerInfo,
  attributes: Map<string, Buffer[]>,
  digestHash: HashAlgorithm,
  cert: ParsedCertificate | undefined,
  ctx: VerifyContext,
  check: SignatureCheck,
): Buffer | undefined {
  const facts = interpretSignedAttributes(attributes, digestHash);
  check.problems.push(...facts.problems);
  if (facts.signingTime) check.signingTime = facts.signingTime;
  if (facts.capabilities) check.capabilities = facts.capabilities;
  if (facts.encryptionKeyPreference) check.encryptionKeyPreference = facts.encryptionKeyPreference;
  if (facts.contentType && facts.contentType !== ctx.view.eContentType) {
    check.problems.push('the content-type signed attribute does not match the signed content type');
  }
  check.digestMatches = facts.messageDigest?.equals(ctx.digests.get(digestHash) as Buffer) === true;
  if (facts.messageDigest && !check.digestMatches) {
    check.problems.push(
      'the message digest does not match the content: the content was altered after signing',
    );
  }
  // RFC 5035 §5.4: the first ESSCertID names the signing certificate.
  const essId = facts.signingCertificate?.[0];
  if (cert && essId && !essCertIdMatches(essId, cert)) {
    check.problems.push(
      'the signingCertificate attribute names a different certificate than the one that signed',
    );
  }
  return si.signedAttrs;
}

/** RFC 3161 Appendix A: the token's imprint is the hash of this SignerInfo's signature value. */
function checkTimestamp(si: CmsSignerInfo): TimestampCheck | undefined {
  const tokens = si.unsignedAttributes.get(OID_SIGNATURE_TIMESTAMP_TOKEN);
  const token = tokens?.[0];
  if (!token) return undefined;
  try {
    const parsed = verifyTimeStampToken(token, { data: si.signature });
    return {
      genTime: parsed.genTime,
      valid: true,
      ...(parsed.signerCertificate ? { tsaCertificate: parsed.signerCertificate } : {}),
    };
  } catch (e) {
    if (!(e instanceof TspVerifyError)) throw e;
    return { valid: false, error: e.message };
  }
}

export function certificateMatchesSignerId(cert: ParsedCertificate, sid: SignerId): boolean {
  if ('subjectKeyId' in sid) return cert.subjectKeyId?.equals(sid.subjectKeyId) === true;
  return cert.serialHex === sid.serialHex && cert.issuerDer.equals(sid.issuerDer);
}

function describeSignerId(sid: SignerId): string {
  if ('subjectKeyId' in sid) return `ski=${sid.subjectKeyId.toString('hex')}`;
  return `issuer=${nameDerToString(sid.issuerDer)}, serial=${sid.serialHex}`;
}

const ALGORITHM_NAMES = new Map<string, string>(Object.entries(OID_ALG).map(([name, id]) => [id, name]));

function algorithmName(algorithmOid: string): string {
  return ALGORITHM_NAMES.get(algorithmOid) ?? algorithmOid;
}
