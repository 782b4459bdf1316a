import { createHmac, randomBytes, scrypt, type ScryptOptions } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';

/**
 * The master key is the key-encryption key that protects every software private key at rest
 * (see key-seal.ts). It is derived, never stored: from an operator passphrase or from a key file,
 * always through scrypt with a per-installation salt, so the same secret on two installations gives
 * two unrelated master keys.
 */

export class MasterKeyError extends Error {
  override readonly name = 'MasterKeyError';
}

const MASTER_KEY_BYTES = 32;
const MIN_SALT_BYTES = 16;
/** A key file is a few dozen bytes; anything much larger is the wrong file. */
const MAX_KEY_FILE_BYTES = 4096;

/**
 * Passphrases are low-entropy, so they get expensive scrypt (RFC 7914 §2: N=2^17, r=8, p=1 costs
 * 128 MiB and ~0.3 s here). scrypt needs 128·N·r bytes, above Node's 32 MiB default maxmem.
 */
const PASSPHRASE_SCRYPT: ScryptOptions = { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 };
/** A key file already holds ≥ 256 random bits: scrypt here only binds the salt, so it may be cheap. */
const KEY_FILE_SCRYPT: ScryptOptions = { N: 2 ** 10, r: 8, p: 1 };

const KEY_ID_LABEL = 'sealpost master key id v1';

function deriveKey(secret: Buffer, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, MASTER_KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function checkSalt(salt: Buffer): void {
  if (salt.length < MIN_SALT_BYTES) {
    throw new MasterKeyError(
      `master key salt is ${salt.length} bytes; use at least ${MIN_SALT_BYTES} random bytes stored with the installation`,
    );
  }
}

export class MasterKey {
  /** 16 hex digits that name this master key (an HMAC of a constant, so it reveals nothing of the key). */
  readonly keyId: string;
  private destroyed = false;

  private constructor(private readonly key: Buffer) {
    this.keyId = createHmac('sha256', key).update(KEY_ID_LABEL).digest().subarray(0, 8).toString('hex');
  }

  static async fromPassphrase(passphrase: string, salt: Buffer): Promise<MasterKey> {
    checkSalt(salt);
    if (passphrase.length === 0) throw new MasterKeyError('master key passphrase is empty; set a passphrase');
    const secret = Buffer.from(passphrase.normalize('NFC'), 'utf8');
    try {
      return new MasterKey(await deriveKey(secret, salt, PASSPHRASE_SCRYPT));
    } finally {
      secret.fill(0);
    }
  }

  static async fromKeyFile(path: string, salt: Buffer): Promise<MasterKey> {
    checkSalt(salt);
    let content: Buffer;
    try {
      content = await readFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new MasterKeyError(
        `cannot read master key file ${path} (${code}); check the path and permissions`,
      );
    }
    const secret = decodeKeyFile(content);
    content.fill(0);
    if (secret.length < MASTER_KEY_BYTES) {
      secret.fill(0);
      throw new MasterKeyError(
        `master key file ${path} holds ${secret.length} key bytes; it needs at least ${MASTER_KEY_BYTES} random bytes (create one with generateKeyFile)`,
      );
    }
    try {
      return new MasterKey(await deriveKey(secret, salt, KEY_FILE_SCRYPT));
    } finally {
      secret.fill(0);
    }
  }

  /** Write 32 fresh random bytes, base64, readable by the owner only. Never overwrites a file. */
  static async generateKeyFile(path: string): Promise<void> {
    const secret = randomBytes(MASTER_KEY_BYTES);
    const text = Buffer.from(secret.toString('base64') + '\n', 'utf8');
    secret.fill(0);
    let handle;
    try {
      // 'wx' = O_CREAT|O_EXCL: fails if the file exists, so an existing key is never destroyed.
      handle = await open(path, 'wx', 0o600);
    } catch (err) {
      text.fill(0);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        throw new MasterKeyError(
          `refusing to overwrite existing master key file ${path}; move it away first`,
        );
      }
      throw new MasterKeyError(`cannot create master key file ${path} (${code ?? 'error'})`);
    }
    try {
      await handle.writeFile(text);
      await handle.chmod(0o600); // in case the umask or file system widened the creation mode
      await handle.sync();
    } finally {
      text.fill(0);
      await handle.close();
    }
  }

  /** Zero the key bytes; the object is unusable afterwards. */
  destroy(): void {
    this.key.fill(0);
    this.destroyed = true;
  }

  /**
   * @internal For key-seal.ts only: run `use` with the raw key bytes, which must not be kept.
   */
  withKeyBytes<T>(use: (key: Buffer) => T): T {
    if (this.destroyed) throw new MasterKeyError('master key was destroyed; derive it again');
    return use(this.key);
  }
}

/**
 * A key file holds raw random bytes or their base64 or hex text. Hex is tried first because every hex
 * string is also valid base64; 64+ hex digits are far too structured to be raw random bytes.
 */
function decodeKeyFile(content: Buffer): Buffer {
  if (content.length > MAX_KEY_FILE_BYTES) {
    throw new MasterKeyError(
      `master key file is ${content.length} bytes; expected a short file with 32 random bytes (raw, base64 or hex)`,
    );
  }
  const text = content.toString('latin1').trim();
  if (/^(?:[0-9a-fA-F]{2}){32,}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43,}={0,2}$/.test(text)) return Buffer.from(text, 'base64');
  return Buffer.from(content);
}
