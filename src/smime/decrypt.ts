/**
 * Decrypting a message: find the application/pkcs7-mime part (or an application/octet-stream *.p7m), decrypt its
 * EnvelopedData/AuthEnvelopedData with whichever of the user's keys (current and historical) a RecipientInfo
 * names, and give back the inner entity as a readable message: the outer header fields plus the inner entity, or
 * the protected header fields when the payload carries them (RFC 9788 §4).
 */
import { BerCursor, readBerRoot } from '../pkix/cms/ber.js';
import {
  CmsDecryptError,
  decryptEnvelopedData,
  MAX_ENVELOPE_BYTES,
  type DecryptionKey,
  type ReadableContentCipher,
} from '../pkix/cms/enveloped-data.js';
import { OID_AUTH_ENVELOPED_DATA } from '../pkix/cms/auth-enveloped-data.js';
import { Asn1Error } from '../pkix/errors.js';
import { OID_CT } from '../pkix/oids.js';
import { decryptionKeyOf, type SmimeCredential } from './credentials.js';
import {
  classifySmime,
  decodeBody,
  encodeBase64Lines,
  isStructuralField,
  MimeError,
  parseMime,
  parseMimeHead,
  readProtectedHeaders,
  type HeaderField,
  type MimeLimits,
  type MimePart,
  type ProtectedHeaderView,
} from './mime/index.js';
import { pkcs7MimeHead } from './sign.js';

/** A message we cannot decrypt; the message says why (never which padding check failed: RFC 3218 §2.3). */
export class SmimeDecryptError extends Error {
  override name = 'SmimeDecryptError';
}

/** What a CMS ContentInfo holds. */
export type CmsKind = 'signed' | 'enveloped' | 'auth-enveloped' | 'other';

/** Base64 makes the encrypted part a third larger than the CMS structure it carries. */
export const MAX_ENCRYPTED_MESSAGE_BYTES = Math.ceil(MAX_ENVELOPE_BYTES * 1.4) + 1024 * 1024;

/** Shallow MIME limits for hostile input: a real encrypted message has a handful of parts. */
export const SMIME_LIMITS: Partial<MimeLimits> = {
  maxTotalBytes: MAX_ENCRYPTED_MESSAGE_BYTES,
  maxParts: 1000,
  maxDepth: 16,
};

export function cmsKind(der: Buffer): CmsKind {
  const root = readBerRoot(der, 'ContentInfo');
  const ci = new BerCursor(der, root, 'ContentInfo');
  const type = ci.oid(ci.take(0x06, 'contentType'), 'contentType');
  if (type === OID_CT.signedData) return 'signed';
  if (type === OID_CT.envelopedData) return 'enveloped';
  if (type === OID_AUTH_ENVELOPED_DATA) return 'auth-enveloped';
  return 'other';
}

/** The S/MIME structure of the top-level entity, sniffing the CMS type when the labels do not say. */
export function smimeStructure(
  raw: Buffer,
  root: MimePart,
): { kind: 'multipart-signed' } | { kind: CmsKind; der: Buffer } | { kind: 'none' } {
  const label = classifySmime(root);
  if (label === 'multipart-signed') return { kind: 'multipart-signed' };
  if (label === 'none') return { kind: 'none' };
  const der = decodeBody(raw, root);
  try {
    return { kind: cmsKind(der), der };
  } catch (e) {
    throw new SmimeDecryptError(`the S/MIME part is not a readable CMS structure: ${(e as Error).message}`);
  }
}

export interface SmimeDecryption {
  /** The decrypted message: header fields and the inner entity, ready to read or to verify. */
  message: Buffer;
  /** The inner MIME entity exactly as decrypted. */
  entity: Buffer;
  cipher: ReadableContentCipher;
  authenticated: boolean;
  recipient: { certificate: Buffer; keyTransport: string };
  headers: ProtectedHeaderView;
}

const asKey = (k: DecryptionKey | SmimeCredential): DecryptionKey => ('key' in k ? decryptionKeyOf(k) : k);

/** Decrypt `message` with any of `keys` (all of a user's keys, current and historical). */
export async function decryptMessage(
  message: Buffer,
  keys: ReadonlyArray<DecryptionKey | SmimeCredential>,
): Promise<SmimeDecryption> {
  if (keys.length === 0)
    throw new SmimeDecryptError('no decryption key given: pass the recipient key (--key)');
  let root: MimePart;
  try {
    root = parseMime(message, SMIME_LIMITS);
  } catch (e) {
    throw new SmimeDecryptError(`the message cannot be parsed: ${(e as Error).message}`);
  }
  return decryptStructure(message, root, smimeStructure(message, root), keys);
}

