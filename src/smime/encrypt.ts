/**
 * Encrypting a message (RFC 8551 §3.3): the entity becomes CMS EnvelopedData (or AuthEnvelopedData for AES-GCM,
 * RFC 5083) inside application/pkcs7-mime, streamed chunk by chunk. The sender is added as a recipient so the
 * sent copy stays readable; RFC 9788 header protection moves the real header fields inside and obscures Subject.
 */
import { createEnvelopedDataWriter, type ContentCipher } from '../pkix/cms/enveloped-data.js';
import { chooseAlgorithms, type AlgorithmChoice, type EncryptionTarget } from './algorithms.js';
import {
  base64Lines,
  collect,
  openMessageStream,
  serializeMessage,
  writeChunks,
  type MessageStream,
} from './message-stream.js';
import { encodeBase64Lines } from './mime/index.js';
import { pkcs7MimeHead } from './sign.js';

/** Up to this size an in-memory entity is encrypted in one piece (see encryptStream). */
const ONE_PIECE_BYTES = 256 * 1024;

export interface SmimeEncryptOptions {
  recipients: EncryptionTarget[];
  /** The sender's own encryption certificate: added as a recipient unless `includeSender` is false. */
  sender?: EncryptionTarget;
  /** Default true; needs `sender`. */
  includeSender?: boolean;
  /** Force a content cipher; default: the strongest every recipient can read (algorithms.ts). */
  cipher?: ContentCipher;
  /** RFC 9788: protected headers inside, Subject obscured to "[...]" outside, HP-Outer records. */
  protectHeaders?: boolean;
  /** Called with the algorithm decisions before any content is encrypted (for logs / --json). */
  onChoice?: (choice: AlgorithmChoice) => void;
}

/** Every recipient once (the sender may also be an addressee). */
function targetsOf(o: SmimeEncryptOptions): EncryptionTarget[] {
  const all = [...o.recipients];
  if (o.includeSender !== false && o.sender) all.push(o.sender);
  return all.filter((t, i) => all.findIndex((u) => u.certificate.equals(t.certificate)) === i);
}

/** Encrypt a prepared message stream; the result's entity is the application/pkcs7-mime part. */
export async function encryptStream(m: MessageStream, o: SmimeEncryptOptions): Promise<MessageStream> {
  if (o.includeSender !== false && !o.sender) {
    throw new TypeError(
      'the sender is added as a recipient so the sent copy stays readable: pass sender, or includeSender: false',
    );
  }
  const choice = chooseAlgorithms(targetsOf(o), o.cipher);
  o.onChoice?.(choice);
  const writer = await createEnvelopedDataWriter({
    recipients: choice.recipients,
    cipher: choice.cipher,
    // Known length (in memory): DER with one primitive encryptedContent, which the reader decrypts in place.
    ...(m.entityLength !== undefined ? { contentLength: m.entityLength } : {}),
  });
  const smimeType = writer.contentType === 'authEnvelopedData' ? 'authEnveloped-data' : 'enveloped-data';
  // Driven chunk by chunk from the entity's iterator: no Node stream in between, so a large message is never
  // held whole.
  async function* ciphertext(): AsyncIterable<Buffer> {
    yield writer.head;
    // Each framed piece goes on as it is: base64Lines encodes it in place, no copy of the ciphertext.
    for await (const chunk of m.entity) yield* writer.update(chunk);
    yield* writer.final();
  }
  // A small message in memory is encrypted and encoded in one piece each: per-chunk work (cipher calls, line
  // carries across chunks) would cost more than its cryptography.
  const onePiece = m.entityLength !== undefined && m.entityLength <= ONE_PIECE_BYTES;
  async function* entity(): AsyncIterable<Buffer> {
    yield pkcs7MimeHead(smimeType);
    if (!onePiece) return yield* base64Lines(ciphertext());
    const plaintext = await collect(m.entity);
    yield encodeBase64Lines(Buffer.concat([writer.head, ...writer.update(plaintext), ...writer.final()]));
  }
  return { outer: m.outer, entity: entity() };
}

/** Encrypt a whole message in memory; returns the encrypted message. */
export async function encryptMessage(message: Buffer, o: SmimeEncryptOptions): Promise<Buffer> {
  const m = await openMessageStream(message, o.protectHeaders ? { protectHeaders: 'cipher' } : {});
  return collect(serializeMessage(await encryptStream(m, o)));
}

/** Encrypt a message file into another file, streaming. */
export async function encryptMessageFile(
  input: string,
  output: string,
  o: SmimeEncryptOptions,
): Promise<void> {
  const m = await openMessageStream({ path: input }, o.protectHeaders ? { protectHeaders: 'cipher' } : {});
  await writeChunks(serializeMessage(await encryptStream(m, o)), output);
}
