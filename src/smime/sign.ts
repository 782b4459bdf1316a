/**
 * Signing a message (RFC 8551 §3.5): multipart/signed with a detached signature (default: every client shows the
 * text even without S/MIME support) or opaque application/pkcs7-mime; signed-data. The signed entity is made
 * canonical and 7-bit safe first, so no relay can change the signed bytes. A CAdES-T signature timestamp, the
 * capabilities we decrypt and the encryption-key preference travel as signed/unsigned attributes.
 */
import { createHash } from 'node:crypto';
import type { HashAlgorithm } from '../crypto/key-handle.js';
import { defaultHashFor } from '../crypto/key-handle.js';
import { requestTimestamp } from '../net/tsa-client.js';
import {
  MAX_SIGNED_DATA_BYTES,
  createDetachedSigner,
  signData,
  type SignOptions,
} from '../pkix/cms/signed-data.js';
import type { SmimeCapability } from '../pkix/cms/smime-capabilities.js';
import { chainWithoutRoot, type SmimeCredential } from './credentials.js';
import {
  SmimeMessageError,
  collect,
  collectMessage,
  openMessageStream,
  serializeMessage,
  writeChunks,
  type MessageStream,
} from './message-stream.js';
import {
  buildEntity,
  buildPkcs7Mime,
  chooseBoundary,
  encodeBase64Lines,
  formatHeaders,
  type SmimeType,
} from './mime/index.js';

export type SignFormat = 'multipart-signed' | 'opaque';

/** A TSA URL (RFC 3161 over HTTP) or a function returning a TimeStampToken over the given signature value. */
export type TimestampSource = string | ((signatureValue: Buffer) => Promise<Buffer>);

export interface SmimeSignOptions {
  signer: SmimeCredential;
  /** Default 'multipart-signed'. */
  format?: SignFormat;
  /** CAdES-T: a token over the SignerInfo signature value (RFC 3161 Appendix A). */
  timestamp?: TimestampSource;
  /** DER of the signer's encryption certificate, advertised as SMIMEEncryptionKeyPreference (RFC 8551 §2.5.3). */
  encryptionCertificate?: Buffer;
  /** What we can decrypt, strongest first (default: what Sealpost's decrypter reads). */
  capabilities?: readonly SmimeCapability[];
  hash?: HashAlgorithm;
  pss?: boolean;
  signingTime?: Date;
}

const MICALG: Record<HashAlgorithm, 'sha-256' | 'sha-384' | 'sha-512'> = {
  sha256: 'sha-256',
  sha384: 'sha-384',
  sha512: 'sha-512',
};

/** Turns a TimestampSource into the callback signData takes. */
export function timestampCallback(source: TimestampSource): (signature: Buffer) => Promise<Buffer> {
  if (typeof source !== 'string') return source;
  return async (signature) => {
    const digest = createHash('sha256').update(signature).digest();
    return (await requestTimestamp(source, { digest, hash: 'sha256' })).token;
  };
}

function cmsOptions(o: SmimeSignOptions, detached: boolean): SignOptions {
  return {
    signer: o.signer.key,
    certificate: o.signer.certificate,
    chain: chainWithoutRoot(o.signer.chain),
    detached,
    ...(o.hash ? { hash: o.hash } : {}),
    ...(o.pss ? { pss: true } : {}),
    ...(o.signingTime ? { signingTime: o.signingTime } : {}),
    ...(o.capabilities ? { capabilities: o.capabilities } : {}),
    ...(o.encryptionCertificate ? { encryptionKeyPreference: o.encryptionCertificate } : {}),
    ...(o.timestamp ? { timestamp: timestampCallback(o.timestamp) } : {}),
  };
}

/** The hash signData will use for this key (micalg must name it before the content is hashed). */
function signingHash(o: SmimeSignOptions): HashAlgorithm {
  if (o.signer.key.algorithm === 'ed25519') return 'sha512';
  return o.hash ?? defaultHashFor(o.signer.key.algorithm);
}

const PKCS7_MIME_HEADS = new Map<SmimeType, Buffer>();

/** An application/pkcs7-mime entity's header section (with the blank line) for `smimeType`. */
export function pkcs7MimeHead(smimeType: SmimeType): Buffer {
  let head = PKCS7_MIME_HEADS.get(smimeType);
  if (!head) {
    // buildPkcs7Mime writes a whole message; with an explicit MIME-Version first and no body, dropping that one
    // line leaves exactly the entity's Content-* fields and the blank line.
    const built = buildPkcs7Mime({ der: Buffer.alloc(0), smimeType, headers: [['MIME-Version', '1.0']] });
    head = built.subarray(built.indexOf('\r\n') + 2);
    PKCS7_MIME_HEADS.set(smimeType, head);
  }
  return Buffer.from(head); // a copy: callers own what they are given
}

