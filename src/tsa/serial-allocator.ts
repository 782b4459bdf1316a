import type { Store } from '../store/database.js';
import { nextCounter } from '../store/counters.js';

/**
 * TSA serial numbers (RFC 3161 §2.4.2: unique per TSA) that stay unique across restarts and nodes:
 * each node reserves a block from a database counter and hands its values out in order, so serials
 * rise monotonically within a node and never repeat anywhere. A restart abandons the rest of a block.
 */
export class SerialAllocator {
  private next = 0n;
  private end = 0n;
  private refill: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly counter: string,
    private readonly blockSize = 1000n,
  ) {}

  async allocate(): Promise<bigint> {
    while (this.next >= this.end) {
      this.refill ??= this.reserve().finally(() => (this.refill = undefined));
      await this.refill;
    }
    return this.next++;
  }

  private async reserve(): Promise<void> {
    const first = await nextCounter(this.store, this.counter, this.blockSize);
    this.next = first;
    this.end = first + this.blockSize;
  }
}
