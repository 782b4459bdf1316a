import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, describeConfig, loadConfig } from '../../src/config/config.js';
import { CONFIG_FIELDS } from '../../src/config/config-schema.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const writeJson = (name: string, value: unknown) => writeFile(join(dir, name), JSON.stringify(value));

describe('loadConfig', () => {
  it('fills every default from the data directory', () => {
    const cfg = loadConfig({ dataDir: dir, env: {} });
    expect(cfg).toEqual({
      dataDir: dir,
      databaseUrl: `sqlite:${dir}/sealpost.db`,
      host: '127.0.0.1',
      port: 8480,
      publicUrl: 'http://127.0.0.1:8480',
      roles: ['ca', 'ocsp', 'tsa', 'api'],
      logLevel: 'info',
      masterKey: { keyFile: `${dir}/master.key` },
      caKeyBackend: 'software',
      crl: { validityHours: 168, refreshHours: 24 },
      ocsp: { validityMinutes: 1440 },
      tsa: { policy: '1.2.3.4.1', accuracyMs: 1000, keyAlgorithm: 'ec-p256' },
      ca: { keyAlgorithm: 'rsa-3072' },
      limits: { bodyBytes: 25 * 1024 * 1024 },
    });
  });

  it('takes the data directory from --data, then SEALPOST_DATA, then ./data', () => {
    expect(loadConfig({ dataDir: dir, env: { SEALPOST_DATA: '/elsewhere' } }).dataDir).toBe(dir);
    expect(loadConfig({ env: { SEALPOST_DATA: dir } }).dataDir).toBe(dir);
    expect(loadConfig({ env: {} }).dataDir).toBe(join(process.cwd(), 'data'));
  });

  it('applies overrides > environment > config file > defaults, field by field', async () => {
    await writeJson('sealpost.json', {
      port: 9000,
      host: '0.0.0.0',
      logLevel: 'debug',
      crl: { validityHours: 48 },
      roles: ['ocsp'],
    });
    const env = { SEALPOST_PORT: '9100', SEALPOST_LOG_LEVEL: 'warn', SEALPOST_ROLES: '' /* empty = unset */ };
    const cfg = loadConfig({ dataDir: dir, env, overrides: { logLevel: 'error' } });
    expect(cfg.logLevel).toBe('error'); // override beats env and file
    expect(cfg.port).toBe(9100); // env beats file
    expect(cfg.host).toBe('0.0.0.0'); // file beats default
    expect(cfg.crl).toEqual({ validityHours: 48, refreshHours: 24 }); // nested fields merge
    expect(cfg.roles).toEqual(['ocsp']);
    expect(cfg.publicUrl).toBe('http://localhost:9100'); // derived from the final host and port
  });

  it('reads an explicit config file and resolves its relative paths against it', async () => {
    await writeJson('custom.json', {
      masterKey: { keyFile: 'keys/master.key' },
      pkcs11: { module: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'sealpost', pinFile: 'pin.txt' },
      caKeyBackend: 'pkcs11',
    });
    const cfg = loadConfig({ dataDir: '/data', configFile: join(dir, 'custom.json'), env: {} });
    expect(cfg.masterKey.keyFile).toBe(join(dir, 'keys/master.key'));
    expect(cfg.pkcs11).toEqual({
      module: '/usr/lib/softhsm/libsofthsm2.so',
      tokenLabel: 'sealpost',
      pinFile: join(dir, 'pin.txt'),
    });
    expect(cfg.caKeyBackend).toBe('pkcs11');
    expect(
      loadConfig({ dataDir: '/data', env: { SEALPOST_CONFIG: join(dir, 'custom.json') } }).caKeyBackend,
    ).toBe('pkcs11');
  });

  it('maps every documented environment variable', () => {
    const cfg = loadConfig({
      env: {
        SEALPOST_DATA: dir,
        SEALPOST_DATABASE_URL: 'postgres://sp:pw@db:5432/sp',
        SEALPOST_HOST: '::',
        SEALPOST_PORT: '0',
        SEALPOST_PUBLIC_URL: 'https://pki.bank.example/',
        SEALPOST_ROLES: 'ocsp, tsa,ocsp',
        SEALPOST_LOG_LEVEL: 'trace',
        SEALPOST_MASTER_PASSPHRASE: 'correct horse',
        SEALPOST_MASTER_KEY_FILE: '/keys/m.key',
        SEALPOST_PKCS11_MODULE: '/lib/p11.so',
        SEALPOST_PKCS11_TOKEN: 'tok',
        SEALPOST_PKCS11_PIN: '1234',
        SEALPOST_CA_KEY_BACKEND: 'pkcs11',
        SEALPOST_CRL_VALIDITY_HOURS: '72',
        SEALPOST_CRL_REFRESH_HOURS: '12',
        SEALPOST_OCSP_VALIDITY_MINUTES: '60',
        SEALPOST_TSA_POLICY: '1.3.6.1.4.1.99999.2.1',
        SEALPOST_TSA_ACCURACY_MS: '500',
        SEALPOST_TSA_KEY_ALGORITHM: 'ec-p384',
        SEALPOST_CA_KEY_ALGORITHM: 'rsa-4096',
        SEALPOST_CA_ORG_NAME: 'Bank AG',
        SEALPOST_BODY_LIMIT_BYTES: '1048576',
      },
    });
    expect(cfg).toEqual({
      dataDir: dir,
      databaseUrl: 'postgres://sp:pw@db:5432/sp',
      host: '::',
      port: 0,
      publicUrl: 'https://pki.bank.example',
      roles: ['ocsp', 'tsa'],
      logLevel: 'trace',
      masterKey: { passphrase: 'correct horse', keyFile: '/keys/m.key' },
      pkcs11: { module: '/lib/p11.so', tokenLabel: 'tok', pin: '1234' },
      caKeyBackend: 'pkcs11',
      crl: { validityHours: 72, refreshHours: 12 },
      ocsp: { validityMinutes: 60 },
      tsa: { policy: '1.3.6.1.4.1.99999.2.1', accuracyMs: 500, keyAlgorithm: 'ec-p384' },
      ca: { keyAlgorithm: 'rsa-4096', orgName: 'Bank AG' },
      limits: { bodyBytes: 1048576 },
    });
    // Every field in the schema has a distinct variable.
    expect(new Set(CONFIG_FIELDS.map((f) => f.env)).size).toBe(CONFIG_FIELDS.length);
  });

  it('names the field and the source of an invalid value', async () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(err(() => loadConfig({ dataDir: dir, env: { SEALPOST_PORT: 'http' } }))).toBe(
      "invalid port from env SEALPOST_PORT: 'http' is not an integer between 0 and 65535",
    );
    expect(
      err(() => loadConfig({ dataDir: dir, env: {}, overrides: { roles: ['ca', 'smtp' as 'ca'] } })),
    ).toBe("invalid roles from the command line: unknown role(s) 'smtp': use ca, ocsp, tsa, api");
    expect(err(() => loadConfig({ dataDir: dir, env: { SEALPOST_DATABASE_URL: 'mysql://x' } }))).toMatch(
      /^invalid databaseUrl from env SEALPOST_DATABASE_URL: unsupported database URL 'mysql:…'/,
    );
    expect(err(() => loadConfig({ dataDir: dir, env: { SEALPOST_PUBLIC_URL: 'ftp://x' } }))).toMatch(
      /publicUrl .* must be an http/,
    );
    expect(err(() => loadConfig({ dataDir: dir, env: { SEALPOST_TSA_POLICY: '1.02.3' } }))).toMatch(
      /tsa\.policy .*not an OID/,
    );
    expect(err(() => loadConfig({ dataDir: dir, env: { SEALPOST_CA_KEY_ALGORITHM: 'dsa' } }))).toMatch(
      /ca\.keyAlgorithm .* not one of rsa-2048/,
    );
    expect(err(() => loadConfig({ dataDir: dir, env: { SEALPOST_CA_KEY_BACKEND: 'pkcs11' } }))).toMatch(
      /caKeyBackend is pkcs11 but no token/,
    );
    expect(err(() => loadConfig({ dataDir: dir, env: { SEALPOST_PKCS11_MODULE: '/m.so' } }))).toMatch(
      /incomplete pkcs11 settings/,
    );
    expect(err(() => loadConfig({ dataDir: dir, env: { SEALPOST_CRL_REFRESH_HOURS: '200' } }))).toMatch(
      /crl\.refreshHours \(200\) must be less than crl\.validityHours \(168\)/,
    );

    await writeJson('sealpost.json', { crl: { validityHours: 'soon' } });
    expect(err(() => loadConfig({ dataDir: dir, env: {} }))).toBe(
      `invalid crl.validityHours from config file ${dir}/sealpost.json (crl.validityHours): 'soon' is not an integer between 1 and 8784`,
    );
    await writeJson('sealpost.json', { prot: 1 });
    expect(err(() => loadConfig({ dataDir: dir, env: {} }))).toBe(
      `config file ${dir}/sealpost.json: unknown setting 'prot'`,
    );
    await writeJson('sealpost.json', { tsa: { polcy: '1.2' } });
    expect(err(() => loadConfig({ dataDir: dir, env: {} }))).toMatch(/unknown setting 'tsa\.polcy'/);
    await writeFile(join(dir, 'sealpost.json'), '{ port: 1 }');
    expect(err(() => loadConfig({ dataDir: dir, env: {} }))).toMatch(/is not valid JSON/);
    expect(err(() => loadConfig({ dataDir: dir, configFile: join(dir, 'missing.json'), env: {} }))).toMatch(
      /cannot read config file/,
    );
  });

  it('never echoes a secret in an error message', () => {
    expect(() =>
      loadConfig({ dataDir: dir, env: {}, overrides: { pkcs11: { pin: 1234 as unknown as string } } }),
    ).toThrow('invalid pkcs11.pin from the command line: the value is empty or not a string');
  });

  it('parses any environment value into a config or a ConfigError', () => {
    const fieldEnv = fc.constantFrom(...CONFIG_FIELDS.map((f) => f.env));
    fc.assert(
      fc.property(
        fc.dictionary(
          fieldEnv,
          fc.oneof(fc.string(), fc.integer().map(String), fc.constantFrom('ca,ocsp', 'sqlite:x.db', 'info')),
        ),
        (env) => {
          try {
            const cfg = loadConfig({ dataDir: dir, env });
            expect(typeof cfg.port).toBe('number');
          } catch (err) {
            expect(err).toBeInstanceOf(ConfigError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('describeConfig', () => {
  it('redacts passphrases, PINs and the database password', () => {
    const cfg = loadConfig({
      dataDir: dir,
      env: {
        SEALPOST_DATABASE_URL: 'postgres://sp:pw@db/sp',
        SEALPOST_MASTER_PASSPHRASE: 'correct horse',
        SEALPOST_PKCS11_MODULE: '/m.so',
        SEALPOST_PKCS11_TOKEN: 't',
        SEALPOST_PKCS11_PIN: '1234',
      },
    });
    const shown = describeConfig(cfg);
    expect(shown.databaseUrl).toBe('postgres://sp:***@db/sp');
    expect(shown.masterKey).toEqual({ passphrase: '[REDACTED]', keyFile: `${dir}/master.key` });
    expect(shown.pkcs11).toEqual({ module: '/m.so', tokenLabel: 't', pin: '[REDACTED]' });
    expect(JSON.stringify(shown)).not.toMatch(/correct horse|1234|:pw@/);
    expect(cfg.masterKey.passphrase).toBe('correct horse'); // the original is untouched
  });
});
