/**
 * In-memory cache of fetched OCSP responses (by issuer key + serial) and CRLs (by URL), each kept until its
 * nextUpdate; data without nextUpdate is not cached (RFC 5019 §6: it may be refreshed at any time). For a CRL URL
 * a newer CRL (higher cRLNumber) replaces an older one, never the reverse. Bounded: the oldest entries go first.
 */
import { createHash } from 'node:crypto';
import type { ParsedCertificate } from '../pkix/certificate.js';

interface Entry {
  der: Buffer;
  expiresAt: number;
  crlNumber?: bigint;
}

export class RevocationCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly now: () => number;
  /** How many lookups found a current entry (for tests and metrics). */
  hits = 0;

  constructor(opts: { maxEntries?: number; now?: () => Date } = {}) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    const clock = opts.now;
    this.now = clock ? () => clock().getTime() : () => Date.now();
  }

  static ocspKey(issuer: ParsedCertificate, serialHex: string): string {
    return `ocsp:${createHash('sha256').update(issuer.spki).digest('hex')}:${serialHex}`;
  }

  static crlKey(url: string): string {
    return `crl:${url}`;
  }

  get(key: string): Buffer | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    this.hits++;
    return entry.der;
  }

  put(key: string, der: Buffer, nextUpdate: Date | undefined, crlNumber?: bigint): void {
    if (!nextUpdate || nextUpdate.getTime() <= this.now()) return;
    const old = this.entries.get(key);
    if (old?.crlNumber !== undefined && crlNumber !== undefined && crlNumber < old.crlNumber) return;
    this.entries.delete(key);
    this.entries.set(key, {
      der,
      expiresAt: nextUpdate.getTime(),
      ...(crlNumber !== undefined ? { crlNumber } : {}),
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
