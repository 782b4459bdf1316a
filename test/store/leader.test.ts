import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { dialects } from '../helpers/databases.js';
import { startStoreWorker } from '../helpers/store-worker.js';
import { openStore } from '../../src/store/database.js';
import { campaign, LeaderLock } from '../../src/store/leader.js';

const waitFor = async (cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe.each(dialects)('$name', (d) => {
  it('lets exactly one of two stores hold a name, and the other take it after release', async () => {
    const a = await d.open();
    const b = await openStore(a.connectionUrl);
    try {
      const first = await LeaderLock.acquire(a, 'crl');
      expect(first).not.toBeNull();
      expect(first!.held).toBe(true);
      expect(await LeaderLock.acquire(b, 'crl')).toBeNull();
      expect(await LeaderLock.acquire(a, 'crl')).toBeNull();
      const other = await LeaderLock.acquire(b, 'other-name');
      expect(other).not.toBeNull();
      await first!.release();
      expect(first!.held).toBe(false);
      const second = await LeaderLock.acquire(b, 'crl');
      expect(second).not.toBeNull();
      await second!.release();
      await other!.release();
    } finally {
      await b.close();
      await a.cleanup();
    }
  });

  it('campaign: the follower becomes leader when the leader stops', async () => {
    const a = await d.open();
    const b = await openStore(a.connectionUrl);
    try {
      const elected: string[] = [];
      const ca = await campaign(a, 'crl', { intervalMs: 50, onElected: () => void elected.push('a') });
      const cb = await campaign(b, 'crl', { intervalMs: 50, onElected: () => void elected.push('b') });
      expect(ca.isLeader()).toBe(true);
      expect(cb.isLeader()).toBe(false);
      await ca.stop();
      expect(ca.isLeader()).toBe(false);
      await waitFor(() => cb.isLeader());
      expect(elected).toEqual(['a', 'b']);
      await cb.stop();
    } finally {
      await b.close();
      await a.cleanup();
    }
  });
});

const pgDialect = dialects.find((x) => x.name === 'postgres');
describe.skipIf(!pgDialect)('postgres leader lock lifetime', () => {
  it('is released when the leader process dies', async () => {
    const store = await pgDialect!.open();
    try {
      const worker = await startStoreWorker(['leader', store.connectionUrl, 'crl']);
      try {
        expect(worker.firstLine).toBe('leader');
        expect(await LeaderLock.acquire(store, 'crl')).toBeNull();
      } finally {
        worker.child.kill('SIGKILL');
      }
      let lock: LeaderLock | null = null;
      await waitFor(async () => (lock = await LeaderLock.acquire(store, 'crl')) !== null);
      await lock!.release();
    } finally {
      await store.cleanup();
    }
  });

  it('reports loss when its connection is terminated, and the campaign re-elects', async () => {
    const store = await pgDialect!.open();
    const admin = new pg.Client({ connectionString: store.connectionUrl });
    await admin.connect();
    try {
      let deposed = 0;
      let elected = 0;
      const c = await campaign(store, 'crl', {
        intervalMs: 50,
        onElected: () => void elected++,
        onDeposed: () => void deposed++,
      });
      expect(c.isLeader()).toBe(true);
      await admin.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'sealpost leader crl'",
      );
      await waitFor(() => deposed === 1 && elected === 2 && c.isLeader());
      await c.stop();
    } finally {
      await admin.end();
      await store.cleanup();
    }
  });
});
