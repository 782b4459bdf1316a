import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sql } from 'kysely';
import { dialects } from '../helpers/databases.js';
import {
  DatabaseConnectionError,
  DatabaseUrlError,
  inTransaction,
  openStore,
} from '../../src/store/database.js';
import { parseDatabaseUrl } from '../../src/store/database-url.js';
import { knownMigrations, migrateToLatest } from '../../src/store/migrations.js';
import { nowIso, toIso } from '../../src/store/time.js';

describe.each(dialects)('$name', (d) => {
  it('creates every table and round-trips bytes as Buffer and times as ISO strings', async () => {
    const store = await d.open();
    try {
      const spki = Buffer.from([0, 1, 2, 0xff, 0x80]);
      const created = nowIso();
      await store.db
        .insertInto('keys')
        .values({
          id: 'k1',
          label: 'ca',
          algorithm: 'ec-p256',
          backend: 'software',
          spki,
          sealed: null,
          pkcs11_label: null,
          purpose: 'ca',
          created_at: created,
        })
        .execute();
      await store.db
        .insertInto('authorities')
        .values({
          id: 'root',
          kind: 'root',
          parent_id: null,
          subject: 'CN=Root',
          certificate: Buffer.from('der'),
          key_id: 'k1',
          created_at: created,
        })
        .execute();
      const cert = {
        authority_id: 'root',
        profile: 'seal',
        subject: 'CN=x',
        email: 'a@b',
        not_before: created,
        not_after: created,
        certificate: Buffer.alloc(3),
        key_id: null,
        status: 'valid',
        revoked_at: null,
        revocation_reason: null,
        created_at: created,
      };
      await store.db
        .insertInto('certificates')
        .values({ ...cert, serial: '01' })
        .execute();
      // (authority_id, serial) is the primary key.
      await expect(
        store.db
          .insertInto('certificates')
          .values({ ...cert, serial: '01' })
          .execute(),
      ).rejects.toThrow();
      await store.db
        .insertInto('crls')
        .values({
          authority_id: 'root',
          crl_number: '1',
          this_update: created,
          next_update: created,
          der: Buffer.alloc(1),
        })
        .execute();
      await store.db
        .insertInto('api_keys')
        .values({ id: 'a', name: 'n', secret_hash: 'h', scopes: 's', created_at: created, revoked_at: null })
        .execute();
      await store.db.insertInto('settings').values({ name: 'x', value: 'y' }).execute();
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await store.db
          .insertInto('revocation_events')
          .values({ authority_id: 'root', serial: '01', at: created })
          .returning('id')
          .executeTakeFirstOrThrow();
        ids.push(r.id);
      }
      expect(ids).toEqual([ids[0], ids[0]! + 1, ids[0]! + 2]);
      expect(typeof ids[0]).toBe('number');

      const key = await store.db.selectFrom('keys').selectAll().executeTakeFirstOrThrow();
      expect(Buffer.isBuffer(key.spki)).toBe(true);
      expect(key.spki.equals(spki)).toBe(true);
      expect(key.created_at).toBe(created);
      // A certificate for an unknown authority is refused (foreign keys are on in SQLite too).
      await expect(
        store.db
          .insertInto('certificates')
          .values({ ...cert, serial: '02', authority_id: 'nope' })
          .execute(),
      ).rejects.toThrow();
    } finally {
      await store.cleanup();
    }
  });

  it('migrates once: reopening applies nothing, migrate:false leaves the database untouched', async () => {
    const store = await d.open({ migrate: false });
    try {
      await expect(store.db.selectFrom('counters').selectAll().execute()).rejects.toThrow();
      expect(await migrateToLatest(store)).toEqual(knownMigrations());
      expect(await migrateToLatest(store)).toEqual([]);
      const again = await openStore(store.connectionUrl);
      await again.close();
      await again.close(); // idempotent
    } finally {
      await store.cleanup();
    }
  });

  it('commits a transaction when fn resolves and rolls it back when it throws', async () => {
    const store = await d.open();
    try {
      await inTransaction(store, (trx) =>
        trx.insertInto('settings').values({ name: 'a', value: '1' }).execute(),
      );
      await expect(
        inTransaction(store, async (trx) => {
          await trx.insertInto('settings').values({ name: 'b', value: '2' }).execute();
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      const names = (await store.db.selectFrom('settings').select('name').execute()).map((r) => r.name);
      expect(names).toEqual(['a']);
    } finally {
      await store.cleanup();
    }
  });

  it('serialises concurrent read-modify-write transactions from two stores on one database', async () => {
    const a = await d.open();
    const b = await openStore(a.connectionUrl);
    try {
      await a.db.insertInto('settings').values({ name: 'n', value: '0' }).execute();
      // Each transaction reads, yields to the event loop, then writes: without serialisation updates are lost
      // (PostgreSQL: FOR UPDATE row lock; SQLite: BEGIN IMMEDIATE).
      const bump = (s: typeof a | typeof b) =>
        inTransaction(s, async (trx) => {
          let q = trx.selectFrom('settings').select('value').where('name', '=', 'n');
          if (s.dialect === 'postgres') q = q.forUpdate();
          const { value } = await q.executeTakeFirstOrThrow();
          await new Promise((r) => setImmediate(r));
          await trx
            .updateTable('settings')
            .set({ value: String(Number(value) + 1) })
            .where('name', '=', 'n')
            .execute();
        });
      await Promise.all(Array.from({ length: 40 }, (_, i) => bump(i % 2 ? a : b)));
      const { value } = await a.db.selectFrom('settings').select('value').executeTakeFirstOrThrow();
      expect(value).toBe('40');
    } finally {
      await b.close();
      await a.cleanup();
    }
  });
});

describe('sqlite specifics', () => {
  it('opens with WAL, busy_timeout 5000, foreign keys on and synchronous NORMAL', async () => {
    const store = await dialects[0]!.open();
    try {
      const pragma = async (name: string) =>
        Object.values((await sql.raw(`pragma ${name}`).execute(store.db)).rows[0] as object)[0];
      expect(await pragma('journal_mode')).toBe('wal');
      expect(await pragma('busy_timeout')).toBe(5000);
      expect(await pragma('foreign_keys')).toBe(1);
      expect(await pragma('synchronous')).toBe(1); // NORMAL
    } finally {
      await store.cleanup();
    }
  });

  it('supports sqlite::memory:', async () => {
    const store = await openStore('sqlite::memory:');
    await store.db.insertInto('settings').values({ name: 'a', value: 'b' }).execute();
    expect(await store.db.selectFrom('settings').selectAll().execute()).toHaveLength(1);
    await store.close();
  });
});

describe('database URLs and connection errors', () => {
  it('names host and port and the setting to check when PostgreSQL is unreachable', async () => {
    const err = await openStore('postgres://sealpost:s3cret@127.0.0.1:1/sealpost').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseConnectionError);
    expect((err as Error).message).toMatch(
      /^cannot connect to PostgreSQL at 127\.0\.0\.1:1: .+; check --database \/ SEALPOST_DATABASE_URL$/,
    );
    expect((err as Error).message).not.toContain('s3cret');
  });

  it('redacts the password in store.url', async () => {
    const pg = dialects.find((x) => x.name === 'postgres');
    if (!pg) return;
    const probe = await pg.open();
    try {
      const withPassword = probe.connectionUrl.replace('postgres@', 'postgres:hunter2@'); // trust auth ignores it
      const store = await openStore(withPassword);
      expect(store.url).toContain('postgres:***@');
      expect(store.url).not.toContain('hunter2');
      await store.close();
    } finally {
      await probe.cleanup();
    }
  });

  it('parses the accepted URL forms', () => {
    expect(parseDatabaseUrl('sqlite:/var/lib/sealpost/db.sqlite')).toEqual({
      dialect: 'sqlite',
      path: '/var/lib/sealpost/db.sqlite',
    });
    expect(parseDatabaseUrl('sqlite:///abs/x.db')).toEqual({ dialect: 'sqlite', path: '/abs/x.db' });
    expect(parseDatabaseUrl('sqlite::memory:')).toEqual({ dialect: 'sqlite', path: ':memory:' });
    expect(parseDatabaseUrl('sqlite:rel.db')).toMatchObject({ path: `${process.cwd()}/rel.db` });
    expect(parseDatabaseUrl('postgresql://u:p@db.example:6543/sp')).toMatchObject({
      dialect: 'postgres',
      host: 'db.example',
      port: 6543,
      database: 'sp',
    });
    expect(() => parseDatabaseUrl('mysql://x')).toThrow(/unsupported database URL 'mysql:…'/);
    expect(() => parseDatabaseUrl('sqlite:')).toThrow(DatabaseUrlError);
    expect(() => parseDatabaseUrl('postgres://u:topsecret@[bad')).toThrow(/u:\*\*\*@/);
  });

  it('parses any string into a target or a DatabaseUrlError, never anything else', () => {
    const prefixed = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }).map((s) => `postgres://u:p@${s}`),
      fc.string().map((s) => `sqlite:${s}`),
      fc.string().map((s) => `postgres://${s}`),
      fc.string().map((s) => `postgresql://${s}`),
    );
    fc.assert(
      fc.property(prefixed, (url) => {
        try {
          const t = parseDatabaseUrl(url);
          expect(['sqlite', 'postgres']).toContain(t.dialect);
        } catch (err) {
          expect(err).toBeInstanceOf(DatabaseUrlError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('time', () => {
  it('formats instants as fixed-width UTC ISO strings', () => {
    expect(toIso(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(toIso(new Date('2024-05-01T12:00:00+02:00'))).toBe('2024-05-01T10:00:00.000Z');
    expect(nowIso()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(() => toIso('not a date')).toThrow(RangeError);
  });
});
