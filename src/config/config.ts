/**
 * Configuration after the twelve-factor app: every setting has a default, may be set in a JSON config
 * file, overridden by an environment variable, and overridden again by a command-line flag. Values are
 * validated as they are read; an error names the setting and where the bad value came from.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { KeyAlgorithm } from '../crypto/key-handle.js';
import { redactSecrets, redactUrlPassword } from '../util/redact.js';
import { CONFIG_FIELDS, FieldValueError, parseFieldValue, type FieldSpec } from './config-schema.js';

export type Role = 'ca' | 'ocsp' | 'tsa' | 'api';

export interface SealpostConfig {
  dataDir: string;
  /** Default sqlite:<dataDir>/sealpost.db. */
  databaseUrl: string;
  host: string;
  port: number;
  /** Base of the URLs written into certificates (AIA, CRL distribution points); no trailing slash. */
  publicUrl: string;
  roles: Role[];
  logLevel: string;
  masterKey: { passphrase?: string; keyFile?: string };
  pkcs11?: { module: string; tokenLabel: string; pin?: string; pinFile?: string };
  caKeyBackend: 'software' | 'pkcs11';
  crl: { validityHours: number; refreshHours: number };
  ocsp: { validityMinutes: number };
  tsa: { policy: string; accuracyMs: number; keyAlgorithm: KeyAlgorithm };
  ca: { keyAlgorithm: KeyAlgorithm; orgName?: string };
  limits: { bodyBytes: number };
}

type DeepPartial<T> = {
  [K in keyof T]?: NonNullable<T[K]> extends unknown[]
    ? T[K]
    : NonNullable<T[K]> extends object
      ? DeepPartial<NonNullable<T[K]>>
      : T[K];
};
/** Values from command-line flags; strings are accepted where the CLI hands them over unparsed. */
export type ConfigOverrides = DeepPartial<SealpostConfig>;

