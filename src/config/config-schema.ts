/**
 * Every configuration setting in one table: where it lives in SealpostConfig, the environment variable
 * that sets it, how its value is parsed and checked, and whether it is a secret. config.ts applies the
 * sources in order; this file only describes and validates single values.
 */
import { KEY_ALGORITHMS } from '../crypto/key-handle.js';
import { parseDatabaseUrl, DatabaseUrlError } from '../store/database-url.js';

export const ROLES = ['ca', 'ocsp', 'tsa', 'api'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const CA_KEY_BACKENDS = ['software', 'pkcs11'] as const;

export type FieldKind =
  | { type: 'string' }
  | { type: 'int'; min: number; max: number }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'roles' }
  | { type: 'path' }
  | { type: 'http-url' }
  | { type: 'database-url' }
  | { type: 'oid' };

export interface FieldSpec {
  /** Dotted path in SealpostConfig, e.g. `crl.validityHours`. */
  path: string;
  env: string;
  kind: FieldKind;
  secret?: boolean;
}

const int = (min: number, max: number): FieldKind => ({ type: 'int', min, max });

export const CONFIG_FIELDS: readonly FieldSpec[] = [
  { path: 'databaseUrl', env: 'SEALPOST_DATABASE_URL', kind: { type: 'database-url' } },
  { path: 'host', env: 'SEALPOST_HOST', kind: { type: 'string' } },
  { path: 'port', env: 'SEALPOST_PORT', kind: int(0, 65535) },
  { path: 'publicUrl', env: 'SEALPOST_PUBLIC_URL', kind: { type: 'http-url' } },
  { path: 'roles', env: 'SEALPOST_ROLES', kind: { type: 'roles' } },
  { path: 'logLevel', env: 'SEALPOST_LOG_LEVEL', kind: { type: 'enum', values: LOG_LEVELS } },
  { path: 'masterKey.passphrase', env: 'SEALPOST_MASTER_PASSPHRASE', kind: { type: 'string' }, secret: true },
  { path: 'masterKey.keyFile', env: 'SEALPOST_MASTER_KEY_FILE', kind: { type: 'path' } },
  { path: 'pkcs11.module', env: 'SEALPOST_PKCS11_MODULE', kind: { type: 'string' } },
  { path: 'pkcs11.tokenLabel', env: 'SEALPOST_PKCS11_TOKEN', kind: { type: 'string' } },
  { path: 'pkcs11.pin', env: 'SEALPOST_PKCS11_PIN', kind: { type: 'string' }, secret: true },
  { path: 'pkcs11.pinFile', env: 'SEALPOST_PKCS11_PIN_FILE', kind: { type: 'path' } },
  { path: 'caKeyBackend', env: 'SEALPOST_CA_KEY_BACKEND', kind: { type: 'enum', values: CA_KEY_BACKENDS } },
  { path: 'crl.validityHours', env: 'SEALPOST_CRL_VALIDITY_HOURS', kind: int(1, 24 * 366) },
  { path: 'crl.refreshHours', env: 'SEALPOST_CRL_REFRESH_HOURS', kind: int(1, 24 * 366) },
  { path: 'ocsp.validityMinutes', env: 'SEALPOST_OCSP_VALIDITY_MINUTES', kind: int(1, 60 * 24 * 366) },
  { path: 'tsa.policy', env: 'SEALPOST_TSA_POLICY', kind: { type: 'oid' } },
  { path: 'tsa.accuracyMs', env: 'SEALPOST_TSA_ACCURACY_MS', kind: int(1, 3_600_000) },
  {
    path: 'tsa.keyAlgorithm',
    env: 'SEALPOST_TSA_KEY_ALGORITHM',
    kind: { type: 'enum', values: KEY_ALGORITHMS },
  },
  {
    path: 'ca.keyAlgorithm',
    env: 'SEALPOST_CA_KEY_ALGORITHM',
    kind: { type: 'enum', values: KEY_ALGORITHMS },
  },
  { path: 'ca.orgName', env: 'SEALPOST_CA_ORG_NAME', kind: { type: 'string' } },
  { path: 'limits.bodyBytes', env: 'SEALPOST_BODY_LIMIT_BYTES', kind: int(1024, 1 << 30) },
];

/** A value that does not fit its field; config.ts adds the field name and the source. */
export class FieldValueError extends Error {}

const MAX_STRING = 4096;

/**
 * Parse and check one value. Strings (environment, CLI) are converted; values from JSON or code must
 * already have the right type, except that numbers may also be given as decimal strings and roles as a
 * comma-separated string. `baseDir` resolves relative paths.
 */
export function parseFieldValue(kind: FieldKind, raw: unknown, resolvePath: (p: string) => string): unknown {
  switch (kind.type) {
    case 'string':
      return nonEmptyString(raw);
    case 'path':
      return resolvePath(nonEmptyString(raw));
    case 'int': {
      const n = typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < kind.min || n > kind.max) {
        throw new FieldValueError(`${show(raw)} is not an integer between ${kind.min} and ${kind.max}`);
      }
      return n;
    }
    case 'enum': {
      const s = nonEmptyString(raw);
      if (!kind.values.includes(s))
        throw new FieldValueError(`${show(raw)} is not one of ${kind.values.join(', ')}`);
      return s;
    }
    case 'roles': {
      const items = typeof raw === 'string' ? raw.split(',').map((r) => r.trim()) : raw;
      if (!Array.isArray(items) || items.length === 0 || items.some((r) => typeof r !== 'string')) {
        throw new FieldValueError(`${show(raw)} is not a list of roles (${ROLES.join(', ')})`);
      }
      const unknown = items.filter((r) => !(ROLES as readonly string[]).includes(r as string));
      if (unknown.length > 0) {
        throw new FieldValueError(`unknown role(s) ${unknown.map(show).join(', ')}: use ${ROLES.join(', ')}`);
      }
      return [...new Set(items as string[])];
    }
    case 'http-url': {
      const s = nonEmptyString(raw);
      let url: URL;
      try {
        url = new URL(s);
      } catch {
        throw new FieldValueError(`${show(raw)} is not a URL`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new FieldValueError(`${show(raw)} must be an http:// or https:// URL`);
      }
      if (url.search || url.hash || url.username || url.password) {
        throw new FieldValueError(`${show(raw)} must not carry a query, fragment or credentials`);
      }
      return url.toString().replace(/\/+$/, '');
    }
    case 'database-url': {
      const s = nonEmptyString(raw);
      try {
        parseDatabaseUrl(s);
      } catch (err) {
        if (err instanceof DatabaseUrlError) throw new FieldValueError(err.message);
        throw err;
      }
      return s;
    }
    case 'oid': {
      const s = nonEmptyString(raw);
      // X.660: first arc 0–2; arcs are non-negative integers without leading zeros.
      if (!/^[0-2](\.(0|[1-9]\d{0,17}))+$/.test(s))
        throw new FieldValueError(`${show(raw)} is not an OID such as 1.3.6.1.4.1.99999.1`);
      return s;
    }
  }
}

function nonEmptyString(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim().length === 0)
    throw new FieldValueError(`${show(raw)} is not a non-empty string`);
  if (raw.length > MAX_STRING) throw new FieldValueError(`value is longer than ${MAX_STRING} characters`);
  return raw.trim();
}

/** A short rendering of a bad value for an error message. */
function show(raw: unknown): string {
  const text = typeof raw === 'string' ? `'${raw}'` : (JSON.stringify(raw) ?? String(raw));
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
