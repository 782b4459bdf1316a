/**
 * Pre-signed OCSP responses (RFC 5019 §2.2: responses for requests without a nonce may be cached
 * and served to everyone). Entries live until their nextUpdate approaches or a revocation of their
 * serial invalidates them; the index by serial makes invalidation O(entries of that serial).
 */
export interface CachedResponse {
  der: Buffer;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Refresh before this time so clients never get a response close to expiry. */
  refreshAfter: number;
  etag: string;
}

export class OcspResponseCache {
  private readonly entries = new Map<string, CachedResponse>();
  private readonly bySerial = new Map<string, Set<string>>();

  constructor(private readonly maxEntries = 100_000) {}

  get(key: string, now = Date.now()): CachedResponse | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (now >= hit.refreshAfter) {
      this.entries.delete(key);
      return undefined;
    }
    return hit;
  }

  set(key: string, serial: string, value: CachedResponse): void {
    if (this.entries.size >= this.maxEntries) {
      // Map iteration order is insertion order: drop the oldest entry.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, value);
    let keys = this.bySerial.get(serial);
    if (!keys) this.bySerial.set(serial, (keys = new Set()));
    keys.add(key);
  }

  invalidateSerial(serial: string): number {
    const keys = this.bySerial.get(serial);
    if (!keys) return 0;
    for (const key of keys) this.entries.delete(key);
    this.bySerial.delete(serial);
    return keys.size;
  }

  clear(): void {
    this.entries.clear();
    this.bySerial.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
