/**
 * Streaming decryption of EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083) of any size: the
 * ContentInfo is read incrementally — the recipient infos are small and come first (§6.1), so the content key is
 * recovered before the ciphertext arrives, and the ciphertext (DER primitive [0] or BER constructed OCTET STRING
 * segments, X.690 §8.7.3) is decrypted as it streams, holding one input chunk at a time.
 *
 * Contract: plaintext chunks are NOT authentic until the stream has ended without an error — the CBC padding and
 * the GCM tag (which follows the content in AuthEnvelopedData) are checked at the very end. openEnvelopedDataStream
 * hands out those provisional chunks for callers that stage them (e.g. to a temp file); decryptEnvelopedDataToFile
 * writes them to a temporary file beside the target and renames it into place only after the check, so the target
 * never holds unverified plaintext. Failures are the errors of the Buffer API (./enveloped-data.ts): Asn1Error for
 * malformed or truncated input, CmsDecryptError otherwise, with one message for a wrong key and damaged data.
 */
import { open, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { Asn1Error } from '../errors.js';
import { OID_CT } from '../oids.js';
import { OID_AUTH_ENVELOPED_DATA, readAuthEnvelopedTail } from './auth-enveloped-data.js';
import { BerStreamReader, cursorOver, type BerHeader, type OpenElement } from './ber-stream.js';
import {
  CONTENT_KEY_LENGTH,
  isAead,
  parseContentAlgorithm,
  startContentDecryption,
  type ContentDecryption,
  type ReadableContentCipher,
} from './content-encryption.js';
import {
  DEFAULT_MAX_STREAM_CONTENT,
  findCandidates,
  noMatchError,
  type Candidate,
  type DecryptionKey,
} from './enveloped-data.js';
import { CmsDecryptError, damaged } from './envelope-errors.js';
import { asDecryptor, readRecipientInfos, recoverContentKey as recover } from './recipients.js';

/** Recipient infos, originator info and the trailing attributes are read whole; they are never this large. */
const MAX_FIELD_BYTES = 4 * 1024 * 1024;
/** Segments of a constructed OCTET STRING inside segments: X.690 allows it, nobody nests deeper than this. */
const MAX_SEGMENT_DEPTH = 4;

export interface StreamDecryptOptions {
  /** Refuse more ciphertext than this (default 1 GiB). */
  maxContentBytes?: number;
}

export interface EnvelopedDataStream {
  cipher: ReadableContentCipher;
  /** The encrypted content's type OID (id-data for MIME; id-signedData for sign-then-encrypt). */
  contentType: string;
  /** True for AuthEnvelopedData: the tag is checked when `plaintext` ends. */
  authenticated: boolean;
  recipient: { certificate: Buffer; keyTransport: string };
  /**
   * The plaintext, read once. Provisional until it ends without throwing: the last step checks the padding or
   * the tag and throws CmsDecryptError (damaged or wrong key) when it fails.
   */
  plaintext: AsyncIterable<Buffer>;
}

/**
 * Read the ContentInfo from `source` up to the encrypted content, recover the content key with one of `keys`,
 * and return the provisional plaintext stream. With several candidate keys, the first whose key recovery
 * succeeds is used: RSA PKCS#1 v1.5 with a wrong key yields a pseudo-random key (implicit rejection), which only
 * the final padding or tag check exposes — the Buffer API, which holds the ciphertext, tries them all.
 */
export async function openEnvelopedDataStream(
  source: AsyncIterable<Uint8Array>,
  keys: DecryptionKey[],
  o: StreamDecryptOptions = {},
): Promise<EnvelopedDataStream> {
  const r = new BerStreamReader(source);
  const contentInfo = await r.enter(0x30, 'ContentInfo');
  const typeOid = readOid(await r.element('ContentInfo contentType', 256), 'ContentInfo');
  const authenticated = typeOid === OID_AUTH_ENVELOPED_DATA;
  if (!authenticated && typeOid !== OID_CT.envelopedData) {
    throw new CmsDecryptError(
      `not an encrypted message: content type ${typeOid} is not EnvelopedData or AuthEnvelopedData`,
    );
  }
  const what = authenticated ? 'AuthEnvelopedData' : 'EnvelopedData';
  const explicit = await r.enter(0xa0, 'ContentInfo content');
  const env = await r.enter(0x30, what);
  // version, [0] originatorInfo OPTIONAL, recipientInfos: small, read whole and parsed by the Buffer readers.
  const leading: Buffer[] = [];
  for (let i = 0; i < 3; i++) {
    leading.push(await r.element(what, MAX_FIELD_BYTES));
    if (leading[leading.length - 1]?.[0] === 0x31) break;
  }
  const head = cursorOver(leading, what);
  head.smallInteger(head.take(0x02, 'version'), 'version');
  head.optional(0xa0);
  const recipientInfos = readRecipientInfos(head, head.take(0x31, 'recipientInfos'));

  const eci = await r.enter(0x30, 'EncryptedContentInfo');
  const eciHead = cursorOver(
    [await r.element('EncryptedContentInfo', 256), await r.element('contentEncryptionAlgorithm', 1024)],
    'EncryptedContentInfo',
  );
  const contentType = eciHead.oid(eciHead.take(0x06, 'contentType'), 'contentType');
  const algorithm = parseContentAlgorithm(eciHead, eciHead.take(0x30, 'contentEncryptionAlgorithm'));
  if (isAead(algorithm.cipher) !== authenticated) {
    throw new Asn1Error(`${what}: content cipher ${algorithm.cipher} does not belong in ${what}`);
  }
  if (algorithm.cipher === 'rc2-cbc') {
    throw new CmsDecryptError('RC2-encrypted content is read in memory only (decryptEnvelopedData)');
  }

  const candidates = findCandidates(recipientInfos, keys);
  if (candidates.length === 0) throw noMatchError(recipientInfos);
  const keyLength = algorithm.keyLength ?? CONTENT_KEY_LENGTH[algorithm.cipher];
  let chosen: { decryption: ContentDecryption; certificate: Buffer; keyTransport: string } | undefined;
  for (const c of candidates) {
    const recovered = await recoverContentKey(c, keyLength);
    const decryption = recovered.cek && startContentDecryption(algorithm, recovered.cek);
    if (decryption) {
      chosen = { decryption, certificate: c.key.certificate, keyTransport: recovered.keyTransport };
      break;
    }
  }
  if (!chosen) throw damaged();
  const { decryption } = chosen;
  const maxContent = o.maxContentBytes ?? DEFAULT_MAX_STREAM_CONTENT;

  async function* plaintext(): AsyncGenerator<Buffer> {
    const content = await r.header('encryptedContent');
    if (content.tag !== 0x80 && content.tag !== 0xa0) {
      throw new CmsDecryptError(
        'the encrypted content is detached (absent); this API needs it inside the message',
      );
    }
    let total = 0;
    for await (const piece of contentOctets(r, content, 0)) {
      total += piece.length;
      if (total > maxContent)
        throw new CmsDecryptError(`the encrypted content exceeds the ${maxContent}-byte limit`);
      const out = decryption.update(piece);
      if (out.length) yield out;
    }
    await r.leave(eci);
    // The fields after the content, up to the end of the (Auth)EnvelopedData; [1] unprotectedAttrs are not needed.
    const trailing = await restOf(r, env);
    const aead = authenticated ? readAuthEnvelopedTail(cursorOver(trailing, what)) : undefined;
    await r.leave(explicit);
    await r.leave(contentInfo);
    if (!(await r.atEnd())) throw new Asn1Error('ContentInfo: trailing bytes after the message');
    if (aead?.aad) {
      throw new CmsDecryptError(
        'AuthEnvelopedData with authenticated attributes cannot be checked while streaming; use decryptEnvelopedData',
      );
    }
    const last = decryption.final(aead);
    if (!last) throw damaged();
    if (last.length) yield last;
  }

  return {
    cipher: algorithm.cipher,
    contentType,
    authenticated,
    recipient: { certificate: chosen.certificate, keyTransport: chosen.keyTransport },
    plaintext: plaintext(),
  };
}

async function recoverContentKey(
  c: Candidate,
  keyLength: number,
): Promise<{ cek: Buffer | undefined; keyTransport: string }> {
  return recover(c.ri, c.encryptedKey, asDecryptor(c.key.privateKey), c.cert, keyLength);
}

function readOid(element: Buffer, where: string): string {
  const c = cursorOver([element], where);
  return c.oid(c.take(0x06, 'contentType'), 'contentType');
}

/** The rest of a constructed element, whole elements each (bounded); reads past its end. */
async function restOf(r: BerStreamReader, open: OpenElement): Promise<Buffer[]> {
  const out: Buffer[] = [];
  while (await r.inside(open)) {
    if (out.length >= 4) throw new Asn1Error(`${open.where}: unexpected fields at the end`);
    out.push(await r.element(open.where, MAX_FIELD_BYTES));
  }
  return out;
}

/** The octets of a primitive or constructed OCTET STRING, segment by segment (X.690 §8.7.3). */
async function* contentOctets(r: BerStreamReader, node: BerHeader, depth: number): AsyncGenerator<Buffer> {
  if (!node.constructed) {
    yield* r.stream(node.length as number, 'encryptedContent');
    return;
  }
  if (depth > MAX_SEGMENT_DEPTH)
    throw new Asn1Error('encryptedContent: constructed string nested too deeply');
  const open: OpenElement = { header: node, where: 'encryptedContent' };
  while (await r.inside(open)) {
    const segment = await r.header('encryptedContent');
    if (segment.tag !== 0x04 && segment.tag !== 0x24)
      throw new Asn1Error('encryptedContent: a string segment is not an OCTET STRING');
    yield* contentOctets(r, segment, depth + 1);
  }
}

/**
 * Decrypt `source` into the file `outPath`. The plaintext goes to a temporary file in the same directory, which
 * is renamed to `outPath` only after the padding / tag check passed; on any failure it is removed and `outPath`
 * is left untouched.
 */
export async function decryptEnvelopedDataToFile(
  source: AsyncIterable<Uint8Array>,
  keys: DecryptionKey[],
  outPath: string,
  o: StreamDecryptOptions = {},
): Promise<Omit<EnvelopedDataStream, 'plaintext'>> {
  const { plaintext, ...info } = await openEnvelopedDataStream(source, keys, o);
  await writeVerified(plaintext, outPath);
  return info;
}

/** Write `chunks` to a temp file beside `outPath`; rename it into place when the chunks end without an error. */
export async function writeVerified(chunks: AsyncIterable<Buffer>, outPath: string): Promise<void> {
  const temp = join(dirname(outPath), `.${basename(outPath)}.${randomBytes(6).toString('hex')}.partial`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    for await (const chunk of chunks) await handle.write(chunk);
    await handle.close();
    await rename(temp, outPath);
  } catch (e) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw e;
  }
}
