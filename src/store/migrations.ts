/**
 * Schema migrations, applied in order by Kysely's Migrator. Migrations are TypeScript modules imported
 * here statically (no directory scan), so they ship inside dist/ and bundles unchanged. To add one:
 * create migrations/NNNN_name.ts exporting `migration` and list it below; never edit a released one.
 */
import { Migrator } from 'kysely';
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { Dialect } from './database-url.js';
import type { Database } from './schema.js';
import { migration as m0001 } from './migrations/0001_initial.js';

/** A migration that may need to choose column types by dialect (bytea vs BLOB, serial vs autoincrement). */
export interface SealpostMigration {
  // Kysely<any>: a migration must not depend on today's schema types, only on the schema it creates.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  up(db: Kysely<any>, dialect: Dialect): Promise<void>;
}

const MIGRATIONS: Record<string, SealpostMigration> = {
  '0001_initial': m0001,
};

export class MigrationError extends Error {
  override name = 'MigrationError';
}

class InCodeProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    for (const [name, m] of Object.entries(MIGRATIONS)) out[name] = { up: (db) => m.up(db, this.dialect) };
    return out;
  }
}

/**
 * Bring the database up to the newest schema; returns the names of the migrations applied now. Safe to
 * run from several nodes at once (PostgreSQL: Kysely takes an advisory lock; SQLite: BEGIN IMMEDIATE).
 */
export async function migrateToLatest(store: { db: Kysely<Database>; dialect: Dialect }): Promise<string[]> {
  const migrator = new Migrator({ db: store.db, provider: new InCodeProvider(store.dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    const reason = error instanceof Error ? error.message : String(error);
    const hint = /missing/i.test(reason)
      ? ' (the database was migrated by a newer Sealpost version: upgrade this node)'
      : '';
    throw new MigrationError(
      `database migration ${failed ?? ''}${failed ? ' ' : ''}failed: ${reason}${hint}`,
      { cause: error },
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** The migrations this build knows, in order (for `sealpost db status`-style reporting). */
export function knownMigrations(): string[] {
  return Object.keys(MIGRATIONS);
}
