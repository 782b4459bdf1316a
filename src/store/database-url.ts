/**
 * Parsing of `--database` / SEALPOST_DATABASE_URL values. Pure (no driver imports) so configuration
 * validation can use it without loading database drivers.
 */
import { resolve } from 'node:path';
import { redactUrlPassword } from '../util/redact.js';

export type Dialect = 'sqlite' | 'postgres';

export type DatabaseTarget =
  | { dialect: 'sqlite'; /** absolute file path, or ':memory:' */ path: string }
  | { dialect: 'postgres'; connectionString: string; host: string; port: number; database: string };

export class DatabaseUrlError extends Error {
  override name = 'DatabaseUrlError';
}

const MAX_URL_LENGTH = 4096;

/**
 * Accepts `sqlite:<path>` (relative paths resolve against the working directory), `sqlite:///abs/path`,
 * `sqlite::memory:`, and `postgres://…` / `postgresql://…` connection URLs.
 */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (typeof url !== 'string' || url.length === 0) {
    throw new DatabaseUrlError('database URL is empty: use sqlite:<path> or postgres://user@host:5432/db');
  }
  if (url.length > MAX_URL_LENGTH)
    throw new DatabaseUrlError(`database URL is longer than ${MAX_URL_LENGTH} characters`);
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2); // sqlite:///abs/path → /abs/path
    if (path === ':memory:') return { dialect: 'sqlite', path };
    if (path.length === 0 || path.includes('\0')) {
      throw new DatabaseUrlError(
        `database URL '${url}' names no SQLite file: use sqlite:/path/to/sealpost.db`,
      );
    }
    return { dialect: 'sqlite', path: resolve(path) };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new DatabaseUrlError(`database URL is not a valid PostgreSQL URL: ${redactUrlPassword(url)}`);
    }
    if (!parsed.hostname) throw new DatabaseUrlError(`PostgreSQL URL has no host: ${redactUrlPassword(url)}`);
    const port = parsed.port ? Number(parsed.port) : 5432;
    let database: string;
    try {
      database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres';
    } catch {
      throw new DatabaseUrlError(`PostgreSQL URL has a malformed database name: ${redactUrlPassword(url)}`);
    }
    return { dialect: 'postgres', connectionString: url, host: parsed.hostname, port, database };
  }
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? url.slice(0, 20);
  throw new DatabaseUrlError(
    `unsupported database URL '${scheme}…': use sqlite:<path> (single node) or postgres://user@host:5432/db`,
  );
}
