/**
 * Decrypting and verifying messages of any size, file to file: the header sections are read by position, the
 * base64 application/pkcs7-mime body is decoded and decrypted as it streams (../pkix/cms/enveloped-stream.ts),
 * and a multipart/signed message's signed part is hashed from the file by byte range, its boundaries found by
 * mime/stream-scan.ts with the parser's own rules. Memory stays at a few chunks whatever the message size.
 *
 * The decrypted output is staged in a temporary file beside the target and renamed into place only once the
 * CBC padding or GCM tag has checked: the target never holds plaintext that did not decrypt cleanly.
 */
import { copyFile, mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CmsDecryptError,
  type DecryptionKey,
  type ReadableContentCipher,
} from '../pkix/cms/enveloped-data.js';
import { openEnvelopedDataStream, writeVerified } from '../pkix/cms/enveloped-stream.js';
import { Asn1Error } from '../pkix/errors.js';
import { OID_CT } from '../pkix/oids.js';
import { decryptionKeyOf, type SmimeCredential } from './credentials.js';
import { MAX_ENCRYPTED_MESSAGE_BYTES, restoreMessage, SMIME_LIMITS, SmimeDecryptError } from './decrypt.js';
import {
  base64Lines,
  canonicalLines,
  fileChunks,
  prepend,
  readHeaderSection,
  writeChunks,
} from './message-stream.js';
import {
  canonicalize,
  classifySmime,
  decodeBase64Chunks,
  decodeBody,
  findHeader,
  MimeError,
  parseMime,
  type MimePart,
  type ProtectedHeaderView,
} from './mime/index.js';
import { scanDelimiters } from './mime/stream-scan.js';
import { VerificationFindings, verificationResult, type SmimeVerification } from './result.js';
import { pkcs7MimeHead } from './sign.js';
import {
  openMessage,
  verifyMessage,
  verifySignature,
  type OpenedMessage,
  type SmimeLayer,
  type SmimeVerifyOptions,
} from './verify.js';

/** The signature part of a multipart/signed message: a few certificates and a signature, never this large. */
const MAX_SIGNATURE_PART = 4 * 1024 * 1024;
/** An inner entity's header section is read whole; larger is not a header. */
const MAX_INNER_HEADER = 1024 * 1024;

export interface SmimeFileDecryption {
  cipher: ReadableContentCipher;
  authenticated: boolean;
  recipient: { certificate: Buffer; keyTransport: string };
  headers: ProtectedHeaderView;
}

/** The top-level header section of a message file, parsed (body not read), in the message's own line endings. */
interface FileHead {
  headerBytes: Buffer;
  bodyStart: number;
  root: MimePart;
  size: number;
  /** No CR in the header section: a stored LF-only copy (`openssl smime` output), read in its CRLF wire form. */
  lfOnly: boolean;
}

async function readFileHead(path: string): Promise<FileHead> {
  const { headerBytes, bodyStart } = await readHeaderSection(path);
  const root = parseMime(headerBytes, SMIME_LIMITS);
  return { headerBytes, bodyStart, root, size: (await stat(path)).size, lfOnly: !headerBytes.includes(0x0d) };
}

const asKey = (k: DecryptionKey | SmimeCredential): DecryptionKey => ('key' in k ? decryptionKeyOf(k) : k);

/**
 * Decrypt the message in `inPath` (application/pkcs7-mime enveloped-data or authEnveloped-data, any size) with
 * any of `keys`, writing the readable message — outer fields (or the protected ones, RFC 9788 §4) and the inner
 * entity — to `outPath`. Every failure is a SmimeDecryptError and leaves `outPath` untouched.
 */
export async function decryptMessageFile(
  inPath: string,
  outPath: string,
  keys: ReadonlyArray<DecryptionKey | SmimeCredential>,
): Promise<SmimeFileDecryption> {
  if (keys.length === 0)
    throw new SmimeDecryptError('no decryption key given: pass the recipient key (--key)');
  try {
    return await decryptFile(inPath, outPath, keys.map(asKey));
  } catch (e) {
    if (e instanceof CmsDecryptError || e instanceof Asn1Error || e instanceof MimeError)
      throw new SmimeDecryptError(e.message);
    if (e instanceof Error && e.name === 'SmimeMessageError') throw new SmimeDecryptError(e.message);
    throw e;
  }
}

