import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { PdfError } from './errors.js';

/**
 * Random access to the bytes of a PDF. The reader asks only for the ranges it needs (the tail, xref
 * sections, the objects requested), so a 1 GB file is never read whole.
 */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Bytes [offset, offset+length) clipped to the end of the source. */
  read(offset: number, length: number): Promise<Buffer>;
  /** Synchronous form, when the source can offer it (in-memory sources). */
  readSync?(offset: number, length: number): Buffer;
  /**
   * Read into the caller's buffer (bytes [offset, offset+target.length) clipped to the end), bypassing
   * any cache: for long sequential reads such as hashing a signature's ByteRange. Returns the count.
   */
  readInto?(target: Buffer, offset: number): Promise<number>;
  /** Release resources (file handles). Idempotent. */
  close?(): Promise<void>;
}

function clip(size: number, offset: number, length: number): [number, number] {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0)
    throw new PdfError(`invalid read range (${offset}, ${length})`);
  const start = Math.min(offset, size);
  return [start, Math.min(size, start + length)];
}

/** A source over bytes already in memory. Reads return views, not copies. */
export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }
  readSync(offset: number, length: number): Buffer {
    const [start, end] = clip(this.size, offset, length);
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, end - start);
  }
  async read(offset: number, length: number): Promise<Buffer> {
    return this.readSync(offset, length);
  }
}

/**
 * A source over a file, read with positioned reads through a small LRU cache of fixed-size blocks
 * (the parser reads many small overlapping windows near each other).
 */
export class FileSource implements ByteSource {
  private readonly cache = new Map<number, Buffer>();
  private closed = false;

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    private readonly blockSize: number,
    private readonly maxBlocks: number,
  ) {}

  /** Open `path` for reading. Block cache: `blockSize` × `maxBlocks` bytes (64 KiB × 32 by default). */
  static async open(
    path: string,
    opts: { blockSize?: number; maxBlocks?: number } = {},
  ): Promise<FileSource> {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      return new FileSource(handle, size, opts.blockSize ?? 64 * 1024, opts.maxBlocks ?? 32);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    if (this.closed) throw new PdfError('the PDF file has been closed');
    const [start, end] = clip(this.size, offset, length);
    if (end - start > this.blockSize * 2) return this.readDirect(start, end - start);
    const firstBlock = Math.floor(start / this.blockSize);
    const lastBlock = Math.floor((end - 1) / this.blockSize);
    if (end <= start) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    for (let b = firstBlock; b <= lastBlock; b++) parts.push(await this.block(b));
    const joined = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    const rel = start - firstBlock * this.blockSize;
    return joined.subarray(rel, rel + (end - start));
  }

  private async block(index: number): Promise<Buffer> {
    const hit = this.cache.get(index);
    if (hit) {
      this.cache.delete(index);
      this.cache.set(index, hit);
      return hit;
    }
    const start = index * this.blockSize;
    const data = await this.readDirect(start, Math.min(this.blockSize, this.size - start));
    this.cache.set(index, data);
    if (this.cache.size > this.maxBlocks) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return data;
  }

  async readInto(target: Buffer, offset: number): Promise<number> {
    if (this.closed) throw new PdfError('the PDF file has been closed');
    const [start, end] = clip(this.size, offset, target.length);
    let done = 0;
    while (done < end - start) {
      const { bytesRead } = await this.handle.read(target, done, end - start - done, start + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  private async readDirect(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    const done = await this.readInto(buf, position);
    return done === length ? buf : buf.subarray(0, done);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    await this.handle.close();
  }
}
