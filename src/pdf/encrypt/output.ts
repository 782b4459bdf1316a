/**
 * Where a rewritten PDF goes: a file (written through a small buffer, so memory stays flat whatever
 * the size) or memory. Tracks the byte position, which the cross-reference section needs.
 */
import { open, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { SizedBufferPool } from '../buffer-pool.js';

const FLUSH_BYTES = 1024 * 1024;

export interface PdfSink {
  /** Bytes written so far. */
  readonly position: number;
  write(bytes: Buffer): Promise<void>;
}

/** Collects the output in memory (documents up to a few hundred MB; use FileSink beyond). */
export class MemorySink implements PdfSink {
  private readonly parts: Buffer[] = [];
  position = 0;
  async write(bytes: Buffer): Promise<void> {
    this.parts.push(bytes);
    this.position += bytes.length;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts, this.position);
  }
}

/**
 * Collects the output in one buffer borrowed from `pool` (grown by swapping for a larger one when
 * needed), so a document encrypted in memory costs no fresh megabytes per call and no final concat.
 * `bytes()` is a view of the borrowed buffer: valid until `release()`.
 */
export class PooledMemorySink implements PdfSink {
  private buffer: Buffer;
  position = 0;

  constructor(
    private readonly pool: SizedBufferPool,
    expectedBytes: number,
  ) {
    this.buffer = pool.take(expectedBytes);
  }

  async write(bytes: Buffer): Promise<void> {
    const end = this.position + bytes.length;
    if (end > this.buffer.length) {
      const larger = this.pool.take(end);
      this.buffer.copy(larger, 0, 0, this.position);
      this.pool.give(this.buffer);
      this.buffer = larger;
    }
    bytes.copy(this.buffer, this.position);
    this.position = end;
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.position);
  }

  release(): void {
    if (this.buffer.length) this.pool.give(this.buffer);
    this.buffer = Buffer.alloc(0);
    this.position = 0;
  }
}

/**
 * Writes to `<path>.partial` and renames it to `path` on commit(), so a failure never leaves a
 * half-written PDF under the final name.
 */
export class FileSink implements PdfSink {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  position = 0;

  private constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    private readonly temp: string,
  ) {}

  static async create(path: string): Promise<FileSink> {
    const temp = `${path}.partial`;
    return new FileSink(await open(temp, 'w', 0o644), path, temp);
  }

  /** Fill a new file at `path` with `write`: it appears whole when `write` succeeds, and not at all otherwise. */
  static async writeFile<T>(path: string, write: (sink: FileSink) => Promise<T>): Promise<T> {
    const sink = await FileSink.create(path);
    try {
      const result = await write(sink);
      await sink.commit();
      return result;
    } catch (e) {
      await sink.abort();
      throw e;
    }
  }

  async write(bytes: Buffer): Promise<void> {
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    this.position += bytes.length;
    if (this.pendingBytes >= FLUSH_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const data =
      this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await this.handle.write(data);
  }

  async commit(): Promise<void> {
    await this.flush();
    await this.handle.close();
    await rename(this.temp, this.path);
  }

  async abort(): Promise<void> {
    this.pending = [];
    await this.handle.close().catch(() => undefined);
    await rm(this.temp, { force: true });
  }
}
