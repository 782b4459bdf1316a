/**
 * CMS EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083) — encryption to certificates and decryption
 * with the user's keys.
 *
 * Encryption streams: createEnvelopedDataEncryptor() returns a Transform that takes the plaintext and emits the
 * whole ContentInfo (header, ciphertext, trailer), holding only one chunk at a time. With `contentLength` known in
 * advance the output is DER (definite lengths); without it, BER with indefinite lengths and the ciphertext as a
 * constructed OCTET STRING (RFC 5652 §6.1 allows BER; OpenSSL, NSS, Outlook and gpgsm read both).
 * encryptEnvelopedData() is the in-memory form for messages up to 64 MiB and always writes DER.
 *
 * Decryption reads DER and BER, finds the RecipientInfos addressed to the given keys (IssuerAndSerialNumber or
 * SubjectKeyIdentifier), and ends every key or integrity failure in one CmsDecryptError message.
 */
import { Transform } from 'node:stream';
import { randomBytes, type KeyObject } from 'node:crypto';
import { encodeLength, integer, octetString, oid } from '../der.js';
import { Asn1Error } from '../errors.js';
import { OID_CT } from '../oids.js';
import {
  AUTH_ENVELOPED_DATA_VERSION,
  OID_AUTH_ENVELOPED_DATA,
  readAuthEnvelopedTail,
} from './auth-enveloped-data.js';
import { BerCursor, joinSegments, readBerRoot } from './ber.js';
import {
  CONTENT_KEY_LENGTH,
  decryptContent,
  encryptedLength,
  GCM_TAG_LENGTH,
  isAead,
  parseContentAlgorithm,
  startContentEncryption,
  type ContentCipher,
  type ContentEncryption,
  type ReadableContentCipher,
} from './content-encryption.js';
import { CmsDecryptError, CmsEncryptError, damaged } from './envelope-errors.js';
import {
  asDecryptor,
  buildRecipientInfo,
  describeRid,
  MAX_RECIPIENTS,
  readRecipientCertificate,
  readRecipientInfos,
  recoverContentKey,
  ridMatches,
  type ParsedRecipientInfo,
  type Recipient,
  type RecipientCertificate,
  type RecipientDecryptor,
  type RecipientId,
} from './recipients.js';

export { CmsDecryptError, CmsEncryptError } from './envelope-errors.js';
export type { ContentCipher, ReadableContentCipher } from './content-encryption.js';
export type { KeyTransport, Recipient, RecipientDecryptor } from './recipients.js';
export { keyObjectDecryptor } from './recipients.js';

/** In-memory API bound (the streaming form has its own, larger one). */
export const MAX_BUFFER_CONTENT = 64 * 1024 * 1024;
export const DEFAULT_MAX_STREAM_CONTENT = 1024 * 1024 * 1024;
/** RFC 5753 §7.2 suggests 512 bits of user keying material. */
const UKM_LENGTH = 64;

export interface EnvelopeOptions {
  recipients: Recipient[];
  /** Default aes-256-cbc (EnvelopedData). The GCM ciphers produce AuthEnvelopedData (RFC 5083/5084). */
  cipher?: ContentCipher;
  /** ECDH/X25519 recipients: add random user keying material (RFC 5753 §3.1.1). Off by default, like OpenSSL. */
  ukm?: boolean;
}

export interface StreamEnvelopeOptions extends EnvelopeOptions {
  /** Exact plaintext length, when known: the output is then DER; otherwise indefinite-length BER. */
  contentLength?: number;
  /** Refuse more plaintext than this (default 1 GiB). */
  maxContentBytes?: number;
}

export interface EnvelopedDataEncryptor {
  /** Plaintext in, the complete ContentInfo out. Errors (too much or too little content) end the stream. */
  transform: Transform;
  cipher: ContentCipher;
  contentType: 'envelopedData' | 'authEnvelopedData';
}

// ---------------------------------------------------------------- writing

interface PreparedEnvelope {
  encryption: ContentEncryption;
  contentTypeOid: string;
  version: number;
  recipientInfos: Buffer;
}

