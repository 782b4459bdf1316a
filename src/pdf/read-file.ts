/**
 * Reading a whole small file into a caller's buffer with as few thread-pool round trips as possible:
 * each awaited file operation costs a hand-off to the thread pool and back, which for a 100 KB PDF is a
 * good part of the time to sign it.
 */
import type { FileHandle } from 'node:fs/promises';

/** Read bytes [from, to) of the file into `buffer` at the same offsets; returns where it stopped (EOF). */
export async function readRange(fh: FileHandle, buffer: Buffer, from: number, to: number): Promise<number> {
  let done = from;
  while (done < to) {
    const { bytesRead } = await fh.read(buffer, done, to - done, done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/**
 * Close a file that was only read without waiting for it: nothing written can be lost, and the caller
 * has its bytes already.
 */
export function closeInBackground(fh: FileHandle): void {
  fh.close().catch(() => undefined);
}
