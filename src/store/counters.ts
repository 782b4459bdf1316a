/**
 * Named counters that never hand out the same value twice, across connections, processes and nodes:
 * CRL numbers (RFC 5280 §5.2.3: monotonically increasing) and blocks of TSA serials.
 */
import { Kysely, sql } from 'kysely';
import type { Transaction } from 'kysely';
import type { Database } from './schema.js';
import type { Store } from './database.js';

export class CounterError extends Error {
  override name = 'CounterError';
}

const MAX_COUNT = 1n << 32n;
/** Both dialects store counter arithmetic in signed 64-bit integers. */
const MAX_VALUE = (1n << 63n) - 1n;

/**
 * Atomically reserve `count` consecutive values of counter `name` and return the first. A new counter
 * starts at 1. One statement (INSERT … ON CONFLICT DO UPDATE … RETURNING) does the read-modify-write
 * under the row lock, so concurrent callers on any node get disjoint ranges. Pass a transaction to make
 * the reservation part of it (it is then released again if the transaction rolls back).
 */
export async function nextCounter(
  target: Store | Transaction<Database>,
  name: string,
  count: bigint = 1n,
): Promise<bigint> {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new CounterError('counter name must be 1–200 characters');
  }
  if (typeof count !== 'bigint' || count < 1n || count > MAX_COUNT) {
    throw new CounterError(`counter '${name}': count must be a bigint between 1 and ${MAX_COUNT}`);
  }
  const db = dbOf(target);
  // CAST(… AS bigint) works in both dialects (SQLite maps BIGINT to INTEGER affinity); the column is text.
  const row = await db
    .insertInto('counters')
    .values({ name, value: count.toString() })
    .onConflict((oc) =>
      oc.column('name').doUpdateSet({
        value: sql<string>`cast(cast(counters.value as bigint) + cast(excluded.value as bigint) as text)`,
      }),
    )
    .returning('value')
    .executeTakeFirstOrThrow();
  const last = parseCounterValue(name, row.value);
  return last - count + 1n;
}

/** The last value handed out (0 when the counter was never used). Informational: do not derive values from it. */
export async function currentCounter(target: Store | Transaction<Database>, name: string): Promise<bigint> {
  const db = dbOf(target);
  const row = await db.selectFrom('counters').select('value').where('name', '=', name).executeTakeFirst();
  return row ? parseCounterValue(name, row.value) : 0n;
}

function parseCounterValue(name: string, value: unknown): bigint {
  const text = String(value);
  // SQLite turns an overflowing integer sum into a REAL ("9.2e+18"): refuse rather than repeat values.
  if (!/^[0-9]+$/.test(text) || BigInt(text) > MAX_VALUE) {
    throw new CounterError(
      `counter '${name}' holds '${text.slice(0, 40)}', not a 64-bit count: it is exhausted or corrupted`,
    );
  }
  return BigInt(text);
}

function dbOf(target: Store | Transaction<Database>): Kysely<Database> {
  return target instanceof Kysely ? target : target.db;
}