/** Sign a prepared message (its entity canonical and 7-bit safe): the result is the signed message stream. */
export function signStream(m: MessageStream, o: SmimeSignOptions): MessageStream {
  const entity = o.format === 'opaque' ? opaqueEntity(m.entity, o) : multipartSignedEntity(m.entity, o);
  return { outer: m.outer, entity };
}

async function* opaqueEntity(content: AsyncIterable<Buffer>, o: SmimeSignOptions): AsyncIterable<Buffer> {
  const bytes = await collect(content, MAX_SIGNED_DATA_BYTES);
  const der = await signData(bytes, cmsOptions(o, false));
  yield pkcs7MimeHead('signed-data');
  yield encodeBase64Lines(der);
}

/**
 * multipart/signed (RFC 1847, RFC 8551 §3.5.3), streamed: the signed part goes out while it is hashed, the
 * signature part follows once the content has ended. The boundary is random (144 bits) and checked against the
 * content as it passes, since it cannot be chosen after seeing the whole content.
 */
async function* multipartSignedEntity(
  content: AsyncIterable<Buffer>,
  o: SmimeSignOptions,
): AsyncIterable<Buffer> {
  const boundary = chooseBoundary([]);
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const signer = createDetachedSigner(cmsOptions(o, true)); // checks the signer before any output
  yield Buffer.concat([
    formatHeaders([
      [
        'Content-Type',
        `multipart/signed; protocol="application/pkcs7-signature"; micalg=${MICALG[signingHash(o)]}; boundary="${boundary}"`,
      ],
    ]),
    Buffer.from(`\r\nThis is an S/MIME signed message\r\n\r\n--${boundary}\r\n`, 'latin1'),
  ]);
  let tail: Buffer = Buffer.alloc(0);
  for await (const chunk of content) {
    if (containsAcross(tail, chunk, delimiter))
      throw new SmimeMessageError('the content contains the random multipart boundary; sign it again');
    tail = lastBytes(tail, chunk, delimiter.length - 1);
    signer.update(chunk);
    yield chunk;
  }
  const signature = await signer.sign();
  // The same part buildMultipartSigned writes; that builder needs the whole content in memory.
  const signaturePart = buildEntity(
    [
      ['Content-Type', 'application/pkcs7-signature; name=smime.p7s'],
      ['Content-Transfer-Encoding', 'base64'],
      ['Content-Disposition', 'attachment; filename=smime.p7s'],
      ['Content-Description', 'S/MIME Cryptographic Signature'],
    ],
    encodeBase64Lines(signature),
  );
  yield Buffer.concat([
    Buffer.from(`\r\n--${boundary}\r\n`, 'latin1'),
    signaturePart,
    Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'),
  ]);
}

/** Does `needle` occur in `chunk`, or across the end of the previous chunk (`tail`) and the start of this one? */
function containsAcross(tail: Buffer, chunk: Buffer, needle: Buffer): boolean {
  if (chunk.indexOf(needle) !== -1) return true;
  if (tail.length === 0) return false;
  return Buffer.concat([tail, chunk.subarray(0, needle.length - 1)]).indexOf(needle) !== -1;
}

/** The last `n` bytes of `tail` followed by `chunk` (a copy: a stream may reuse its chunk buffers). */
function lastBytes(tail: Buffer, chunk: Buffer, n: number): Buffer {
  if (chunk.length >= n) return Buffer.from(chunk.subarray(chunk.length - n));
  const joined = Buffer.concat([tail, chunk]);
  return Buffer.from(joined.subarray(Math.max(0, joined.length - n)));
}

/** Sign a whole message (RFC 5322, any line endings) in memory; returns the signed message. */
export async function signMessage(message: Buffer, o: SmimeSignOptions): Promise<Buffer> {
  const m = await openMessageStream(message, { sevenBit: true });
  return collectMessage(signStream(m, o));
}

/** Sign a message file into another file, streaming (large attachments are never held in memory). */
export async function signMessageFile(input: string, output: string, o: SmimeSignOptions): Promise<void> {
  const m = await openMessageStream({ path: input }, { sevenBit: true });
  await writeChunks(serializeMessage(signStream(m, o)), output);
}
