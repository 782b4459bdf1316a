/**
 * Encrypt a whole PDF for certificate holders (Adobe.PubSec, ISO 32000-2 §7.6.5): the current revision
 * is rewritten with every string and stream encrypted for the recipients. Sign afterwards, never before
 * ("encrypt first, then sign": the signature's /Contents stays unencrypted and its ByteRange covers the
 * encrypted bytes, which is what Acrobat validates).
 *
 *   await encryptPdfFile('statement.pdf', 'enc.pdf', { recipients: [{ certificate: customerDer }] });
 *   const enc = await encryptPdf(pdfBytes, { recipients, aes: 128, permissions: ['print'] });
 *
 * An input that is already encrypted is opened with `open` (a password, or securityHandlers) and
 * re-encrypted for the new recipients.
 */
import { PdfDocument } from '../document.js';
import type { OpenOptions } from '../document.js';
import { BufferSource } from '../source.js';
import { createPubSecEncryption } from '../crypt/pubsec.js';
import type { PubSecEncryption, PubSecEncryptOptions } from '../crypt/pubsec.js';
import type { EncryptionInfo } from '../crypt/security-handler.js';
import { FileSink, MemorySink } from './output.js';
import type { PdfSink } from './output.js';
import { rewritePdf } from './rewrite.js';
import type { RewriteResult } from './rewrite.js';

export type { PdfSink } from './output.js';
export { FileSink, MemorySink } from './output.js';
export { rewritePdf, PdfRewriter } from './rewrite.js';
export type { RewriteResult, RewriteTarget } from './rewrite.js';

export interface PdfEncryptOptions extends PubSecEncryptOptions {
  /** How to open the input, when it is itself encrypted. */
  open?: OpenOptions;
}

export interface PdfEncryptResult extends RewriteResult {
  /** The new encryption, file key included: what a signer needs to append to the file (treat as secret). */
  encryption: EncryptionInfo;
}

/** Encrypt an open document into `sink`. */
export async function encryptDocument(
  doc: PdfDocument,
  sink: PdfSink,
  opts: PubSecEncryptOptions,
): Promise<PdfEncryptResult> {
  return encryptDocumentFor(doc, sink, await createPubSecEncryption(opts));
}

/** Encrypt an open document into `sink` with an encryption made beforehand (createPubSecEncryption). */
export async function encryptDocumentFor(
  doc: PdfDocument,
  sink: PdfSink,
  target: PubSecEncryption,
): Promise<PdfEncryptResult> {
  return { ...(await rewritePdf(doc, sink, target)), encryption: target.info };
}

/** Encrypt PDF bytes in memory. */
export async function encryptPdf(input: Uint8Array, opts: PdfEncryptOptions): Promise<Buffer> {
  const doc = await PdfDocument.open(new BufferSource(input), opts.open);
  const sink = new MemorySink();
  await encryptDocument(doc, sink, opts);
  return sink.bytes();
}

/** Encrypt a file to a file, streaming: memory stays flat whatever the size. */
export async function encryptPdfFile(
  inPath: string,
  outPath: string,
  opts: PdfEncryptOptions,
): Promise<PdfEncryptResult> {
  const doc = await PdfDocument.openFile(inPath, opts.open);
  try {
    return await FileSink.writeFile(outPath, (sink) => encryptDocument(doc, sink, opts));
  } finally {
    await doc.close();
  }
}
