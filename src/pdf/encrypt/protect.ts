/**
 * Encrypt for the recipients, then sign (issue 5 "protect"): the order that keeps both valid. The
 * signature is appended as an incremental update to the encrypted file, its dictionary's strings are
 * encrypted like any other object's except /Contents (§7.6.2), and its /ByteRange covers the encrypted
 * bytes — what Acrobat and PDFBox validate once they have opened the file with the recipient's key.
 * The signer needs no recipient key: the file key comes from the encryption step.
 * Inputs up to IN_MEMORY_LIMIT go from encryption to signing in memory; larger ones through a temp file.
 */
import { rm, stat } from 'node:fs/promises';
import { pubSecWithKnownKey } from '../crypt/pubsec.js';
import type { PubSecEncryptOptions } from '../crypt/pubsec.js';
import { signPdf } from '../sign/index.js';
import type { SignPdfOptions, SignPdfResult } from '../sign/index.js';
import { PdfDocument } from '../document.js';
import { encryptDocument, encryptPdfFile } from './index.js';
import { MemorySink } from './output.js';
import type { PdfEncryptResult } from './index.js';

export interface ProtectPdfOptions
  extends PubSecEncryptOptions, Omit<SignPdfOptions, 'input' | 'output' | 'open'> {
  /** Path of the unsigned input. */
  input: string;
  /** Path of the encrypted, signed output (not the input). */
  output: string;
}

export interface ProtectPdfResult {
  encryption: Omit<PdfEncryptResult, 'encryption'> & { v: number; keyBits: number; recipients: number };
  signature: SignPdfResult;
}

const IN_MEMORY_LIMIT = 64 * 1024 * 1024;

async function encryptForProtect(
  input: string,
  temp: string,
  opts: PubSecEncryptOptions,
): Promise<{ enc: PdfEncryptResult; encrypted: string | Buffer }> {
  if ((await stat(input)).size > IN_MEMORY_LIMIT)
    return { enc: await encryptPdfFile(input, temp, opts), encrypted: temp };
  const doc = await PdfDocument.openFile(input);
  try {
    const sink = new MemorySink();
    const enc = await encryptDocument(doc, sink, opts);
    return { enc, encrypted: sink.bytes() };
  } finally {
    await doc.close();
  }
}

export async function protectPdf(o: ProtectPdfOptions): Promise<ProtectPdfResult> {
  const { input, output, recipients, aes, permissions, encryptMetadata, ...sign } = o;
  const temp = `${output}.encrypted-unsigned`;
  try {
    const { enc, encrypted } = await encryptForProtect(input, temp, {
      recipients,
      aes,
      permissions,
      encryptMetadata,
    });
    const signature = await signPdf({
      ...sign,
      input: encrypted,
      output,
      open: { securityHandlers: [pubSecWithKnownKey(enc.encryption)] },
    });
    const { encryption, ...written } = enc;
    return {
      encryption: { ...written, v: encryption.v, keyBits: encryption.keyBits, recipients: recipients.length },
      signature,
    };
  } finally {
    await rm(temp, { force: true });
  }
}
