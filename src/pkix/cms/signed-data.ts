/**
 * CMS SignedData (RFC 5652 §5) as S/MIME (RFC 8551) and CAdES-T use it: signing a streamed content with one
 * signer, and reading and cryptographically checking what any client sends — signer found by
 * IssuerAndSerialNumber or SubjectKeyIdentifier, message digest, signature over the signed attributes exactly as
 * received, ESS signing-certificate binding and the signature timestamp token. Chain building, revocation, key
 * usage and address checks belong to the validation layer; the result exposes what it needs.
 */
import { createHash, type Hash } from 'node:crypto';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { HashAlgorithm, KeyHandle } from '../../crypto/key-handle.js';
import { defaultHashFor, isRsa } from '../../crypto/key-handle.js';
import { digestAlgorithmId, hashFromOid, parseAlgorithmIdentifier } from '../algorithms.js';
import { parseCertificate, signatureAlgorithmDer, type ParsedCertificate } from '../certificate.js';
import { encodeAttribute, verifySignerSignature, type SignerId } from '../cms-signed-attrs.js';
import {
  TAG,
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
} from '../der.js';
import { DerCursor } from '../der-fields.js';
import { Asn1Error } from '../errors.js';
import { essCertIdMatches } from '../ess.js';
import { OID_ALG, OID_CT } from '../oids.js';
import { TspVerifyError, readTimeStampToken, verifyTimeStampToken } from '../tsp.js';
import { BerCursor, readBerRoot, type BerNode } from './ber.js';
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

/** What signing needs once the options are checked: the parsed signer certificate and the choices made. */
interface SigningPlan {
  o: SignOptions;
  cert: ParsedCertificate;
  hash: HashAlgorithm;
  detached: boolean;
  bySki: boolean;
}

function planSigning(content: SignedContent | undefined, o: SignOptions): SigningPlan {
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
  return { o, cert, hash, detached, bySki };
}

/** Sign `content` (hashed as it streams) and return the ContentInfo(SignedData) DER. */
export async function signData(content: SignedContent, o: SignOptions): Promise<Buffer> {
  const plan = planSigning(content, o);
  const { digests } = await digestContent(content, [plan.hash], 0);
  return finishSignedData(plan, digests.get(plan.hash) as Buffer, content);
}

/** A detached signature fed chunk by chunk, for callers that pass the content on as they hash it. */
export interface DetachedSigner {
  update(chunk: Uint8Array): void;
  /** Sign what was fed and return the ContentInfo(SignedData) DER. */
  sign(): Promise<Buffer>;
}

/**
 * The detached form of signData without a stream in between: the options are checked now (a bad signer fails
 * before any content is read), the content is hashed as it is fed, and the signature made at the end.
 */
export function createDetachedSigner(o: SignOptions): DetachedSigner {
  const plan = planSigning(undefined, { ...o, detached: true });
  const hasher = createHash(plan.hash);
  return {
    update: (chunk) => void hasher.update(chunk),
    sign: () => finishSignedData(plan, hasher.digest(), undefined),
  };
}

/** The digest AlgorithmIdentifier DER per hash: the same few bytes in every SignerInfo. */
const DIGEST_ALGORITHM_DER = new Map<HashAlgorithm, Buffer>();

function digestAlgorithmDer(hash: HashAlgorithm): Buffer {
  let der = DIGEST_ALGORITHM_DER.get(hash);
  if (!der) DIGEST_ALGORITHM_DER.set(hash, (der = serialize(digestAlgorithmId(hash))));
  return der;
}

