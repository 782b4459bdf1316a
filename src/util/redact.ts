/**
 * One definition of "secret" for logs, audit records and printed configuration: a field is secret when
 * its name ends in a secret word (`password`, `dbPassword`, `pkcs11_pin`, `privateKey`, `clientSecret`…).
 * Names that merely refer to a secret (`pinFile`, `keyFile`, `passwordHash`, `tokenLabel`) stay visible.
 */
export const REDACTED = '[REDACTED]';

const SECRET_LAST_WORDS = new Set([
  'password',
  'passwd',
  'pwd',
  'pin',
  'secret',
  'passphrase',
  'authorization',
  'cookie',
  'privatekey',
  'apikey',
  'secretkey',
]);
/** Two-word endings: `private key`, `api key`, `access token`… */
const SECRET_LAST_PAIRS = new Set([
  'private key',
  'api key',
  'secret key',
  'access token',
  'refresh token',
  'bearer token',
  'session token',
  'client secret',
]);

/** Split `dbPassword`, `db_password`, `DB-PASSWORD`, `x.password` into lowercase words. */
function words(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

export function isSecretKey(key: string): boolean {
  const w = words(key);
  const last = w[w.length - 1];
  if (last === undefined) return false;
  if (SECRET_LAST_WORDS.has(last)) return true;
  return w.length >= 2 && SECRET_LAST_PAIRS.has(`${w[w.length - 2]} ${last}`);
}

/**
 * A deep copy of `value` with every secret-named field's value replaced by `[REDACTED]`. Plain objects
 * and arrays are copied; other objects (Date, Buffer, class instances) are kept as they are. Cycles are
 * preserved as cycles in the copy.
 */
export function redactSecrets<T>(value: T): T {
  return copy(value, new WeakMap()) as T;
}

function copy(value: unknown, seen: WeakMap<object, unknown>): unknown {
  if (value === null || typeof value !== 'object') return value;
  const done = seen.get(value);
  if (done !== undefined) return done;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const item of value) out.push(copy(item, seen));
    return out;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  seen.set(value, out);
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) && v !== undefined && v !== null ? REDACTED : copy(v, seen);
  }
  return out;
}

/** `postgres://user:pw@host/db` → `postgres://user:***@host/db`; other strings unchanged. */
export function redactUrlPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*):[^@/?#]*@/i, '$1:***@');
}
