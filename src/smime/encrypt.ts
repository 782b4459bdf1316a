/**
 * Encrypting a message (RFC 8551 §3.3): the entity becomes CMS EnvelopedData (or AuthEnvelopedData for AES-GCM,
 * RFC 5083) inside application/pkcs7-mime, streamed chunk by chunk. The sender is added as a recipient so the
 * sent copy stays readable; RFC 9788 header protection moves the real header fields inside and obscures Subject.
 */
import {
  createEnvelopedDataWriter,
  type ContentCipher,
  type EnvelopedDataWriter,
} from '../pkix/cms/enveloped-data.js';
import { chooseAlgorithms, type AlgorithmChoice, type EncryptionTarget } from './algorithms.js';
import {
  base64Lines,
  chunksOf,
  collectMessage,
  openMessageStream,
  outerBytes,
  serializeMessage,
  writeChunks,
  type MessageStream,
} from './message-stream.js';
import { base64LinesLength, encodeBase64LinesInto, type SmimeType } from './mime/index.js';
import { pkcs7MimeHead } from './sign.js';

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
  if (m.pieces) return assembleInMemory(m, m.pieces, writer, smimeType);
  // Driven chunk by chunk from the entity's iterator: no Node stream in between, so a large message is never
  // held whole.
  async function* ciphertext(): AsyncIterable<Buffer> {
    yield writer.head;
    // Each framed piece goes on as it is: base64Lines encodes it in place, no copy of the ciphertext.
    for await (const chunk of m.entity) yield* writer.update(chunk);
    yield* writer.final();
  }
  async function* entity(): AsyncIterable<Buffer> {
    yield pkcs7MimeHead(smimeType);
    yield* base64Lines(ciphertext());
  }
  return { outer: m.outer, entity: entity() };
}

/**
 * An entity in memory is encrypted in one synchronous step and its base64 written straight into the buffer of
 * the whole message (outer fields, Content-* fields, encoded envelope): no intermediate encoded copy, no join at
 * the end, and concurrent messages do not interleave their large buffers.
 */
function assembleInMemory(
  m: MessageStream,
  pieces: readonly Buffer[],
  writer: EnvelopedDataWriter,
  smimeType: SmimeType,
): MessageStream {
  const der = [writer.head, ...pieces.flatMap((piece) => writer.update(piece)), ...writer.final()];
  const derLength = der.reduce((n, piece) => n + piece.length, 0);
  const outer = outerBytes(m.outer);
  const head = pkcs7MimeHead(smimeType);
  const whole = Buffer.allocUnsafe(outer.length + head.length + base64LinesLength(derLength));
  outer.copy(whole, 0);
  head.copy(whole, outer.length);
  encodeBase64LinesInto(whole, outer.length + head.length, der);
  const entity = whole.subarray(outer.length);
  return { outer: m.outer, entity: chunksOf([entity]), entityLength: entity.length, pieces: [entity], whole };
}

/** Encrypt a whole message in memory; returns the encrypted message. */
export async function encryptMessage(message: Buffer, o: SmimeEncryptOptions): Promise<Buffer> {
  const m = await openMessageStream(message, o.protectHeaders ? { protectHeaders: 'cipher' } : {});
  return collectMessage(await encryptStream(m, o));
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
