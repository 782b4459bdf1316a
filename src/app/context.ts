import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { SealpostConfig } from '../config/config.js';
import { openStore, type Store } from '../store/database.js';
import { AuditLog } from '../audit/audit-log.js';
import { MasterKey } from '../crypto/master-key.js';
import { sealPrivateKey, openSealedKey } from '../crypto/key-seal.js';
import { Pkcs11Token } from '../crypto/pkcs11.js';
import { KeyService } from '../keys/key-service.js';
import { CaService } from '../ca/ca-service.js';
import { PkiUrls } from '../ca/urls.js';
import { ApiKeyService } from '../api/api-keys.js';
import { SettingsService } from './settings.js';

/** Everything a command or the server needs, opened once from the configuration. */
export interface Sealpost {
  config: SealpostConfig;
  log: Logger;
  store: Store;
  audit: AuditLog;
  settings: SettingsService;
  keys: KeyService;
  ca: CaService;
  apiKeys: ApiKeyService;
  urls: PkiUrls;
  close(): Promise<void>;
}

export class SetupError extends Error {}

const CHECK_AAD = 'sealpost:master-key-check';

/**
 * Open the installation. `createMasterKey` (init only) generates a master key file when no
 * passphrase or key file exists yet; everywhere else a missing or wrong master key is an error.
 */
export async function openSealpost(
  config: SealpostConfig,
  log: Logger,
  opts: { createMasterKey?: boolean } = {},
): Promise<Sealpost> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const store = await openStore(config.databaseUrl);
  try {
    const audit = new AuditLog(store);
    const settings = new SettingsService(store);
    const master = await openMasterKey(config, settings, opts.createMasterKey ?? false);
    const token = config.pkcs11
      ? Pkcs11Token.open({
          module: config.pkcs11.module,
          tokenLabel: config.pkcs11.tokenLabel,
          pin: await pkcs11Pin(config),
        })
      : undefined;
    const keys = new KeyService(store, audit, master, token);
    const urls = new PkiUrls(config.publicUrl);
    const ca = new CaService(store, audit, keys, urls);
    const apiKeys = new ApiKeyService(store, audit);
    return {
      config,
      log,
      store,
      audit,
      settings,
      keys,
      ca,
      apiKeys,
      urls,
      async close() {
        token?.close();
        master?.destroy();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

async function openMasterKey(
  config: SealpostConfig,
  settings: SettingsService,
  create: boolean,
): Promise<MasterKey | undefined> {
  let salt = await settings.get('master_key_salt');
  if (!salt) {
    if (!create) return undefined;
    salt = randomBytes(16).toString('hex');
    await settings.setIfAbsent('master_key_salt', salt);
    salt = (await settings.get('master_key_salt')) ?? salt;
  }
  const saltBytes = Buffer.from(salt, 'hex');
  let master: MasterKey;
  if (config.masterKey.passphrase) {
    master = await MasterKey.fromPassphrase(config.masterKey.passphrase, saltBytes);
  } else {
    const file = config.masterKey.keyFile;
    if (!file)
      throw new SetupError('no master key: set SEALPOST_MASTER_PASSPHRASE or SEALPOST_MASTER_KEY_FILE');
    if (!existsSync(file)) {
      if (!create)
        throw new SetupError(
          `master key file ${file} is missing: restore it from backup, or run \`sealpost init\` on a new data directory`,
        );
      await MasterKey.generateKeyFile(file);
    }
    master = await MasterKey.fromKeyFile(file, saltBytes);
  }
  // A sealed known value tells a wrong master key apart from corrupted key rows, with a clear message.
  const check = await settings.get('master_key_check');
  if (!check) {
    await settings.setIfAbsent(
      'master_key_check',
      sealPrivateKey(Buffer.from('sealpost'), master, CHECK_AAD).toString('base64'),
    );
  } else {
    try {
      openSealedKey(Buffer.from(check, 'base64'), master, CHECK_AAD);
    } catch {
      master.destroy();
      throw new SetupError(
        'the master key does not match this installation: check SEALPOST_MASTER_PASSPHRASE / the master key file',
      );
    }
  }
  return master;
}

async function pkcs11Pin(config: SealpostConfig): Promise<string> {
  const p = config.pkcs11;
  if (p?.pin) return p.pin;
  if (p?.pinFile) return (await readFile(p.pinFile, 'utf8')).trim();
  throw new SetupError(
    'PKCS#11 is configured but no PIN was given: set SEALPOST_PKCS11_PIN or SEALPOST_PKCS11_PIN_FILE',
  );
}
