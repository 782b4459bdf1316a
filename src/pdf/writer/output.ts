/**
 * Writing an incremental update to a file: the output begins with the input's exact bytes, followed by
 * the appended section. The same pass yields every byte a signature's /ByteRange covers, in order, so
 * hashing needs no second read of the output and memory stays flat whatever the file size.
 *
 * Outputs are written over any existing file in place and cut to length at the end, not truncated
 * first: on ext4 truncating a file that is about to be rewritten frees and re-allocates every block
 * (measured: 1 MB costs 0.41 ms of CPU and 1.5 ms wall truncated, 0.10 ms / 0.10 ms in place).
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { BufferPool } from '../buffer-pool.js';
import type { ByteRange } from '../objects.js';
import { PdfWriteError } from './errors.js';

/** A PDF given by path (streamed) or in memory. */
export type PdfInput = string | Buffer;

const CHUNK = 4 * 1024 * 1024;

/** Open `path` for writing from offset 0 without truncating it (created if missing). */
async function openForRewrite(path: string): Promise<FileHandle> {
  return open(path, constants.O_WRONLY | constants.O_CREAT, 0o666);
}

/** Write all of `buffers` at `position`, however the kernel splits the writes. */
async function writeAllAt(fh: FileHandle, buffers: Buffer[], position: number): Promise<number> {
  let at = position;
  for (let i = 0; i < buffers.length;) {
    const { bytesWritten } = await fh.writev(buffers.slice(i), at);
    at += bytesWritten;
    let left = bytesWritten;
    while (i < buffers.length && left >= buffers[i]!.length) left -= buffers[i++]!.length;
    if (left > 0) buffers[i] = buffers[i]!.subarray(left);
  }
  return at - position;
}

/** Replace the content of `path` with `buffers` (in place: see the file comment). */
export async function writeWholeFile(path: string, buffers: Buffer[]): Promise<void> {
  const fh = await openForRewrite(path);
  try {
    await fh.truncate(await writeAllAt(fh, [...buffers], 0));
  } finally {
    await fh.close();
  }
}

/**
 * Write `buffers` as the content of `path` while `patch` computes bytes to put over part of them (a
 * signature into its placeholder), then write those: the file write runs on the thread pool during
 * the hashing and signing instead of after it. The cut to length runs alongside the write (both
 * leave the same bytes in either order), so only the patch and the close wait for the signature.
 */
export async function writeWholeFileThenPatch(
  path: string,
  buffers: Buffer[],
  patch: () => Promise<{ offset: number; bytes: Buffer }>,
): Promise<void> {
  const fh = await openForRewrite(path);
  try {
    const length = buffers.reduce((n, b) => n + b.length, 0);
    const writing = Promise.all([writeAllAt(fh, [...buffers], 0), fh.truncate(length)]);
    writing.catch(() => undefined); // awaited below, after the patch is computed
    let patched: { offset: number; bytes: Buffer };
    try {
      patched = await patch();
    } finally {
      await writing.catch(() => undefined);
    }
    await writing;
    await writeAllAt(fh, [patched.bytes], patched.offset);
  } finally {
    await fh.close();
  }
}

/** Copy buffers: two per copy (one being written while the other is hashed), some for concurrent signers. */
const chunks = new BufferPool(CHUNK, 8);

/**
 * Write `input` followed by `appended` to `output`, yielding the bytes in file order except
 * `exclude` (a range relative to `appended`: the /Contents placeholder). The file is complete once the
 * generator has been consumed to the end.
 */
export async function* writeIncremental(
  input: PdfInput,
  output: string,
  appended: Buffer,
  exclude?: ByteRange,
): AsyncGenerator<Buffer> {
  const inPlace = !Buffer.isBuffer(input) && resolve(input) === resolve(output);
  // Appending to the input itself (a further update of a file we just wrote) copies nothing.
  const out = inPlace ? undefined : await openForRewrite(output);
  try {
    let inputSize: number;
    if (Buffer.isBuffer(input)) {
      inputSize = await writeAllAt(out!, [input], 0);
      for (let at = 0; at < input.length; at += CHUNK) yield input.subarray(at, at + CHUNK);
    } else inputSize = yield* readChunks(input, out);
    const target = out ?? (await open(output, 'r+'));
    try {
      const { size } = await target.stat();
      if (inPlace && size !== inputSize)
        throw new PdfWriteError(`the input changed while it was read (${size} ≠ ${inputSize} bytes)`);
      await writeAllAt(target, [appended], inputSize);
      if (size > inputSize + appended.length) await target.truncate(inputSize + appended.length);
    } finally {
      if (!out) await target.close();
    }
  } finally {
    await out?.close();
  }
  if (!exclude) yield appended;
  else {
    yield appended.subarray(0, exclude.start);
    yield appended.subarray(exclude.end);
  }
}

/**
 * Yield the bytes of the file at `path` in order, and return their count; with `copyTo`, each chunk is
 * also written there at the same offset, on the thread pool while the consumer hashes it and the next
 * chunk is read into the other buffer.
 */
async function* readChunks(path: string, copyTo: FileHandle | undefined): AsyncGenerator<Buffer, number> {
  const fh = await open(path, 'r');
  const buffers = [chunks.take(), chunks.take()];
  let writing: Promise<unknown> = Promise.resolve();
  try {
    let position = 0;
    for (let turn = 0; ; turn++) {
      const buf = buffers[turn % 2]!;
      const { bytesRead } = await fh.read(buf, 0, buf.length, position);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      await writing; // the previous chunk's write, from the other buffer
      if (copyTo) writing = writeAllAt(copyTo, [chunk], position);
      position += bytesRead;
      yield chunk;
    }
    await writing;
    return position;
  } finally {
    await writing.catch(() => undefined);
    await fh.close();
    buffers.forEach((b) => chunks.give(b));
  }
}

/** Overwrite `bytes` at `offset` of an existing file (the signature value into its placeholder). */
export async function patchFile(path: string, offset: number, bytes: Buffer): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.write(bytes, 0, bytes.length, offset);
  } finally {
    await fh.close();
  }
}

/** Run the generator to the end when no one needs the bytes (an unsigned update such as a DSS). */
export async function drain(it: AsyncIterable<Buffer>): Promise<void> {
  for await (const chunk of it) void chunk;
}

/** Append `appended` to the file at `path`, whose existing content is `size` bytes (an unsigned update). */
export async function appendToFile(path: string, size: number, appended: Buffer): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const { size: actual } = await fh.stat();
    if (actual !== size)
      throw new PdfWriteError(`the file changed while the update was built (${actual} ≠ ${size} bytes)`);
    await fh.write(appended, 0, appended.length, size);
  } finally {
    await fh.close();
  }
}