export interface LoadConfigOptions {
  /** `--data`; else SEALPOST_DATA; else ./data. */
  dataDir?: string;
  /** `--config`; else SEALPOST_CONFIG; else <dataDir>/sealpost.json when it exists. */
  configFile?: string;
  /** Defaults to process.env. Empty variables count as unset. */
  env?: NodeJS.ProcessEnv;
  overrides?: ConfigOverrides;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const DEFAULT_DATA_DIR = 'data';
const CONFIG_FILE_NAME = 'sealpost.json';
const MAX_CONFIG_FILE_BYTES = 1 << 20;

/** Defaults that do not depend on other settings. */
const STATIC_DEFAULTS: Record<string, unknown> = {
  host: '127.0.0.1',
  port: 8480,
  roles: ['ca', 'ocsp', 'tsa', 'api'],
  logLevel: 'info',
  caKeyBackend: 'software',
  'crl.validityHours': 168,
  'crl.refreshHours': 24,
  'ocsp.validityMinutes': 1440,
  // OpenSSL's example TSA policy; a bank should register its own OID arc and set SEALPOST_TSA_POLICY.
  'tsa.policy': '1.2.3.4.1',
  'tsa.accuracyMs': 1000,
  'tsa.keyAlgorithm': 'ec-p256',
  // RSA for the CA: every S/MIME and PDF client verifies it, EC support is still patchy in mail clients.
  'ca.keyAlgorithm': 'rsa-3072',
  'limits.bodyBytes': 25 * 1024 * 1024,
};

interface Source {
  /** For error messages: "the command line", "env SEALPOST_PORT", "config file /x/sealpost.json (port)". */
  describe(field: FieldSpec): string;
  get(field: FieldSpec): unknown;
  resolvePath(p: string): string;
}

export function loadConfig(opts: LoadConfigOptions = {}): SealpostConfig {
  const env = opts.env ?? process.env;
  const envValue = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  const overrides = opts.overrides ?? {};

  const dataDirRaw = overrides.dataDir ?? opts.dataDir ?? envValue('SEALPOST_DATA') ?? DEFAULT_DATA_DIR;
  if (typeof dataDirRaw !== 'string' || dataDirRaw.trim() === '') {
    throw new ConfigError('invalid dataDir: must be a directory path (--data / SEALPOST_DATA)');
  }
  const dataDir = resolve(dataDirRaw);

  const explicitFile = opts.configFile ?? envValue('SEALPOST_CONFIG');
  const configFile = explicitFile ? resolve(explicitFile) : join(dataDir, CONFIG_FILE_NAME);
  const fileValues = explicitFile || existsSync(configFile) ? readConfigFile(configFile) : undefined;

  const sources: Source[] = [
    {
      describe: () => 'the command line',
      get: (f) => getPath(overrides, f.path),
      resolvePath: (p) => resolve(p),
    },
    { describe: (f) => `env ${f.env}`, get: (f) => envValue(f.env), resolvePath: (p) => resolve(p) },
  ];
  if (fileValues) {
    sources.push({
      describe: (f) => `config file ${configFile} (${f.path})`,
      get: (f) => getPath(fileValues, f.path),
      resolvePath: (p) => resolve(dirname(configFile), p),
    });
  }

  const values: Record<string, unknown> = {};
  for (const field of CONFIG_FIELDS) {
    const source = sources.find((s) => s.get(field) !== undefined);
    values[field.path] = source ? parseFrom(field, source) : STATIC_DEFAULTS[field.path];
  }

  const host = values.host as string;
  const port = values.port as number;
  values.databaseUrl ??= `sqlite:${join(dataDir, 'sealpost.db')}`;
  values.publicUrl ??= `http://${publicHost(host)}:${port}`;
  values['masterKey.keyFile'] ??= join(dataDir, 'master.key');

  const config = { dataDir } as Record<string, unknown>;
  for (const [path, value] of Object.entries(values)) if (value !== undefined) setPath(config, path, value);
  checkConsistency(config as unknown as SealpostConfig);
  return config as unknown as SealpostConfig;
}

/** A copy safe to print or log: passphrases and PINs redacted, the database password masked. */
export function describeConfig(cfg: SealpostConfig): SealpostConfig {
  const copy = redactSecrets(cfg);
  return { ...copy, databaseUrl: redactUrlPassword(cfg.databaseUrl) };
}

function parseFrom(field: FieldSpec, source: Source): unknown {
  const raw = source.get(field);
  try {
    return parseFieldValue(field.kind, raw, (p) => source.resolvePath(p));
  } catch (err) {
    if (!(err instanceof FieldValueError)) throw err;
    const reason = field.secret ? 'the value is empty or not a string' : err.message;
    throw new ConfigError(`invalid ${field.path} from ${source.describe(field)}: ${reason}`);
  }
}

function checkConsistency(cfg: SealpostConfig): void {
  const p = cfg.pkcs11 as Partial<NonNullable<SealpostConfig['pkcs11']>> | undefined;
  if (p) {
    if (!p.module || !p.tokenLabel) {
      throw new ConfigError(
        'incomplete pkcs11 settings: set both pkcs11.module (SEALPOST_PKCS11_MODULE) and pkcs11.tokenLabel (SEALPOST_PKCS11_TOKEN)',
      );
    }
    if (p.pin && p.pinFile) {
      throw new ConfigError(
        'set only one of pkcs11.pin (SEALPOST_PKCS11_PIN) and pkcs11.pinFile (SEALPOST_PKCS11_PIN_FILE)',
      );
    }
  }
  if (cfg.caKeyBackend === 'pkcs11' && !p) {
    throw new ConfigError(
      'caKeyBackend is pkcs11 but no token is configured: set SEALPOST_PKCS11_MODULE and SEALPOST_PKCS11_TOKEN',
    );
  }
  if (cfg.crl.refreshHours >= cfg.crl.validityHours) {
    throw new ConfigError(
      `crl.refreshHours (${cfg.crl.refreshHours}) must be less than crl.validityHours (${cfg.crl.validityHours}) so a new CRL is out before the old one expires`,
    );
  }
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    if (statSync(file).size > MAX_CONFIG_FILE_BYTES)
      throw new ConfigError(`config file ${file} is larger than 1 MiB`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${file} must contain a JSON object`);
  }
  const known = new Set(CONFIG_FIELDS.map((f) => f.path));
  const groups = new Set(CONFIG_FIELDS.filter((f) => f.path.includes('.')).map((f) => f.path.split('.')[0]!));
  for (const [key, value] of Object.entries(parsed)) {
    if (key === 'dataDir') {
      throw new ConfigError(
        `config file ${file}: dataDir cannot be set in the config file; use --data or SEALPOST_DATA`,
      );
    }
    if (known.has(key)) continue;
    if (!groups.has(key) || value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new ConfigError(`config file ${file}: unknown setting '${key}'`);
    }
    for (const sub of Object.keys(value)) {
      if (!known.has(`${key}.${sub}`))
        throw new ConfigError(`config file ${file}: unknown setting '${key}.${sub}'`);
    }
  }
  return parsed as Record<string, unknown>;
}

/** 0.0.0.0 / :: listen everywhere but are not addresses a client can use. */
function publicHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

function getPath(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    cur[part] ??= {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}
