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