async function prepareEnvelope(p: EnvelopeOptions): Promise<PreparedEnvelope> {
  const cipher = p.cipher ?? 'aes-256-cbc';
  if (!(cipher in CONTENT_KEY_LENGTH) || cipher === ('des-ede3-cbc' as string)) {
    throw new CmsEncryptError(
      `cipher "${cipher}" is not offered; use aes-256-cbc, aes-128-cbc, aes-256-gcm or aes-128-gcm`,
    );
  }
  if (p.recipients.length === 0) throw new CmsEncryptError('at least one recipient is needed');
  if (p.recipients.length > MAX_RECIPIENTS)
    throw new CmsEncryptError(`more than ${MAX_RECIPIENTS} recipients`);
  const encryption = startContentEncryption(cipher);
  const ukm = p.ukm ? randomBytes(UKM_LENGTH) : undefined;
  const infos = await Promise.all(
    p.recipients.map((r) => buildRecipientInfo(r, encryption.key, cipher, ukm ? { ukm } : {})),
  );
  const aead = isAead(cipher);
  return {
    encryption,
    contentTypeOid: aead ? OID_AUTH_ENVELOPED_DATA : OID_CT.envelopedData,
    // RFC 5652 §6.1: 0 when every RecipientInfo is version 0 (and no originatorInfo/unprotectedAttrs), else 2.
    version: aead ? AUTH_ENVELOPED_DATA_VERSION : infos.every((i) => i.version === 0) ? 0 : 2,
    // SET OF in DER is sorted (X.690 §11.6); receivers do not care, but DER output should be DER.
    recipientInfos: tlvHeaderAnd(0x31, Buffer.concat(infos.map((i) => i.der).sort(Buffer.compare))),
  };
}

function tlvHeaderAnd(tag: number, body: Buffer): Buffer {
  return Buffer.concat([header(tag, body.length), body]);
}

const header = (tag: number, length: number): Buffer =>
  Buffer.concat([Buffer.from([tag]), encodeLength(length)]);
const INDEFINITE = (tag: number): Buffer => Buffer.from([tag, 0x80]);
const EOC = Buffer.from([0, 0]);

/** The bytes around the ciphertext: ContentInfo → (Auth)EnvelopedData → EncryptedContentInfo → [0]. */
interface Framing {
  head: Buffer;
  /** Frame a piece of ciphertext (a segment of a constructed OCTET STRING in BER mode). */
  frame(ciphertext: Buffer): Buffer[];
  tail(tag: Buffer | undefined): Buffer;
}

function framing(env: PreparedEnvelope, ciphertextLength: number | undefined): Framing {
  const { encryption, contentTypeOid, recipientInfos } = env;
  const version = integer(env.version);
  const eciStart = Buffer.concat([oid(OID_CT.data), encryption.algorithmIdentifier]);
  const macLength = isAead(encryption.cipher) ? 2 + GCM_TAG_LENGTH : 0;
  const mac = (tag: Buffer | undefined): Buffer => (tag ? octetString(tag) : Buffer.alloc(0));
  if (ciphertextLength === undefined) {
    return {
      head: Buffer.concat([
        INDEFINITE(0x30),
        oid(contentTypeOid),
        INDEFINITE(0xa0),
        INDEFINITE(0x30),
        version,
        recipientInfos,
        INDEFINITE(0x30),
        eciStart,
        INDEFINITE(0xa0),
      ]),
      frame: (ct) => (ct.length > 0 ? [header(0x04, ct.length), ct] : []),
      tail: (tag) => Buffer.concat([EOC, EOC, mac(tag), EOC, EOC, EOC]),
    };
  }
  const contentHeader = header(0x80, ciphertextLength); // [0] IMPLICIT OCTET STRING, primitive
  const eciLength = eciStart.length + contentHeader.length + ciphertextLength;
  const eciHeader = header(0x30, eciLength);
  const innerLength = version.length + recipientInfos.length + eciHeader.length + eciLength + macLength;
  const innerHeader = header(0x30, innerLength);
  const explicitLength = innerHeader.length + innerLength;
  const typeOid = oid(contentTypeOid);
  const explicitHeader = header(0xa0, explicitLength);
  const outer = header(0x30, typeOid.length + explicitHeader.length + explicitLength);
  return {
    head: Buffer.concat([
      outer,
      typeOid,
      explicitHeader,
      innerHeader,
      version,
      recipientInfos,
      eciHeader,
      eciStart,
      contentHeader,
    ]),
    frame: (ct) => [ct],
    tail: mac,
  };
}

/** Encrypt `content` (≤ 64 MiB) to every recipient; returns a DER ContentInfo. */
export async function encryptEnvelopedData(content: Buffer, p: EnvelopeOptions): Promise<Buffer> {
  if (content.length > MAX_BUFFER_CONTENT) {
    throw new CmsEncryptError(
      `content of ${content.length} bytes exceeds the ${MAX_BUFFER_CONTENT}-byte in-memory limit; use createEnvelopedDataEncryptor`,
    );
  }
  const env = await prepareEnvelope(p);
  const f = framing(env, encryptedLength(env.encryption.cipher, content.length));
  const body = [env.encryption.update(content), env.encryption.final()];
  return Buffer.concat([f.head, ...body, f.tail(env.encryption.tag())]);
}

/**
 * The encryptor's steps without a stream around them: write `head`, then what `update` returns for each chunk of
 * plaintext, then what `final` returns. Async-generator pipelines use this directly; the Transform wraps it.
 */