/** decryptMessage once the message is parsed (openMessage has already parsed it to see what it is). */
export async function decryptStructure(
  message: Buffer,
  root: MimePart,
  structure: ReturnType<typeof smimeStructure>,
  keys: ReadonlyArray<DecryptionKey | SmimeCredential>,
): Promise<SmimeDecryption> {
  const decrypted = await decryptEntity(message, root, structure, keys);
  const restored = restoreMessage(message, root.headers, decrypted.entity);
  return { ...decrypted, message: restored.message, headers: restored.headers };
}

/** The decrypted inner entity, not yet made into a message (openMessage may verify it first). */
export async function decryptEntity(
  message: Buffer,
  root: MimePart,
  structure: ReturnType<typeof smimeStructure>,
  keys: ReadonlyArray<DecryptionKey | SmimeCredential>,
): Promise<Omit<SmimeDecryption, 'message' | 'headers'>> {
  if (structure.kind !== 'enveloped' && structure.kind !== 'auth-enveloped') {
    throw new SmimeDecryptError(
      `the message is not encrypted (Content-Type ${root.contentType.mediaType}${structure.kind === 'signed' || structure.kind === 'multipart-signed' ? ', a signed message: verify it instead' : ''})`,
    );
  }
  let decrypted;
  try {
    decrypted = await decryptEnvelopedData(structure.der, keys.map(asKey));
  } catch (e) {
    if (e instanceof CmsDecryptError || e instanceof Asn1Error) throw new SmimeDecryptError(e.message);
    throw e;
  }
  // RFC 8551 §3.3 wraps MIME; a bare SignedData inside (some gateways) is shown as the opaque-signed entity.
  const entity =
    decrypted.contentType === OID_CT.signedData
      ? Buffer.concat([pkcs7MimeHead('signed-data'), encodeBase64Lines(decrypted.content)])
      : decrypted.content;
  return {
    entity,
    cipher: decrypted.cipher,
    authenticated: decrypted.authenticated,
    recipient: decrypted.recipient,
  };
}

/** Does `entity` carry RFC 9788 protected headers (which then replace the outer fields)? Unreadable: true. */
export function carriesProtectedHeaders(entity: Buffer): boolean {
  try {
    return readProtectedHeaders(parseMimeHead(entity, SMIME_LIMITS)).source === 'protected';
  } catch {
    return true; // restoreMessage explains what is wrong with it
  }
}

/**
 * A message from an unwrapped inner entity: the outer message-level fields (exact bytes) before it, unless the
 * entity carries protected headers (hp parameter), which then replace them; HP-Outer records are dropped.
 */
export function restoreMessage(
  outerRaw: Buffer,
  outerFields: readonly HeaderField[],
  entity: Buffer,
): { message: Buffer; headers: ProtectedHeaderView } {
  // Only the entity's own header section matters here (protected headers, where the body starts).
  let inner: MimePart;
  try {
    inner = parseMimeHead(entity, SMIME_LIMITS);
  } catch (e) {
    if (e instanceof MimeError)
      throw new SmimeDecryptError(`the decrypted content is not MIME: ${e.message}`);
    throw e;
  }
  const headers = readProtectedHeaders(inner, outerFields);
  const fieldBytes = (
    raw: Buffer,
    fields: readonly HeaderField[],
    keep: (name: string) => boolean,
  ): Buffer[] => fields.filter((f) => keep(f.name)).map((f) => raw.subarray(f.range.start, f.range.end));
  const pieces: Buffer[] = [];
  if (headers.source === 'protected') {
    pieces.push(...fieldBytes(entity, inner.headers, (n) => n.toLowerCase() !== 'hp-outer'));
    if (!inner.headers.some((f) => f.name.toLowerCase() === 'mime-version')) pieces.unshift(MIME_VERSION);
    pieces.push(entity.subarray(inner.headerRange.end));
  } else {
    pieces.push(...fieldBytes(outerRaw, outerFields, (n) => !isStructuralField(n)), MIME_VERSION, entity);
  }
  return { message: Buffer.concat(pieces), headers };
}

const MIME_VERSION = Buffer.from('MIME-Version: 1.0\r\n');
