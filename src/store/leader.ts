/**
 * Leader election for work exactly one node may do at a time (issuing numbered CRLs). PostgreSQL: a
 * session-level advisory lock held on a dedicated connection for as long as the leader lives, so the
 * lock goes away by itself when the process dies or its connection drops. SQLite is single-node: the
 * process is always the leader, but each name is still held at most once per database.
 */
import pg from 'pg';
import type { Store } from './database.js';
import { storeConnection } from './database.js';

const PG_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_INTERVAL_MS = 5000;

/** Names held by this process on SQLite databases, keyed by database scope and name. */
const sqliteHeld = new Set<string>();

export class LeaderLock {
  private lost = false;
  private released = false;
  private readonly lostListeners: (() => void)[] = [];

  private constructor(
    readonly name: string,
    private readonly client: pg.Client | undefined,
    private readonly sqliteKey: string | undefined,
  ) {}

  /** Try once to become the leader for `name`; null when another holder has it. */
  static async acquire(store: Store, name: string): Promise<LeaderLock | null> {
    if (typeof name !== 'string' || name.length === 0)
      throw new TypeError('leader lock name must not be empty');
    const { target, scope } = storeConnection(store);
    if (target.dialect === 'sqlite') {
      const key = `${scope}\0${name}`;
      if (sqliteHeld.has(key)) return null;
      sqliteHeld.add(key);
      return new LeaderLock(name, undefined, key);
    }
    const client = new pg.Client({
      connectionString: target.connectionString,
      connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
      application_name: `sealpost leader ${name}`.slice(0, 63),
    });
    const lock = new LeaderLock(name, client, undefined);
    // Without an 'error' listener a dropped connection would crash the process; here it means the lock is gone.
    client.on('error', () => lock.markLost());
    client.on('end', () => lock.markLost());
    await client.connect();
    try {
      const res = await client.query<{ locked: boolean }>(
        'select pg_try_advisory_lock(hashtext($1)) as locked',
        [name],
      );
      if (res.rows[0]?.locked !== true) {
        await client.end();
        return null;
      }
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    return lock;
  }

  /** False once released or once the connection holding the lock was lost. */
  get held(): boolean {
    return !this.lost && !this.released;
  }

  /** Called once if the lock is lost without release() (connection dropped). */
  onLost(listener: () => void): void {
    this.lostListeners.push(listener);
  }

  /** Confirm the lock is still held (PostgreSQL: its connection still answers). */
  async check(): Promise<boolean> {
    if (!this.held) return false;
    if (this.client) {
      try {
        await this.client.query('select 1');
      } catch {
        this.markLost();
      }
    }
    return this.held;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.sqliteKey !== undefined) sqliteHeld.delete(this.sqliteKey);
    // Closing the session releases its advisory locks.
    if (this.client) await this.client.end().catch(() => {});
  }

  private markLost(): void {
    if (this.lost || this.released) return;
    this.lost = true;
    for (const listener of this.lostListeners) listener();
  }
}

export interface CampaignOptions {
  /** Called each time this process becomes the leader. */
  onElected?: (lock: LeaderLock) => void | Promise<void>;
  /** Called when leadership is lost without stop() (database connection dropped). */
  onDeposed?: () => void;
  /** Errors while trying to acquire, or thrown by onElected. The campaign keeps going. */
  onError?: (err: unknown) => void;
  /** How often a follower retries, and a leader checks its connection. Default 5000. */
  intervalMs?: number;
}

export interface Campaign {
  stop(): Promise<void>;
  isLeader(): boolean;
}

/**
 * Keep trying to become the leader for `name`. The first attempt completes before this resolves, so a
 * single node is the leader as soon as it has started.
 */
export async function campaign(store: Store, name: string, opts: CampaignOptions = {}): Promise<Campaign> {
  const intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
  const report = (err: unknown): void => opts.onError?.(err);
  let lock: LeaderLock | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const tick = async (): Promise<void> => {
    if (lock && !(await lock.check())) {
      lock = null;
      opts.onDeposed?.();
    }
    if (lock || stopped) return;
    try {
      lock = await LeaderLock.acquire(store, name);
    } catch (err) {
      report(err);
      return;
    }
    if (!lock) return;
    if (stopped) {
      await lock.release();
      lock = null;
      return;
    }
    try {
      await opts.onElected?.(lock);
    } catch (err) {
      report(err);
    }
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(schedule);
    }, intervalMs);
    timer.unref();
  };

  running = tick();
  await running;
  schedule();

  return {
    isLeader: () => lock?.held === true,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      await lock?.release();
      lock = null;
    },
  };
}