async function finishSignedData(
  plan: SigningPlan,
  messageDigest: Buffer,
  content: SignedContent | undefined,
): Promise<Buffer> {
  const { o, cert, hash, detached, bySki } = plan;
  const signedAttrs = buildSignedAttributes({
    contentType: OID_CT.data,
    messageDigest,
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
  const digestAlgorithm = digestAlgorithmDer(hash);
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

/**
 * Ask for the token and check it is one over this signature before embedding it. The token's own signature is
 * checked where the token crosses a trust boundary: the TSA client (net/tsa-client.ts) verifies every reply it
 * accepts, so a callback returns a verified token, or one from an in-process TimeStampSigner, which needs no
 * check against the key that has just made it. The verifier of the message checks it again in any case.
 */
async function fetchTimestamp(
  get: (signature: Buffer) => Promise<Buffer>,
  signature: Buffer,
): Promise<Buffer> {
  const token = await get(signature);
  let parsed;
  try {
    parsed = readTimeStampToken(token);
  } catch (e) {
    throw new CmsSignedDataError(`the timestamp token is not usable: ${(e as Error).message}`);
  }
  if (!createHash(parsed.hash).update(signature).digest().equals(parsed.messageImprint)) {
    throw new CmsSignedDataError(
      'the timestamp token is not usable: it timestamps different data (message imprint mismatch)',
    );
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
 * Read a ContentInfo(SignedData) in DER or BER (NSS and gpgsm write indefinite lengths and chunked OCTET
 * STRINGs), keeping the exact signed-attribute bytes. Throws CmsSignedDataError.
 */
export function readCmsSignedData(der: Uint8Array): CmsSignedDataView {
  if (der.length > MAX_SIGNED_DATA_BYTES) {
    throw new CmsSignedDataError(
      `SignedData of ${der.length} bytes exceeds the ${MAX_SIGNED_DATA_BYTES}-byte limit; sign large content detached`,
    );
  }
  try {
    return readSignedDataStructure(Buffer.from(der.buffer, der.byteOffset, der.byteLength));
  } catch (e) {
    if (e instanceof Asn1Error) throw new CmsSignedDataError(`malformed CMS SignedData: ${e.message}`);
    throw e;
  }
}

function readSignedDataStructure(buf: Buffer): CmsSignedDataView {
  const root = readBerRoot(buf, 'ContentInfo');
  if (root.tag !== TAG.SEQUENCE) throw new Asn1Error('ContentInfo: not a SEQUENCE');
  const contentInfo = new BerCursor(buf, root, 'ContentInfo');
  const contentType = contentInfo.oid(contentInfo.take(TAG.OID, 'contentType'), 'contentType');
  if (contentType !== OID_CT.signedData) {
    throw new CmsSignedDataError(
      `the CMS content type is ${contentType}, not SignedData: this is not a signature`,
    );
  }
  const wrapper = contentInfo.into(contentInfo.take(0xa0, '[0] content'));
  const sd = wrapper.into(wrapper.take(TAG.SEQUENCE, 'SignedData'), 'SignedData');
  sd.smallInteger(sd.take(TAG.INTEGER, 'version'), 'version');
  sd.take(TAG.SET, 'digestAlgorithms');
  const encap = sd.into(sd.take(TAG.SEQUENCE, 'encapContentInfo'), 'encapContentInfo');
  const eContentType = encap.oid(encap.take(TAG.OID, 'eContentType'), 'eContentType');
  const explicitContent = encap.optional(0xa0);
  let eContent: Buffer | undefined;
  if (explicitContent) {
    const inner = encap.into(explicitContent);
    eContent = inner.octets(inner.any('eContent'), 'eContent', MAX_SIGNED_DATA_BYTES);
  }

  const certificates: Buffer[] = [];
  const certSet = sd.optional(0xa0);
  if (certSet) {
    // Other CertificateChoices (attribute certificates, [3] other) are skipped: S/MIME needs X.509 only.
    const choices = sd.into(certSet).rest();
    if (choices.length > MAX_CERTIFICATES) throw new Asn1Error(`more than ${MAX_CERTIFICATES} certificates`);
    for (const choice of choices)
      if (choice.tag === TAG.SEQUENCE) certificates.push(Buffer.from(sd.bytes(choice)));
  }
  sd.optional(0xa1); // crls: revocation is the validation layer's job, which fetches its own
  const signerSet = sd.into(sd.take(TAG.SET, 'signerInfos'));
  if (signerSet.length > MAX_SIGNERS) throw new Asn1Error(`more than ${MAX_SIGNERS} SignerInfos`);
  const signers = signerSet.rest().map((node, i) => readSignerInfo(signerSet, node, `SignerInfo ${i + 1}`));
  return { eContentType, ...(eContent ? { eContent } : {}), certificates, signers };
}

/** Longest signature value we accept (RSA-16384); real ones are at most 512 bytes. */
const MAX_SIGNATURE_BYTES = 2048;

function readSignerInfo(parent: BerCursor, node: BerNode, where: string): CmsSignerInfo {
  if (node.tag !== TAG.SEQUENCE) throw new Asn1Error(`${where}: not a SEQUENCE`);
  const si = parent.into(node, where);
  si.smallInteger(si.take(TAG.INTEGER, 'version'), 'version');
  let sid: SignerId;
  const sidNode = si.any('sid');
  if (sidNode.tag === TAG.SEQUENCE) {
    const ias = si.into(sidNode, `${where} IssuerAndSerialNumber`);
    const issuer = Buffer.from(ias.bytes(ias.take(TAG.SEQUENCE, 'issuer')));
    sid = { issuerDer: issuer, serialHex: unsignedHex(ias.content(ias.take(TAG.INTEGER, 'serialNumber'))) };
  } else if (sidNode.tag === 0x80) {
    sid = { subjectKeyId: Buffer.from(si.content(sidNode)) };
  } else {
    throw new Asn1Error(`${where}: sid is neither IssuerAndSerialNumber nor [0] SubjectKeyIdentifier`);
  }
  const digestAlgorithm = si.into(si.take(TAG.SEQUENCE, 'digestAlgorithm'));
  const digestAlgorithmOid = digestAlgorithm.oid(digestAlgorithm.take(TAG.OID, 'algorithm'), 'algorithm');
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
  const signedNode = si.optional(0xa0);
  if (signedNode) {
    // RFC 5652 §5.4: the signature covers the DER of the SET OF, i.e. the received bytes with tag 0x31.
    info.signedAttrs = retaggedAsSet(si.bytes(signedNode));
    info.signedAttributes = readAttributes(derCursor(info.signedAttrs, `${where} signedAttrs`));
  }
  const algorithm = si.take(TAG.SEQUENCE, 'signatureAlgorithm');
  info.signatureAlgorithm = parseAlgorithmIdentifier(si.bytes(algorithm), `${where} signatureAlgorithm`);
  const signature = si.any('signature');
  if ((signature.tag & 0xdf) !== TAG.OCTET_STRING)
    throw new Asn1Error(`${where}: signature is not an OCTET STRING`);
  info.signature = Buffer.from(si.octets(signature, 'signature', MAX_SIGNATURE_BYTES));
  const unsignedNode = si.optional(0xa1);
  if (unsignedNode) {
    const unsigned = retaggedAsSet(si.bytes(unsignedNode));
    info.unsignedAttributes = readAttributes(derCursor(unsigned, `${where} unsignedAttrs`));
  }
  if (si.rest().length > 0) throw new Asn1Error(`${where}: unexpected element after the signature`);
  return info;
}

function retaggedAsSet(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  copy[0] = TAG.SET;
  return copy;
}

/** A DER cursor over one complete element (attribute sets are DER even inside BER, RFC 5652 §5.3). */
function derCursor(bytes: Buffer, where: string): DerCursor {
  return new DerCursor(bytes, readTlv(bytes, 0, bytes.length, where), where);
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
  return verifySignedDataView(readCmsSignedData(der), p);
}

/**
 * verifySignedData over a SignedData already read with readCmsSignedData (callers that also need the view read
 * it once). `timestamps: false` skips the timestamp-token check for callers that validate the token fully
 * themselves (chain and all); `timestamp` is then absent from the result.
 */
export async function verifySignedDataView(
  view: CmsSignedDataView,
  p: { content?: Buffer | AsyncIterable<Uint8Array> | NodeJS.ReadableStream; timestamps?: boolean } = {},
): Promise<VerifiedSignedData> {
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
  const context: VerifyContext = {
    view,
    digests,
    certificates,
    timestamps: p.timestamps !== false,
    ...(bytes ? { bytes } : {}),
  };
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
  timestamps: boolean;
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
  const timestamp = ctx.timestamps ? checkTimestamp(si) : undefined;
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
