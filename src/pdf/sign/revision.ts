/**
 * Writing a signed revision: serialise the update with the placeholders, fix /ByteRange in the
 * appended bytes (fixed width: nothing moves), stream the output — the input copied, the update
 * appended — through whatever makes the /Contents value (a CMS signer hashing the covered bytes, or a
 * TSA client), and write that value into the placeholder. Memory stays flat: only the appended section
 * is held.
 */
import type { PdfDocument } from '../document.js';
import type { ByteRange, PdfRef } from '../objects.js';
import type { IncrementalUpdate } from '../writer/incremental.js';
import { patchFile, writeIncremental, writeWholeFileThenPatch, type PdfInput } from '../writer/output.js';
import { PdfSignError } from './errors.js';
import { byteRangeText, contentsHex, locatePlaceholders } from './placeholder.js';

/** Where the signature's value goes, once the covered bytes are on disk. */
export interface SignedRevisionLayout {
  /** [0, a, b, c] as written in /ByteRange. */
  byteRange: [number, number, number, number];
  /** File offset of the `<` of /Contents. */
  contentsOffset: number;
  /** Bytes reserved for the DER value. */
  contentsBytes: number;
}

/** Produce the /Contents value from the covered bytes (in order, streamed). */
export type ContentsProducer = (covered: AsyncIterable<Buffer>) => Promise<Buffer>;

async function lastByte(doc: PdfDocument): Promise<number | undefined> {
  const size = doc.source.size;
  return size ? (await doc.source.read(size - 1, 1))[0] : undefined;
}

/**
 * Write `input` + `update` to `output`, streaming the bytes /ByteRange covers into `produce`, then
 * embed its result. Returns the layout (for the external signer and for tests).
 */
export async function writeSignedRevision(
  input: PdfInput,
  output: string,
  update: IncrementalUpdate,
  sigRef: PdfRef,
  contentsBytes: number,
  produce: ContentsProducer,
): Promise<SignedRevisionLayout> {
  const inputSize = update.doc.source.size;
  const built = update.build(inputSize, await lastByte(update.doc));
  const range = built.objects.get(sigRef.num);
  if (!range) throw new PdfSignError('the signature dictionary is not part of the update');
  const where = locatePlaceholders(built.bytes.subarray(range.start, range.end), contentsBytes);
  const contentsStart = range.start + where.contents.start;
  const contentsEnd = range.start + where.contents.end;
  const fileSize = inputSize + built.bytes.length;
  const a = inputSize + contentsStart;
  const b = inputSize + contentsEnd;
  byteRangeText(a, b, fileSize).copy(built.bytes, range.start + where.byteRange.start);
  const exclude = { start: contentsStart, end: contentsEnd };
  if (Buffer.isBuffer(input)) {
    // In memory: the file is written with the placeholder while the covered bytes are hashed and
    // signed, then the value goes into the placeholder.
    await writeWholeFileThenPatch(output, [input, built.bytes], async () => ({
      offset: a,
      bytes: contentsHex(await produce(coveredInMemory(input, built.bytes, exclude)), contentsBytes),
    }));
  } else {
    const value = await produce(writeIncremental(input, output, built.bytes, exclude));
    await patchFile(output, a, contentsHex(value, contentsBytes));
  }
  return { byteRange: [0, a, b, fileSize - b], contentsOffset: a, contentsBytes };
}

async function* coveredInMemory(input: Buffer, appended: Buffer, exclude: ByteRange): AsyncGenerator<Buffer> {
  yield input;
  yield appended.subarray(0, exclude.start);
  yield appended.subarray(exclude.end);
}
