/**
 * Reading a small input whole into a buffer borrowed from a pool (see buffer-pool.ts): signing a file of
 * up to IN_MEMORY_LIMIT bytes in memory takes fewer system calls than streaming it.
 */
import { open } from 'node:fs/promises';
import { BufferPool } from '../buffer-pool.js';
import type { PdfInput } from '../writer/output.js';

/**
 * Files up to this size are read whole and signed in memory (fewer system calls); larger ones are
 * streamed — the output written as the input is read and hashed — which keeps memory flat.
 */
export const IN_MEMORY_LIMIT = 1024 * 1024;
/** One buffer per concurrent signer, a few MB in all. */
const buffers = new BufferPool(IN_MEMORY_LIMIT, 4);

/** An input ready for signing: the bytes (for small files) or the path, and what to call once done. */
export interface LoadedInput {
  input: PdfInput;
  release(): void;
}

const nothingToRelease = (): void => undefined;

/** Read `input` into a lent buffer when it is a file of at most IN_MEMORY_LIMIT bytes. */
export async function loadSmallInput(input: PdfInput): Promise<LoadedInput> {
  if (Buffer.isBuffer(input)) return { input, release: nothingToRelease };
  const fh = await open(input, 'r');
  try {
    const { size } = await fh.stat();
    if (size > IN_MEMORY_LIMIT) return { input, release: nothingToRelease };
    const buffer = buffers.take();
    let done = 0;
    try {
      // The bytes as of the size seen (one read, as a whole-file read of a file being appended to
      // would see some prefix of it too).
      while (done < size) {
        const { bytesRead } = await fh.read(buffer, done, size - done, done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (e) {
      buffers.give(buffer);
      throw e;
    }
    let released = false;
    return {
      input: buffer.subarray(0, done),
      release: () => {
        if (!released) buffers.give(buffer);
        released = true;
      },
    };
  } finally {
    await fh.close();
  }
}
