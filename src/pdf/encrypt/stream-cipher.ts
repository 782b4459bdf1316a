/**
 * Chunked encryption and decryption of stream data (ISO 32000-2 §7.6.3), so that a stream of any size
 * passes through in bounded memory. The whole-buffer forms are in crypt/security-handler.ts; these
 * must give the same bytes (the tests check both directions against the reader).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Cipher, Decipher } from 'node:crypto';
import { PdfUnsupportedError } from '../errors.js';
import type { ByteSource } from '../source.js';
import { objectKey, type CryptMethod, type EncryptionInfo } from '../crypt/security-handler.js';

export const STREAM_CHUNK_BYTES = 1024 * 1024;
const BLOCK = 16;

const aesName = (key: Buffer): string => (key.length === 32 ? 'aes-256-cbc' : 'aes-128-cbc');
const isAes = (m: CryptMethod): boolean => m === 'AESV2' || m === 'AESV3';
const isIdentity = (m: CryptMethod): boolean => m === 'Identity' || m === 'None';

/** Whether the chunked path handles `method` (RC4 input is rare and small: read whole instead). */
export function canStream(method: CryptMethod): boolean {
  return isAes(method) || isIdentity(method);
}

/** Bytes an encrypted stream of `plainLength` bytes occupies. */
export function encryptedLength(method: CryptMethod, plainLength: number): number {
  if (isIdentity(method)) return plainLength;
  if (isAes(method)) return BLOCK + (Math.floor(plainLength / BLOCK) + 1) * BLOCK;
  throw new PdfUnsupportedError(`writing with crypt method ${method} is not supported (AES only)`);
}

export interface ChunkTransform {
  /** Bytes that go before the first update's output (the IV), written as they are. */
  header: Buffer;
  update(chunk: Buffer): Buffer;
  final(): Buffer;
}

const NO_BYTES = Buffer.alloc(0);

/** Encrypt a stream chunk by chunk: a random IV first, then AES-CBC with PKCS#5 padding (§7.6.3.2). */
export function streamEncryptor(
  info: EncryptionInfo | undefined,
  method: CryptMethod,
  num: number,
  gen: number,
): ChunkTransform {
  if (isIdentity(method)) return { header: NO_BYTES, update: (c) => c, final: () => NO_BYTES };
  if (!isAes(method))
    throw new PdfUnsupportedError(`writing with crypt method ${method} is not supported (AES only)`);
  const key = objectKey(info, method, num, gen);
  const iv = randomBytes(BLOCK);
  const cipher: Cipher = createCipheriv(aesName(key), key, iv);
  // The IV is handed out separately rather than joined to the first output: joining would copy a
  // chunk of up to STREAM_CHUNK_BYTES for 16 bytes.
  return { header: iv, update: (chunk) => cipher.update(chunk), final: () => cipher.final() };
}

/**
 * Read `length` encrypted bytes at `offset` and yield the plaintext in chunks. Like the reader's
 * whole-buffer form, a partial last block is ignored and a bad padding is kept (real files have both);
 * the plaintext length is known up front by decrypting the last block first, so a writer can put a
 * direct /Length before the data.
 */
export async function openDecryptingReader(
  source: ByteSource,
  offset: number,
  length: number,
  info: EncryptionInfo | undefined,
  method: CryptMethod,
  num: number,
  gen: number,
): Promise<{ plainLength: number; chunks: () => AsyncGenerator<Buffer> }> {
  if (isIdentity(method)) return { plainLength: length, chunks: () => readChunks(source, offset, length) };
  if (!isAes(method)) throw new PdfUnsupportedError(`crypt method ${method} cannot be read in chunks`);
  if (length < BLOCK) return { plainLength: 0, chunks: async function* () {} };
  const key = objectKey(info, method, num, gen);
  const iv = await source.read(offset, BLOCK);
  const bodyLength = Math.floor((length - BLOCK) / BLOCK) * BLOCK;
  let pad = 0;
  if (bodyLength > 0) {
    // The last block decrypts on its own with the block before it (or the IV) as its IV.
    const tail = await source.read(offset + bodyLength - BLOCK, 2 * BLOCK);
    const prev = bodyLength === BLOCK ? iv : tail.subarray(0, BLOCK);
    const last = decipherRaw(key, prev).update(tail.subarray(BLOCK, 2 * BLOCK));
    const p = last[BLOCK - 1]!;
    if (p >= 1 && p <= BLOCK && last.subarray(BLOCK - p).every((b) => b === p)) pad = p;
  }
  const plainLength = bodyLength - pad;
  return {
    plainLength,
    chunks: async function* () {
      const d = decipherRaw(key, iv);
      let emitted = 0;
      for await (const chunk of readChunks(source, offset + BLOCK, bodyLength)) {
        const out = d.update(chunk);
        const take = Math.min(out.length, plainLength - emitted);
        if (take > 0) yield out.subarray(0, take);
        emitted += take;
      }
    },
  };
}

function decipherRaw(key: Buffer, iv: Buffer): Decipher {
  const d = createDecipheriv(aesName(key), key, iv);
  d.setAutoPadding(false);
  return d;
}

/** Read [offset, offset + length) in chunks of STREAM_CHUNK_BYTES; a short source is an error upstream. */
export async function* readChunks(
  source: ByteSource,
  offset: number,
  length: number,
): AsyncGenerator<Buffer> {
  for (let done = 0; done < length;) {
    const chunk = await source.read(offset + done, Math.min(STREAM_CHUNK_BYTES, length - done));
    if (chunk.length === 0) return;
    done += chunk.length;
    yield chunk;
  }
}
