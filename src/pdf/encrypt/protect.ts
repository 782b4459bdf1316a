/**
 * Encrypt for the recipients, then sign (issue 5 "protect"): the order that keeps both valid. The
 * signature is appended as an incremental update to the encrypted file, its dictionary's strings are
 * encrypted like any other object's except /Contents (§7.6.2), and its /ByteRange covers the encrypted
 * bytes — what Acrobat and PDFBox validate once they have opened the file with the recipient's key.
 * The signer needs no recipient key: the file key comes from the encryption step.
 * Inputs up to IN_MEMORY_LIMIT go from encryption to signing in memory; larger ones through a temp file.
 */
import { open, rm } from 'node:fs/promises';
import { SizedBufferPool } from '../buffer-pool.js';
import { pubSecWithKnownKey } from '../crypt/pubsec.js';
import type { PubSecEncryptOptions } from '../crypt/pubsec.js';
import { signPdf } from '../sign/index.js';
import type { SignPdfOptions, SignPdfResult } from '../sign/index.js';
import { PdfDocument } from '../document.js';
import { BufferSource } from '../source.js';
import { closeInBackground, readRange } from '../read-file.js';
import { encryptDocument, encryptPdfFile } from './index.js';
import { PooledMemorySink } from './output.js';
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

/**
 * The input and the encrypted copy of in-memory documents live in borrowed buffers: a fresh pair of
 * megabyte buffers per document is external memory that V8 answers with frequent full collections
 * (measured on 1 MB statements: about a quarter of protect's CPU time). Two concurrent documents'
 * worth are kept; statements larger than 4 MB get buffers of their own.
 */
const documents = new SizedBufferPool(1024 * 1024, 4 * 1024 * 1024, 4);

/** Encrypted output grows by an IV and padding per stream and string, the /Encrypt dictionary, … */
const expectedEncryptedSize = (plain: number): number => plain + (plain >> 5) + 64 * 1024;

/** The encrypted file, in a borrowed buffer or (large inputs) a temp file. */
interface Encrypted {
  enc: PdfEncryptResult;
  input: string | Buffer;
  release(): Promise<void>;
}

/** Read the file whole into a borrowed buffer when it is small enough; undefined otherwise. */
async function readSmallFile(path: string): Promise<{ bytes: Buffer; buffer: Buffer } | undefined> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size > IN_MEMORY_LIMIT) return undefined;
    const buffer = documents.take(size);
    try {
      return { bytes: buffer.subarray(0, await readRange(fh, buffer, 0, size)), buffer };
    } catch (e) {
      documents.give(buffer);
      throw e;
    }
  } finally {
    closeInBackground(fh);
  }
}

async function encryptForProtect(input: string, temp: string, opts: PubSecEncryptOptions): Promise<Encrypted> {
  const small = await readSmallFile(input);
  if (!small) {
    const enc = await encryptPdfFile(input, temp, opts);
    return { enc, input: temp, release: () => rm(temp, { force: true }) };
  }
  const sink = new PooledMemorySink(documents, expectedEncryptedSize(small.bytes.length));
  try {
    const doc = await PdfDocument.open(new BufferSource(small.bytes));
    try {
      const enc = await encryptDocument(doc, sink, opts);
      return { enc, input: sink.bytes(), release: async () => sink.release() };
    } finally {
      await doc.close();
    }
  } catch (e) {
    sink.release();
    throw e;
  } finally {
    documents.give(small.buffer);
  }
}

export async function protectPdf(o: ProtectPdfOptions): Promise<ProtectPdfResult> {
  const { input, output, recipients, aes, permissions, encryptMetadata, ...sign } = o;
  const temp = `${output}.encrypted-unsigned`;
  const encrypted = await encryptForProtect(input, temp, {
    recipients,
    aes,
    permissions,
    encryptMetadata,
  });
  try {
    const { enc } = encrypted;
    const signature = await signPdf({
      ...sign,
      input: encrypted.input,
      output,
      open: { securityHandlers: [pubSecWithKnownKey(enc.encryption)] },
    });
    const { encryption, ...written } = enc;
    return {
      encryption: { ...written, v: encryption.v, keyBits: encryption.keyBits, recipients: recipients.length },
      signature,
    };
  } finally {
    await encrypted.release();
  }
}
