/**
 * What the gateway sends: sign (with a signature timestamp) and then encrypt (RFC 8551 §3.6: sign-then-encrypt
 * hides the signature and keeps relays from breaking it), or a triple wrap (RFC 2634 §1.1: sign, encrypt, sign
 * again) when asked. Streams end to end: file in, file out.
 */
import type { ContentCipher } from '../pkix/cms/enveloped-data.js';
import type { AlgorithmChoice, EncryptionTarget } from './algorithms.js';
import { encryptStream } from './encrypt.js';
import {
  collectMessage,
  inMemory,
  openMessageStream,
  serializeMessage,
  writeChunks,
  type MessageInput,
  type MessageStream,
} from './message-stream.js';
import { signStream, type SmimeSignOptions } from './sign.js';

export interface SendReadyOptions extends SmimeSignOptions {
  recipients: EncryptionTarget[];
  /**
   * The sender's encryption certificate (added as a recipient). Default: `encryptionCertificate`, else the
   * signer's certificate. `includeSender: false` leaves the sender out.
   */
  sender?: EncryptionTarget;
  includeSender?: boolean;
  cipher?: ContentCipher;
  /** Sign, encrypt, then sign the encrypted message again. */
  tripleWrap?: boolean;
  /** RFC 9788 header protection (hp="cipher") on the signed payload. */
  protectHeaders?: boolean;
  onChoice?: (choice: AlgorithmChoice) => void;
}

async function sendReadyStream(input: MessageInput, o: SendReadyOptions): Promise<MessageStream> {
  const opened = await openMessageStream(input, {
    sevenBit: true,
    ...(o.protectHeaders ? { protectHeaders: 'cipher' as const } : {}),
  });
  const signing = signStream(opened, { ...o, format: 'multipart-signed' });
  // In memory the signed entity is gathered as pieces first, so the envelope can be DER (definite lengths).
  const signed = Buffer.isBuffer(input) ? await inMemory(signing) : signing;
  const sender = o.sender ?? { certificate: o.encryptionCertificate ?? o.signer.certificate };
  const encrypted = await encryptStream(signed, {
    recipients: o.recipients,
    sender,
    ...(o.includeSender === false ? { includeSender: false } : {}),
    ...(o.cipher ? { cipher: o.cipher } : {}),
    ...(o.onChoice ? { onChoice: o.onChoice } : {}),
  });
  // The outer signature of a triple wrap needs no timestamp: the inner one dates the content.
  return o.tripleWrap
    ? signStream(encrypted, { ...o, format: 'multipart-signed', timestamp: undefined })
    : encrypted;
}

export async function sendReadyMessage(message: Buffer, o: SendReadyOptions): Promise<Buffer> {
  return collectMessage(await sendReadyStream(message, o));
}

export async function sendReadyFile(input: string, output: string, o: SendReadyOptions): Promise<void> {
  await writeChunks(serializeMessage(await sendReadyStream({ path: input }, o)), output);
}