async function decryptFile(
  inPath: string,
  outPath: string,
  keys: DecryptionKey[],
): Promise<SmimeFileDecryption> {
  const head = await readFileHead(inPath);
  const kind = classifySmime(head.root);
  if (kind === 'multipart-signed' || kind === 'none' || kind === 'pkcs7-signed-data') {
    throw new SmimeDecryptError(
      `the message is not encrypted (Content-Type ${head.root.contentType.mediaType}${kind === 'none' ? '' : ', a signed message: verify it instead'})`,
    );
  }
  const encoding = (findHeader(head.root.headers, 'content-transfer-encoding') ?? '7bit')
    .trim()
    .toLowerCase();
  if (encoding === 'quoted-printable')
    throw new SmimeDecryptError(
      'a quoted-printable encrypted part is not read: S/MIME uses base64 or binary',
    );
  const body = fileChunks(inPath, head.bodyStart);
  const der = encoding === 'base64' ? decodeBase64Chunks(body) : body;
  const envelope = await openEnvelopedDataStream(der, keys, {
    maxContentBytes: Math.max(head.size, 1024 * 1024),
  });
  // RFC 8551 §3.3 wraps MIME; a bare SignedData inside (some gateways) is shown as the opaque-signed entity.
  const entity =
    envelope.contentType === OID_CT.signedData
      ? prepend(pkcs7MimeHead('signed-data'), base64Lines(envelope.plaintext))
      : envelope.plaintext;
  const { head: innerHead, rest } = await splitHeaderSection(entity);
  const restored = restoreMessage(head.headerBytes, head.root.headers, innerHead);
  await writeVerified(prepend(restored.message, rest), outPath);
  return {
    cipher: envelope.cipher,
    authenticated: envelope.authenticated,
    recipient: envelope.recipient,
    headers: restored.headers,
  };
}

/** The header section (blank line included) at the start of `chunks`, and the chunks after it. */
async function splitHeaderSection(
  chunks: AsyncIterable<Buffer>,
): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const it = chunks[Symbol.asyncIterator]();
  let buffered = Buffer.alloc(0);
  for (;;) {
    const end = headerEnd(buffered);
    if (end !== undefined) {
      const tail = buffered.subarray(end);
      return { head: buffered.subarray(0, end), rest: prepend(tail, { [Symbol.asyncIterator]: () => it }) };
    }
    if (buffered.length > MAX_INNER_HEADER)
      throw new SmimeDecryptError(
        `the decrypted content has no header section within ${MAX_INNER_HEADER} bytes: it is not MIME`,
      );
    const next = await it.next();
    if (next.done) return { head: buffered, rest: prepend(Buffer.alloc(0), (async function* () {})()) };
    buffered = Buffer.concat([buffered, next.value]);
  }
}

/** Offset just past the blank line ending a header section (CRLF or LF line ends), if present. */
function headerEnd(b: Buffer): number | undefined {
  if (b[0] === 0x0a) return 1;
  if (b[0] === 0x0d && b[1] === 0x0a) return 2;
  const crlf = b.indexOf('\r\n\r\n');
  const lf = b.indexOf('\n\n');
  const ends = [crlf === -1 ? Infinity : crlf + 4, lf === -1 ? Infinity : lf + 2];
  const end = Math.min(...ends);
  return end === Infinity ? undefined : end;
}

// ------------------------------------------------------------------------------------------ verification

/** Where a multipart/signed message's two parts are in its file. */
interface SignedFileParts {
  content: { start: number; end: number };
  signature: { start: number; end: number };
}

