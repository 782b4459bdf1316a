import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterKey, MasterKeyError } from '../../src/crypto/master-key.js';

const execFileAsync = promisify(execFile);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-master-key-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const salt = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');

/** OpenSSL as the independent oracle for the documented derivation: scrypt, then keyId = HMAC prefix. */
async function opensslKeyId(secret: Buffer, scryptN: number): Promise<string> {
  const kdf = await execFileAsync('openssl', [
    'kdf',
    '-keylen',
    '32',
    '-kdfopt',
    `hexpass:${secret.toString('hex')}`,
    '-kdfopt',
    `hexsalt:${salt.toString('hex')}`,
    '-kdfopt',
    `n:${scryptN}`,
    '-kdfopt',
    'r:8',
    '-kdfopt',
    'p:1',
    '-kdfopt',
    'maxmem_bytes:268435456',
    'SCRYPT',
  ]);
  const key = kdf.stdout.trim().replace(/:/g, '');
  const labelFile = join(dir, 'label');
  await writeFile(labelFile, 'sealpost master key id v1');
  const mac = await execFileAsync('openssl', [
    'mac',
    '-digest',
    'SHA256',
    '-macopt',
    `hexkey:${key}`,
    '-in',
    labelFile,
    'HMAC',
  ]);
  return mac.stdout.trim().toLowerCase().slice(0, 16);
}

describe('MasterKey.fromPassphrase', () => {
  it('derives with scrypt N=2^17, r=8, p=1 exactly as OpenSSL computes it', async () => {
    const master = await MasterKey.fromPassphrase('correct horse battery staple', salt);
    expect(master.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(master.keyId).toBe(await opensslKeyId(Buffer.from('correct horse battery staple'), 2 ** 17));
  });

  it('gives another key for another salt or passphrase', async () => {
    const [a, b, c] = await Promise.all([
      MasterKey.fromPassphrase('passphrase one', salt),
      MasterKey.fromPassphrase('passphrase one', Buffer.alloc(16, 7)),
      MasterKey.fromPassphrase('passphrase two', salt),
    ]);
    expect(new Set([a.keyId, b.keyId, c.keyId]).size).toBe(3);
  });

  it('refuses a short salt and an empty passphrase', async () => {
    await expect(MasterKey.fromPassphrase('x', Buffer.alloc(8))).rejects.toThrow(/salt is 8 bytes/);
    await expect(MasterKey.fromPassphrase('', salt)).rejects.toThrow(MasterKeyError);
  });
});

describe('MasterKey key files', () => {
  it('generates a base64 key file readable by its owner only', async () => {
    const path = join(dir, 'generated.key');
    await MasterKey.generateKeyFile(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const text = (await readFile(path, 'utf8')).trim();
    expect(Buffer.from(text, 'base64')).toHaveLength(32);
    const master = await MasterKey.fromKeyFile(path, salt);
    expect(master.keyId).toBe(await opensslKeyId(Buffer.from(text, 'base64'), 2 ** 10));
    expect((await MasterKey.fromKeyFile(path, salt)).keyId).toBe(master.keyId);
  });

  it('refuses to overwrite an existing key file', async () => {
    const path = join(dir, 'existing.key');
    await MasterKey.generateKeyFile(path);
    const before = await readFile(path);
    await expect(MasterKey.generateKeyFile(path)).rejects.toThrow(
      /refusing to overwrite existing master key file/,
    );
    expect(await readFile(path)).toEqual(before);
  });

  it('reads the same secret as raw bytes, base64 or hex text', async () => {
    const secret = Buffer.from('9f'.repeat(8) + '1c'.repeat(8) + 'e0'.repeat(8) + '42'.repeat(8), 'hex');
    const forms = {
      raw: secret,
      base64: secret.toString('base64') + '\n',
      hex: secret.toString('hex') + '\n',
    };
    const ids = await Promise.all(
      Object.entries(forms).map(async ([name, content]) => {
        const path = join(dir, `form-${name}.key`);
        await writeFile(path, content, { mode: 0o600 });
        return (await MasterKey.fromKeyFile(path, salt)).keyId;
      }),
    );
    expect(new Set(ids).size).toBe(1);
  });

  it('refuses a key file with fewer than 32 key bytes, and a missing file', async () => {
    const path = join(dir, 'short.key');
    await writeFile(path, Buffer.alloc(16, 1).toString('base64'));
    await expect(MasterKey.fromKeyFile(path, salt)).rejects.toThrow(/needs at least 32 random bytes/);
    await expect(MasterKey.fromKeyFile(join(dir, 'absent.key'), salt)).rejects.toThrow(
      /cannot read master key file .*absent\.key \(ENOENT\)/,
    );
  });
});

describe('MasterKey.destroy', () => {
  it('zeroes the key bytes and makes the key unusable', async () => {
    const path = join(dir, 'destroy.key');
    await MasterKey.generateKeyFile(path);
    const master = await MasterKey.fromKeyFile(path, salt);
    const bytes = master.withKeyBytes((key) => key);
    expect(bytes.some((b) => b !== 0)).toBe(true);
    master.destroy();
    expect(bytes.every((b) => b === 0)).toBe(true);
    expect(() => master.withKeyBytes(() => 0)).toThrow(/master key was destroyed/);
  });
});