export interface EnvelopedDataWriter {
  head: Buffer;
  /** The framed ciphertext of one chunk. Throws CmsEncryptError when the content exceeds its bound. */
  update(chunk: Buffer): Buffer[];
  /** The last ciphertext and the trailer. Throws CmsEncryptError when contentLength was not met. */
  final(): Buffer[];
  cipher: ContentCipher;
  contentType: 'envelopedData' | 'authEnvelopedData';
}

export async function createEnvelopedDataWriter(p: StreamEnvelopeOptions): Promise<EnvelopedDataWriter> {
  const maxContent = p.maxContentBytes ?? DEFAULT_MAX_STREAM_CONTENT;
  if (p.contentLength !== undefined && (!Number.isSafeInteger(p.contentLength) || p.contentLength < 0)) {
    throw new CmsEncryptError('contentLength must be a non-negative integer');
  }
  if (p.contentLength !== undefined && p.contentLength > maxContent) {
    throw new CmsEncryptError(`contentLength ${p.contentLength} exceeds the ${maxContent}-byte limit`);
  }
  const env = await prepareEnvelope(p);
  const { encryption } = env;
  const f = framing(
    env,
    p.contentLength === undefined ? undefined : encryptedLength(encryption.cipher, p.contentLength),
  );
  let seen = 0;
  return {
    head: f.head,
    update(chunk) {
      seen += chunk.length;
      if (seen > maxContent || (p.contentLength !== undefined && seen > p.contentLength)) {
        throw new CmsEncryptError(`content exceeds ${p.contentLength ?? maxContent} bytes`);
      }
      return f.frame(encryption.update(chunk));
    },
    final() {
      if (p.contentLength !== undefined && seen !== p.contentLength) {
        throw new CmsEncryptError(`content was ${seen} bytes, but contentLength said ${p.contentLength}`);
      }
      return [...f.frame(encryption.final()), f.tail(encryption.tag())];
    },
    cipher: encryption.cipher,
    contentType: isAead(encryption.cipher) ? 'authEnvelopedData' : 'envelopedData',
  };
}

/**
 * A streaming encryptor: pipe the plaintext through `transform` and the ContentInfo comes out. Memory stays at
 * one chunk plus the header, whatever the message size.
 */
export async function createEnvelopedDataEncryptor(
  p: StreamEnvelopeOptions,
): Promise<EnvelopedDataEncryptor> {
  const writer = await createEnvelopedDataWriter(p);
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      try {
        for (const piece of writer.update(chunk)) this.push(piece);
      } catch (e) {
        done(e as Error);
        return;
      }
      done();
    },
    flush(done) {
      try {
        for (const piece of writer.final()) this.push(piece);
      } catch (e) {
        done(e as Error);
        return;
      }
      done();
    },
  });
  transform.push(writer.head);
  return { transform, cipher: writer.cipher, contentType: writer.contentType };
}

// ---------------------------------------------------------------- reading

export interface DecryptionKey {
  /** A software private key, or the operations of a token key (see RecipientDecryptor). */
  privateKey: KeyObject | RecipientDecryptor;
  /** DER certificate of that key: it is how RecipientInfos are matched. */
  certificate: Buffer;
}

export interface DecryptedEnvelope {
  content: Buffer;
  cipher: ReadableContentCipher;
  /** The encrypted content's type OID (id-data for plain MIME; id-signedData for sign-then-encrypt). */
  contentType: string;
  /** True for AuthEnvelopedData, whose tag was checked. */
  authenticated: boolean;
  recipient: { certificate: Buffer; keyTransport: string };
}

/** Largest message the in-memory decryption accepts: the content bound plus room for recipients. */
export const MAX_ENVELOPE_BYTES = MAX_BUFFER_CONTENT + 4 * 1024 * 1024;
/** Candidate keys tried before giving up (several historical keys may name the same certificate). */
const MAX_CANDIDATES = 32;

interface ParsedEnvelope {
  recipientInfos: ParsedRecipientInfo[];
  contentType: string;
  algorithm: ReturnType<typeof parseContentAlgorithm>;
  ciphertext: Buffer;
  aead?: { tag: Buffer; aad?: Buffer };
}

