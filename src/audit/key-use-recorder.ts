import type { AuditLog } from './audit-log.js';

interface Tally {
  purpose: string;
  count: number;
  first: string;
  last: string;
  from: string;
}

/**
 * Records every use of a hot-path key (TSA, OCSP) in the audit log without one database write per
 * signature: uses are tallied in memory and written as one `key.use` record per key per interval,
 * naming the count and the first and last item signed (e.g. TSA serials). CA signatures are audited
 * one by one with the certificate they produced instead.
 */
export class KeyUseRecorder {
  private readonly tallies = new Map<string, Tally>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly audit: AuditLog,
    private readonly actor: string,
    private readonly intervalMs = 10_000,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flush().catch(this.onError), this.intervalMs);
    this.timer.unref();
  }

  record(keyId: string, purpose: string, item: string): void {
    const tally = this.tallies.get(keyId);
    if (tally) {
      tally.count++;
      tally.last = item;
    } else {
      this.tallies.set(keyId, { purpose, count: 1, first: item, last: item, from: new Date().toISOString() });
    }
  }

  async flush(): Promise<void> {
    const pending = [...this.tallies.entries()];
    this.tallies.clear();
    for (const [keyId, t] of pending) {
      await this.audit.append({
        actor: this.actor,
        action: 'key.use',
        target: keyId,
        details: {
          purpose: t.purpose,
          count: t.count,
          first: t.first,
          last: t.last,
          from: t.from,
          to: new Date().toISOString(),
        },
      });
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
