/**
 * Reading a small input whole into a buffer borrowed from a pool (see buffer-pool.ts): signing a file of
 * up to IN_MEMORY_LIMIT bytes in memory takes fewer system calls than streaming it.
 */
import { open } from 'node:fs/promises';
import { BufferPool } from '../buffer-pool.js';
import { closeInBackground, readRange } from '../read-file.js';
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
    const buffer = buffers.take();
    // The size and a first read in parallel (one round trip to the thread pool instead of two): a file
    // under the limit is usually complete after that read.
    const [stat, first] = await Promise.allSettled([fh.stat(), fh.read(buffer, 0, buffer.length, 0)]);
    if (stat.status === 'rejected' || first.status === 'rejected' || stat.value.size > IN_MEMORY_LIMIT) {
      buffers.give(buffer);
      if (stat.status === 'rejected') throw stat.reason;
      if (first.status === 'rejected') throw first.reason;
      return { input, release: nothingToRelease };
    }
    // The bytes as of the size seen (as a whole-file read of a file being appended to would see some
    // prefix of it too).
    const size = stat.value.size;
    let done: number;
    try {
      done = await readRange(fh, buffer, Math.min(first.value.bytesRead, size), size);
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
    closeInBackground(fh);
  }
}
