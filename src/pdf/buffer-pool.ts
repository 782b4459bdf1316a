/**
 * Reusable large buffers. A fresh megabyte-sized buffer per document is external memory that V8 answers
 * with a full mark-compact every dozen documents (measured on 1 MB PDFs: about 1 ms of CPU per document
 * signed or validated), so the streaming paths borrow their buffers here and give them back when done.
 */
export class BufferPool {
  private readonly spare: Buffer[] = [];

  /** Buffers of `size` bytes; at most `keep` are held while unused (one per concurrent user). */
  constructor(
    readonly size: number,
    private readonly keep: number,
  ) {}

  take(): Buffer {
    return this.spare.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** Return a buffer taken from this pool; its contents may be overwritten at once. */
  give(buffer: Buffer): void {
    if (buffer.length === this.size && this.spare.length < this.keep) this.spare.push(buffer);
  }
}

/**
 * Reusable buffers of varying size, for whole documents held in memory (protect: the input, then the
 * encrypted file). A request is served by the smallest spare buffer that fits; new buffers are rounded
 * up to a power of two (at least `minSize`) so that documents of similar size share them. Buffers over
 * `maxPooled` bytes are never kept: a rare large document must not pin its memory.
 */
export class SizedBufferPool {
  private readonly spare: Buffer[] = [];

  constructor(
    private readonly minSize: number,
    private readonly maxPooled: number,
    private readonly keep: number,
  ) {}

  /** A buffer of at least `bytes` bytes (contents undefined). */
  take(bytes: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.spare.length; i++)
      if (this.spare[i]!.length >= bytes && (best < 0 || this.spare[i]!.length < this.spare[best]!.length))
        best = i;
    if (best >= 0) return this.spare.splice(best, 1)[0]!;
    let size = this.minSize;
    while (size < bytes) size *= 2;
    return Buffer.allocUnsafeSlow(size);
  }

  /** Return a buffer taken from this pool (the whole buffer, not a view of it). */
  give(buffer: Buffer): void {
    if (buffer.length > this.maxPooled) return;
    if (this.spare.length >= this.keep) {
      // Keep the larger ones: they serve every smaller request too.
      const smallest = this.spare.reduce((m, b, i) => (b.length < this.spare[m]!.length ? i : m), 0);
      if (this.spare[smallest]!.length >= buffer.length) return;
      this.spare.splice(smallest, 1);
    }
    this.spare.push(buffer);
  }
}
