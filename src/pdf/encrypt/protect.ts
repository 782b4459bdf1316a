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
import { createPubSecEncryption, pubSecWithKnownKey } from '../crypt/pubsec.js';
import type { PubSecEncryptOptions } from '../crypt/pubsec.js';
import { signPdf } from '../sign/index.js';
import type { SignPdfOptions, SignPdfResult } from '../sign/index.js';
import { PdfDocument } from '../document.js';
import { BufferSource } from '../source.js';
import { closeInBackground, readRange } from '../read-file.js';
import { encryptDocumentFor, encryptPdfFile } from './index.js';
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

/** The size of the last input read: statements of one kind have similar sizes. */
let usualSize = 0;

/**
 * Read the file whole into a borrowed buffer when it is small enough; undefined otherwise. The size
 * and a first read go to the thread pool together, the read into a buffer fit for the last input's
 * size, so a document like the previous one costs one round trip.
 */
async function readSmallFile(path: string): Promise<{ bytes: Buffer; buffer: Buffer } | undefined> {
  const fh = await open(path, 'r');
  try {
    let buffer = documents.take(usualSize);
    const [stat, first] = await Promise.allSettled([fh.stat(), fh.read(buffer, 0, buffer.length, 0)]);
    if (stat.status === 'rejected' || first.status === 'rejected' || stat.value.size > IN_MEMORY_LIMIT) {
      documents.give(buffer);
      if (stat.status === 'rejected') throw stat.reason;
      if (first.status === 'rejected') throw first.reason;
      return undefined;
    }
    const size = stat.value.size;
    usualSize = size;
    const have = Math.min(first.value.bytesRead, size);
    if (size > buffer.length) {
      const larger = documents.take(size);
      buffer.copy(larger, 0, 0, have);
      documents.give(buffer);
      buffer = larger;
    }
    try {
      return { bytes: buffer.subarray(0, await readRange(fh, buffer, have, size)), buffer };
    } catch (e) {
      documents.give(buffer);
      throw e;
    }
  } finally {
    closeInBackground(fh);
  }
}

async function encryptForProtect(
  input: string,
  temp: string,
  opts: PubSecEncryptOptions,
): Promise<Encrypted> {
  // The envelopes for the recipients do not depend on the document: make them while the file is read.
  const [read, made] = await Promise.allSettled([readSmallFile(input), createPubSecEncryption(opts)]);
  if (read.status === 'rejected') throw read.reason;
  const small = read.value;
  if (!small) {
    const enc = await encryptPdfFile(input, temp, opts);
    return { enc, input: temp, release: () => rm(temp, { force: true }) };
  }
  const sink = new PooledMemorySink(documents, expectedEncryptedSize(small.bytes.length));
  try {
    const doc = await PdfDocument.open(new BufferSource(small.bytes));
    try {
      if (made.status === 'rejected') throw made.reason; // after the input's own errors, as before
      const enc = await encryptDocumentFor(doc, sink, made.value);
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
