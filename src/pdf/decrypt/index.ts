/**
 * Write a decrypted copy of an encrypted PDF: public-key (Adobe.PubSec) with the recipient's key, or
 * password-encrypted (standard handler) with a password. The copy is a full rewrite of the current
 * revision, so a signature made over the encrypted bytes no longer covers the copy: validate signed
 * documents on the encrypted file (with the key), not on a decrypted copy.
 *
 *   await decryptPdfFile('enc.pdf', 'plain.pdf', { keys: [{ privateKey, certificate }] });
 */
import { PdfDocument } from '../document.js';
import type { OpenOptions } from '../document.js';
import { PdfEncryptionError } from '../errors.js';
import { BufferSource } from '../source.js';
import { pubSecSecurityHandler } from '../crypt/pubsec.js';
import type { DecryptionKey } from '../../pkix/cms/enveloped-data.js';
import { FileSink, MemorySink } from '../encrypt/output.js';
import { rewritePdf } from '../encrypt/rewrite.js';
import type { RewriteResult } from '../encrypt/rewrite.js';

export interface PdfDecryptOptions {
  /** Recipient keys with their certificates (software KeyObject or a token's RecipientDecryptor). */
  keys?: DecryptionKey[];
  /** Password for the standard security handler. */
  password?: string;
  /** Further reader options (limits). */
  open?: Omit<OpenOptions, 'password' | 'securityHandlers'>;
}

export interface PdfDecryptResult extends RewriteResult {
  /** The handler that protected the input ("Adobe.PubSec", "Standard"). */
  filter: string;
  /** Permissions the input granted (/P, or the recipient's permission bytes). */
  permissions: number;
}

/** Open an encrypted PDF with the given keys or password (PubSec first, then the standard handler). */
export function openOptionsFor(opts: PdfDecryptOptions): OpenOptions {
  return {
    ...opts.open,
    ...(opts.password !== undefined ? { password: opts.password } : {}),
    securityHandlers: [pubSecSecurityHandler(opts.keys ?? [])],
  };
}

async function decryptDocument(doc: PdfDocument, sink: FileSink | MemorySink): Promise<PdfDecryptResult> {
  const info = doc.encryption;
  if (!info) throw new PdfEncryptionError('the PDF is not encrypted; there is nothing to decrypt');
  const result = await rewritePdf(doc, sink);
  return { ...result, filter: info.filter, permissions: info.permissions };
}

/** Decrypt PDF bytes in memory. */
export async function decryptPdf(
  input: Uint8Array,
  opts: PdfDecryptOptions,
): Promise<{ pdf: Buffer; result: PdfDecryptResult }> {
  const doc = await PdfDocument.open(new BufferSource(input), openOptionsFor(opts));
  const sink = new MemorySink();
  const result = await decryptDocument(doc, sink);
  return { pdf: sink.bytes(), result };
}

/** Decrypt a file to a file, streaming. */
export async function decryptPdfFile(
  inPath: string,
  outPath: string,
  opts: PdfDecryptOptions,
): Promise<PdfDecryptResult> {
  const doc = await PdfDocument.openFile(inPath, openOptionsFor(opts));
  try {
    return await FileSink.writeFile(outPath, (sink) => decryptDocument(doc, sink));
  } finally {
    await doc.close();
  }
}
