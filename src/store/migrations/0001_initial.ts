/**
 * The first schema: every table in schema.ts. Types are chosen to mean the same in both dialects:
 * text, bytea/BLOB for DER and sealed keys, bigint for the audit sequence (ordered and gap-checked
 * numerically), serial/autoincrement for revocation events.
 */
import type { Kysely } from 'kysely';
import type { Dialect } from '../database-url.js';
import type { SealpostMigration } from '../migrations.js';

export const migration: SealpostMigration = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see SealpostMigration
  async up(db: Kysely<any>, dialect: Dialect): Promise<void> {
    const bytes = dialect === 'postgres' ? 'bytea' : 'blob';

    await db.schema
      .createTable('settings')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('counters')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('label', 'text', (c) => c.notNull())
      .addColumn('algorithm', 'text', (c) => c.notNull())
      .addColumn('backend', 'text', (c) => c.notNull())
      .addColumn('spki', bytes, (c) => c.notNull())
      .addColumn('sealed', bytes)
      .addColumn('pkcs11_label', 'text')
      .addColumn('purpose', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('authorities')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('parent_id', 'text', (c) => c.references('authorities.id'))
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('certificate', bytes, (c) => c.notNull())
      .addColumn('key_id', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('certificates')
      .addColumn('serial', 'text', (c) => c.notNull())
      .addColumn('authority_id', 'text', (c) => c.notNull().references('authorities.id'))
      .addColumn('profile', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('email', 'text')
      .addColumn('not_before', 'text', (c) => c.notNull())
      .addColumn('not_after', 'text', (c) => c.notNull())
      .addColumn('certificate', bytes, (c) => c.notNull())
      .addColumn('key_id', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'text')
      .addColumn('revocation_reason', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('certificates_pk', ['authority_id', 'serial'])
      .execute();
    await db.schema.createIndex('certificates_email_idx').on('certificates').column('email').execute();
    await db.schema.createIndex('certificates_status_idx').on('certificates').column('status').execute();

    await db.schema
      .createTable('crls')
      .addColumn('authority_id', 'text', (c) => c.notNull().references('authorities.id'))
      .addColumn('crl_number', 'text', (c) => c.notNull())
      .addColumn('this_update', 'text', (c) => c.notNull())
      .addColumn('next_update', 'text', (c) => c.notNull())
      .addColumn('der', bytes, (c) => c.notNull())
      .addPrimaryKeyConstraint('crls_pk', ['authority_id', 'crl_number'])
      .execute();

    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'text')
      .execute();

    await db.schema
      .createTable('audit_log')
      .addColumn('seq', 'bigint', (c) => c.primaryKey())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('target', 'text')
      .addColumn('details', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_log_action_idx').on('audit_log').columns(['action', 'seq']).execute();

    await db.schema
      .createTable('revocation_events')
      .addColumn('id', dialect === 'postgres' ? 'serial' : 'integer', (c) =>
        dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
      )
      .addColumn('authority_id', 'text', (c) => c.notNull())
      .addColumn('serial', 'text', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .execute();
  },
};