async function locateSignedParts(path: string, head: FileHead): Promise<SignedFileParts | string> {
  const boundary = head.root.contentType.params['boundary'];
  if (!boundary) return 'multipart/signed has no boundary parameter';
  if (boundary.length > 70) return 'the multipart boundary is over 70 characters (RFC 2046 §5.1.1)';
  const delimiters = await scanDelimiters(path, {
    start: head.bodyStart,
    end: head.size,
    boundary,
    maxDelimiters: SMIME_LIMITS.maxParts ?? 1000,
  });
  const parts = delimiters.length - 1 + (delimiters[delimiters.length - 1]?.closing ? 0 : 1);
  const [first, second, third] = delimiters;
  if (!first || !second || parts !== 2 || first.closing) {
    return `multipart/signed needs exactly 2 parts (content, signature), found ${Math.max(parts, 0)}`;
  }
  return {
    content: { start: first.after, end: Math.max(second.before, first.after) },
    signature: { start: second.after, end: third ? Math.max(third.before, second.after) : head.size },
  };
}

async function readRange(path: string, start: number, end: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(end - start);
    const { bytesRead } = await handle.read(buf, 0, buf.length, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Verify the signed message in `inPath`, any size. A multipart/signed message is checked over the exact bytes
 * of its first part, streamed from the file; an opaque signed message is read whole (up to the CMS bound).
 * Never throws on bad input: see the verdict. The result has no `content` (it stays in the file).
 */
export async function verifyMessageFile(inPath: string, o: SmimeVerifyOptions): Promise<SmimeVerification> {
  const findings = new VerificationFindings();
  let head: FileHead;
  try {
    head = await readFileHead(inPath);
  } catch (e) {
    if (!(e instanceof MimeError) && !(e instanceof Error && e.name === 'SmimeMessageError')) throw e;
    findings.fail('parse', 'malformed', `the message cannot be read: ${e.message}`);
    return verificationResult(findings, {});
  }
  if (head.root.contentType.mediaType !== 'multipart/signed') {
    if (head.size > MAX_ENCRYPTED_MESSAGE_BYTES) {
      findings.fail(
        'parse',
        'malformed',
        `the message is ${head.size} bytes and not multipart/signed: only detached (multipart/signed) signatures are verified over ${MAX_ENCRYPTED_MESSAGE_BYTES} bytes`,
      );
      return verificationResult(findings, {});
    }
    const { content: _content, ...rest } = await verifyMessage(await readRange(inPath, 0, head.size), o);
    return rest;
  }
  let located: SignedFileParts | string;
  try {
    located = await locateSignedParts(inPath, head);
  } catch (e) {
    if (!(e instanceof MimeError)) throw e;
    located = e.message;
  }
  if (typeof located === 'string') {
    findings.fail('structure', 'malformed', located);
    return verificationResult(findings, {});
  }
  const { content, signature } = located;
  if (signature.end - signature.start > MAX_SIGNATURE_PART) {
    findings.fail('structure', 'malformed', `the signature part is over ${MAX_SIGNATURE_PART} bytes`);
    return verificationResult(findings, {});
  }
  let der: Buffer;
  let contentHead: Buffer;
  try {
    const wire = (b: Buffer): Buffer => (head.lfOnly ? canonicalize(b) : b);
    const signaturePart = wire(await readRange(inPath, signature.start, signature.end));
    der = decodeBody(signaturePart, parseMime(signaturePart, SMIME_LIMITS));
    const firstBytes = wire(
      await readRange(inPath, content.start, Math.min(content.end, content.start + MAX_INNER_HEADER)),
    );
    contentHead = firstBytes.subarray(0, headerEnd(firstBytes) ?? firstBytes.length);
  } catch (e) {
    if (!(e instanceof MimeError)) throw e;
    findings.fail('structure', 'malformed', `the signature part cannot be read: ${e.message}`);
    return verificationResult(findings, {});
  }
  const stream = (): AsyncIterable<Buffer> => {
    const bytes = fileChunks(inPath, content.start, content.end);
    return head.lfOnly ? canonicalLines(bytes) : bytes;
  };
  const root = head.lfOnly ? parseMime(canonicalize(head.headerBytes), SMIME_LIMITS) : head.root;
  return verifySignature(der, { stream, head: contentHead }, root, findings, o, 'multipart-signed');
}

/** What openMessageFile found: every layer, the innermost verdict, and where the readable message was written. */
export interface OpenedMessageFile extends Omit<OpenedMessage, 'message'> {
  /** The readable message after the last layer, when `outPath` was given. */
  out?: string;
}

/** A triple wrap has three layers; more is a nesting bomb. */
const MAX_LAYERS = 6;

/**
 * openMessage for files of any size: decrypt (to a private temp directory) and verify as many layers as the
 * message has, and write the readable message to `outPath` when given.
 */
export async function openMessageFile(
  inPath: string,
  o: SmimeVerifyOptions & { keys?: ReadonlyArray<DecryptionKey | SmimeCredential>; outPath?: string },
): Promise<OpenedMessageFile> {
  const work = await mkdtemp(join(tmpdir(), 'sealpost-open-'));
  try {
    const layers: SmimeLayer[] = [];
    let current = inPath;
    let last: SmimeVerification | undefined;
    for (let depth = 0; depth < MAX_LAYERS; depth++) {
      let head: FileHead;
      try {
        head = await readFileHead(current);
      } catch {
        if (depth === 0) last = await verifyMessageFile(current, o);
        break;
      }
      const kind = classifySmime(head.root);
      if (kind === 'pkcs7-enveloped' || kind === 'pkcs7-auth-enveloped' || kind === 'pkcs7-unknown') {
        if (kind === 'pkcs7-unknown' && head.size <= MAX_ENCRYPTED_MESSAGE_BYTES) {
          // Unlabelled CMS: the in-memory path sniffs its type.
          const opened = await openMessage(await readRange(current, 0, head.size), o);
          layers.push(...opened.layers);
          last = opened.verification;
          current = join(work, `layer-${depth}.eml`);
          await writeChunks(prepend(opened.message, (async function* () {})()), current);
          break;
        }
        if (!o.keys?.length)
          throw new SmimeDecryptError(
            'the message is encrypted: pass the recipient key (--key) to decrypt and verify it',
          );
        const next = join(work, `layer-${depth}.eml`);
        const d = await decryptMessageFile(current, next, o.keys);
        layers.push({
          type: 'encrypted',
          cipher: d.cipher,
          authenticated: d.authenticated,
          recipient: d.recipient.keyTransport,
        });
        current = next;
        continue;
      }
      if (kind !== 'multipart-signed' && kind !== 'pkcs7-signed-data') break;
      last = await verifyMessageFile(current, o);
      layers.push({ type: 'signed', verification: last });
      if (kind !== 'multipart-signed' || !last.ok) break;
      const located = await locateSignedParts(current, head);
      if (typeof located === 'string') break;
      const next = join(work, `layer-${depth}.eml`);
      await writeUnwrapped(current, head, located.content, next);
      current = next;
    }
    if (!last) {
      const findings = new VerificationFindings();
      findings.fail('signature', 'no-signature', 'the message carries no S/MIME signature');
      last = verificationResult(findings, {});
    }
    if (o.outPath) await copyFile(current, o.outPath);
    const signed = layers.flatMap((l) => (l.type === 'signed' ? [l.verification] : []));
    const verification = signed.find((v) => !v.ok) ?? signed[signed.length - 1] ?? last;
    return { layers, verification, ...(o.outPath ? { out: o.outPath } : {}) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The signed entity of a multipart/signed file as a readable message (outer fields + entity), to `out`. */
async function writeUnwrapped(
  path: string,
  head: FileHead,
  range: { start: number; end: number },
  out: string,
): Promise<void> {
  const firstBytes = await readRange(path, range.start, Math.min(range.end, range.start + MAX_INNER_HEADER));
  const innerEnd = headerEnd(firstBytes) ?? firstBytes.length;
  const restored = restoreMessage(head.headerBytes, head.root.headers, firstBytes.subarray(0, innerEnd));
  await writeChunks(prepend(restored.message, fileChunks(path, range.start + innerEnd, range.end)), out);
}
