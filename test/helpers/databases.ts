/**
 * Every store test runs once per dialect: `describe.each(dialects)('$name', (d) => { … })`.
 * SQLite uses a fresh temp file; PostgreSQL a fresh database `sealpost_t_<random>` on the server at
 * SEALPOST_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres, trust auth), dropped on
 * cleanup. Without a reachable PostgreSQL the dialect is left out locally (with one printed reason)
 * and the run fails under CI=true.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type Dialect, type Store } from '../../src/store/database.js';

export type TestStore = Store & {
  /** The URL to open more stores on the same database (no password in tests). */
  readonly connectionUrl: string;
  /** Close the store (if still open) and delete the database. */
  cleanup(): Promise<void>;
};

export interface TestDialect {
  name: Dialect;
  open(opts?: { migrate?: boolean }): Promise<TestStore>;
}

const PG_ADMIN_URL = process.env.SEALPOST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** A fresh, empty PostgreSQL database (for multi-process tests); drop() removes it. */
export async function createPgTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `sealpost_t_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    // FORCE (PostgreSQL 13+) ends sessions a test left open, e.g. a leader lock's connection.
    drop: () => adminQuery(`drop database if exists ${name} with (force)`),
  };
}

function withCleanup(store: Store, connectionUrl: string, after: () => Promise<void>): TestStore {
  // Extend the store object itself: store modules recognise a store by identity.
  return Object.assign(store, {
    connectionUrl,
    async cleanup() {
      await store.close();
      await after();
    },
  }) as TestStore;
}

const sqlite: TestDialect = {
  name: 'sqlite',
  async open(opts) {
    const dir = await mkdtemp(join(tmpdir(), 'sealpost-store-'));
    const url = `sqlite:${join(dir, 'test.db')}`;
    const store = await openStore(url, opts);
    return withCleanup(store, url, () => rm(dir, { recursive: true, force: true }));
  },
};

const postgres: TestDialect = {
  name: 'postgres',
  async open(opts) {
    const database = await createPgTestDatabase();
    try {
      const store = await openStore(database.url, opts);
      return withCleanup(store, database.url, database.drop);
    } catch (err) {
      await database.drop();
      throw err;
    }
  },
};

async function postgresReachable(): Promise<string | undefined> {
  try {
    await adminQuery('select 1');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message || String((err as { code?: string }).code) : String(err);
  }
}

const pgProblem = await postgresReachable();
if (pgProblem !== undefined) {
  const message = `PostgreSQL at ${PG_ADMIN_URL.replace(/:[^:@/]*@/, ':***@')} is unreachable (${pgProblem})`;
  if (process.env.CI === 'true') throw new Error(`${message}: store tests must run on PostgreSQL in CI`);
  console.warn(`${message}: skipping the postgres dialect in store tests`);
}

export const dialects: TestDialect[] = pgProblem === undefined ? [sqlite, postgres] : [sqlite];
