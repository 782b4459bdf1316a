/**
 * Writing an incremental update to a file: the output begins with the input's exact bytes (copied by
 * the kernel when the input is a file), followed by the appended section. The same pass yields every
 * byte a signature's /ByteRange covers, in order, so hashing needs no second read of the output and
 * memory stays flat whatever the file size.
 */
import { copyFile, open, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ByteRange } from '../objects.js';
import { PdfWriteError } from './errors.js';

/** A PDF given by path (streamed) or in memory. */
export type PdfInput = string | Buffer;

const CHUNK = 4 * 1024 * 1024;

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
  let inputSize: number;
  if (Buffer.isBuffer(input)) {
    await writeFile(output, input);
    inputSize = input.length;
    for (let at = 0; at < input.length; at += CHUNK) yield input.subarray(at, at + CHUNK);
  } else {
    // The kernel copies (copy_file_range / reflink) while this process reads and hashes the same bytes;
    // appending to the input itself (a further update of a file we just wrote) copies nothing.
    const copying = resolve(input) === resolve(output) ? Promise.resolve() : copyFile(input, output);
    copying.catch(() => undefined); // awaited below; avoid an unhandled rejection while we read
    const fh = await open(input, 'r');
    try {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, (await fh.stat()).size || 1));
      let position = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        yield buf.subarray(0, bytesRead);
      }
      inputSize = position;
    } finally {
      await fh.close();
    }
    await copying;
  }
  const out = await open(output, 'r+');
  try {
    const { size } = await out.stat();
    if (size !== inputSize)
      throw new PdfWriteError(`the input changed while it was copied (${size} ≠ ${inputSize} bytes)`);
    await out.write(appended, 0, appended.length, inputSize);
  } finally {
    await out.close();
  }
  if (!exclude) yield appended;
  else {
    yield appended.subarray(0, exclude.start);
    yield appended.subarray(exclude.end);
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