function parseEnvelope(der: Buffer): ParsedEnvelope {
  const root = readBerRoot(der, 'ContentInfo');
  const ci = new BerCursor(der, root, 'ContentInfo');
  const typeOid = ci.oid(ci.take(0x06, 'contentType'), 'contentType');
  const authenticated = typeOid === OID_AUTH_ENVELOPED_DATA;
  if (!authenticated && typeOid !== OID_CT.envelopedData) {
    throw new CmsDecryptError(
      `not an encrypted message: content type ${typeOid} is not EnvelopedData or AuthEnvelopedData`,
    );
  }
  const what = authenticated ? 'AuthEnvelopedData' : 'EnvelopedData';
  const inner = ci.into(ci.take(0xa0, 'content'), 'content');
  const env = inner.into(inner.take(0x30, what), what);
  env.smallInteger(env.take(0x02, 'version'), 'version');
  env.optional(0xa0); // originatorInfo: certificates for path building, not needed to decrypt
  const recipientInfos = readRecipientInfos(env, env.take(0x31, 'recipientInfos'));
  const eci = env.into(env.take(0x30, 'encryptedContentInfo'), 'EncryptedContentInfo');
  const contentType = eci.oid(eci.take(0x06, 'contentType'), 'contentType');
  const algorithm = parseContentAlgorithm(eci, eci.take(0x30, 'contentEncryptionAlgorithm'));
  const encrypted = eci.optional(0x80) ?? eci.optional(0xa0);
  if (!encrypted)
    throw new CmsDecryptError(
      'the encrypted content is detached (absent); this API needs it inside the message',
    );
  const ciphertext = joinSegments(der, encrypted, 'encryptedContent', MAX_BUFFER_CONTENT + 16);
  if (isAead(algorithm.cipher) !== authenticated) {
    throw new Asn1Error(`${what}: content cipher ${algorithm.cipher} does not belong in ${what}`);
  }
  if (!authenticated) return { recipientInfos, contentType, algorithm, ciphertext };
  return { recipientInfos, contentType, algorithm, ciphertext, aead: readAuthEnvelopedTail(env) };
}

export interface Candidate {
  ri: Exclude<ParsedRecipientInfo, { type: 'unsupported' }>;
  encryptedKey: Buffer;
  key: DecryptionKey;
  cert: RecipientCertificate;
}

export function findCandidates(infos: ParsedRecipientInfo[], keys: DecryptionKey[]): Candidate[] {
  const certs = keys.map((key) => ({ key, cert: readRecipientCertificate(key.certificate) }));
  const out: Candidate[] = [];
  for (const ri of infos) {
    if (ri.type === 'unsupported') continue;
    const entries = ri.type === 'ktri' ? [{ rid: ri.rid, encryptedKey: ri.encryptedKey }] : ri.keys;
    for (const { rid, encryptedKey } of entries) {
      for (const { key, cert } of certs) {
        if (ridMatches(rid, cert) && out.length < MAX_CANDIDATES) out.push({ ri, encryptedKey, key, cert });
      }
    }
  }
  return out;
}

export function noMatchError(infos: ParsedRecipientInfo[]): CmsDecryptError {
  const names: string[] = [];
  for (const ri of infos) {
    const rids: RecipientId[] =
      ri.type === 'ktri' ? [ri.rid] : ri.type === 'kari' ? ri.keys.map((k) => k.rid) : ri.rids;
    const suffix = ri.type === 'unsupported' ? ` (${ri.description}, not supported)` : '';
    if (rids.length === 0)
      names.push(`${ri.type === 'unsupported' ? ri.description : ri.type}, not supported`);
    for (const rid of rids) names.push(describeRid(rid) + suffix);
  }
  const shown = names.slice(0, 8).join('; ') + (names.length > 8 ? `; and ${names.length - 8} more` : '');
  return new CmsDecryptError(`no recipient matches any of the given keys (recipients: ${shown})`);
}

/**
 * Decrypt an EnvelopedData or AuthEnvelopedData ContentInfo (DER or BER, ≤ 68 MiB) with any of `keys`.
 * Throws CmsDecryptError (no matching recipient; damaged message or wrong key — one message for both) or
 * Asn1Error (malformed structure).
 */
export async function decryptEnvelopedData(der: Buffer, keys: DecryptionKey[]): Promise<DecryptedEnvelope> {
  if (der.length > MAX_ENVELOPE_BYTES) {
    throw new CmsDecryptError(
      `message of ${der.length} bytes exceeds the ${MAX_ENVELOPE_BYTES}-byte in-memory limit`,
    );
  }
  const env = parseEnvelope(der);
  const candidates = findCandidates(env.recipientInfos, keys);
  if (candidates.length === 0) throw noMatchError(env.recipientInfos);
  const keyLength = env.algorithm.keyLength ?? CONTENT_KEY_LENGTH[env.algorithm.cipher];
  for (const c of candidates) {
    const { cek, keyTransport } = await recoverContentKey(
      c.ri,
      c.encryptedKey,
      asDecryptor(c.key.privateKey),
      c.cert,
      keyLength,
    );
    const content = cek && decryptContent(env.algorithm, cek, env.ciphertext, env.aead);
    if (content) {
      return {
        content,
        cipher: env.algorithm.cipher,
        contentType: env.contentType,
        authenticated: env.aead !== undefined,
        recipient: { certificate: c.key.certificate, keyTransport },
      };
    }
  }
  throw damaged();
}
