/**
 * Opens the database behind every service: SQLite (embedded, one node) or PostgreSQL (many nodes),
 * both through Kysely, with the same schema and migrations. Binary columns are BLOB/bytea (Buffer in
 * code), timestamps ISO strings (see time.ts).
 */
import { mkdirSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  SqliteAdapter,
  SqliteDriver,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import type {
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect as KyselyDialect,
  DialectAdapter,
  Driver,
  QueryCompiler,
  Transaction,
  TransactionSettings,
} from 'kysely';
import type { Database } from './schema.js';
import { parseDatabaseUrl, type DatabaseTarget, type Dialect } from './database-url.js';
import { migrateToLatest } from './migrations.js';
import { redactUrlPassword } from '../util/redact.js';

export { DatabaseUrlError, type Dialect } from './database-url.js';

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** The URL the store was opened with, password redacted: safe to log. */
  readonly url: string;
  /** Closes the pool / file. Safe to call twice. */
  close(): Promise<void>;
}

export class DatabaseConnectionError extends Error {
  override name = 'DatabaseConnectionError';
}

const SQLITE_BUSY_TIMEOUT_MS = 5000;
const PG_POOL_SIZE = 10;
const PG_CONNECT_TIMEOUT_MS = 10_000;

interface StoreConnection {
  target: DatabaseTarget;
  /** Identifies the database within this process (SQLite: the real file path). */
  scope: string;
}
const connections = new WeakMap<Store, StoreConnection>();

/** @internal For store modules (leader election) that need their own connection to the same database. */
export function storeConnection(store: Store): StoreConnection {
  const c = connections.get(store);
  if (!c) throw new TypeError('not a Store returned by openStore()');
  return c;
}

export async function openStore(url: string, opts: { migrate?: boolean } = {}): Promise<Store> {
  const target = parseDatabaseUrl(url);
  const opened = target.dialect === 'sqlite' ? openSqlite(target.path) : await openPostgres(target);
  let closed: Promise<void> | undefined;
  const store: Store = {
    db: opened.db,
    dialect: target.dialect,
    url: redactUrlPassword(url),
    close() {
      closed ??= opened.db.destroy().finally(opened.release);
      return closed;
    },
  };
  connections.set(store, { target, scope: opened.scope });
  if (opts.migrate !== false) {
    try {
      await migrateToLatest(store);
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  return store;
}

/**
 * Run `fn` in one transaction, committed when it resolves and rolled back when it throws. On SQLite
 * the transaction starts with BEGIN IMMEDIATE (see SerializedSqliteDriver) so concurrent writers queue
 * for the write lock up front instead of failing with SQLITE_BUSY when a read lock would be upgraded.
 */
export async function inTransaction<T>(
  store: Store,
  fn: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  return store.db.transaction().execute(fn);
}

interface Opened {
  db: Kysely<Database>;
  scope: string;
  release: () => void;
}

function openSqlite(path: string): Opened {
  let sqlite: SqliteDatabase.Database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    sqlite = new SqliteDatabase(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('synchronous = NORMAL');
  } catch (err) {
    throw new DatabaseConnectionError(
      `cannot open SQLite database at ${path}: ${describeError(err)}; check --database / SEALPOST_DATABASE_URL`,
    );
  }
  const scope = path === ':memory:' ? `memory:${++memoryStores}` : realpathSync(path);
  const gate = gates.acquire(scope);
  const db = new Kysely<Database>({ dialect: new SealpostSqliteDialect(sqlite, gate) });
  return { db, scope, release: () => gates.release(scope) };
}

async function openPostgres(target: Extract<DatabaseTarget, { dialect: 'postgres' }>): Promise<Opened> {
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: PG_POOL_SIZE,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
  });
  // An idle client that loses its connection emits 'error' on the pool; without a listener that would
  // crash the process. The pool drops the client and the next query reconnects (or reports the error).
  pool.on('error', () => {});
  try {
    const client = await pool.connect();
    client.release();
  } catch (err) {
    await pool.end().catch(() => {});
    throw new DatabaseConnectionError(
      `cannot connect to PostgreSQL at ${target.host}:${target.port}: ${describeError(err)}; check --database / SEALPOST_DATABASE_URL`,
    );
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, scope: `${target.host}:${target.port}/${target.database}`, release: () => {} };
}

/** Connection errors come as AggregateError (one per resolved address) with an empty message. */
function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return [...new Set(err.errors.map(describeError))].join('; ');
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return err.message || (typeof code === 'string' ? code : err.name);
  }
  return String(err);
}

// ---------------------------------------------------------------------------------------------------
// SQLite plumbing

let memoryStores = 0;

/** FIFO mutex: lock() resolves when the caller owns it; unlock() hands it to the next waiter. */
class AsyncMutex {
  private locked = false;
  private readonly waiters: (() => void)[] = [];

  async lock(): Promise<void> {
    if (!this.locked) {
      this.locked = true;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  unlock(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.locked = false;
  }
}

/**
 * One mutex per SQLite file per process. better-sqlite3 is synchronous: if two stores in one process
 * opened the same file and one waited on the other's write lock, busy_timeout would block the event
 * loop the holder needs to finish, and both would stall. Serialising their connections in JavaScript
 * avoids that; other processes are still serialised by SQLite's own locking and busy_timeout.
 */
const gates = {
  byScope: new Map<string, { mutex: AsyncMutex; refs: number }>(),
  acquire(scope: string): AsyncMutex {
    const entry = this.byScope.get(scope) ?? { mutex: new AsyncMutex(), refs: 0 };
    entry.refs++;
    this.byScope.set(scope, entry);
    return entry.mutex;
  },
  release(scope: string): void {
    const entry = this.byScope.get(scope);
    if (entry && --entry.refs === 0) this.byScope.delete(scope);
  },
};

class SerializedSqliteDriver implements Driver {
  constructor(
    private readonly inner: SqliteDriver,
    private readonly gate: AsyncMutex,
  ) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.gate.lock();
    try {
      return await this.inner.acquireConnection();
    } catch (err) {
      this.gate.unlock();
      throw err;
    }
  }

  async releaseConnection(_connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.releaseConnection();
    } finally {
      this.gate.unlock();
    }
  }

  async beginTransaction(connection: DatabaseConnection, _settings: TransactionSettings): Promise<void> {
    // Take the write lock at BEGIN: a deferred transaction that reads and then writes can fail with
    // SQLITE_BUSY at the upgrade without waiting on busy_timeout (https://sqlite.org/lang_transaction.html).
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(connection);
  }

  savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    return this.inner.savepoint(connection, name, compile);
  }

  rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    return this.inner.rollbackToSavepoint(connection, name, compile);
  }

  releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    return this.inner.releaseSavepoint(connection, name, compile);
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** SQLite does run DDL inside transactions; saying so makes Kysely's migrator apply each migration atomically. */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class SealpostSqliteDialect implements KyselyDialect {
  constructor(
    private readonly database: SqliteDatabase.Database,
    private readonly gate: AsyncMutex,
  ) {}

  createDriver(): Driver {
    return new SerializedSqliteDriver(new SqliteDriver({ database: this.database }), this.gate);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's Dialect interface takes Kysely<any>
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}
