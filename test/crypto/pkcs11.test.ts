import { execFile } from 'node:child_process';
import { constants, createHash, createPublicKey, verify } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HashAlgorithm, KeyAlgorithm } from '../../src/crypto/key-handle.js';
import { defaultHashFor, isRsa } from '../../src/crypto/key-handle.js';
import { Pkcs11Token, Pkcs11TokenError, type Pkcs11Key } from '../../src/crypto/pkcs11.js';
import { createSoftHsmToken, softHsmSkipReason, type SoftHsmToken } from '../helpers/softhsm.js';

const execFileAsync = promisify(execFile);
const skipReason = softHsmSkipReason();

const ALGORITHMS: KeyAlgorithm[] = ['rsa-2048', 'rsa-3072', 'rsa-4096', 'ec-p256', 'ec-p384', 'ed25519'];
const SALT_LENGTH: Record<HashAlgorithm, number> = { sha256: 32, sha384: 48, sha512: 64 };

let hsm: SoftHsmToken;
let token: Pkcs11Token;
let work: string;
const keys = new Map<KeyAlgorithm, Pkcs11Key>();

function pem(spki: Buffer): string {
  const lines = spki.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`;
}

/**
 * OpenSSL checks a signature against the SPKI we exported (written as PEM by us, parsed by OpenSSL).
 * `over` says whether the signature covers the message (sign) or a precomputed digest (signDigest).
 */
async function opensslVerifies(
  key: Pkcs11Key,
  over: { message: Buffer } | { digest: Buffer },
  signature: Buffer,
  hash: HashAlgorithm,
  pss = false,
): Promise<boolean> {
  const dir = await mkdtemp(join(work, 'ossl-'));
  try {
    await writeFile(join(dir, 'pub.pem'), pem(key.spki));
    await writeFile(join(dir, 'sig.bin'), signature);
    const input = join(dir, 'input.bin');
    const pssOptions = (flag: string) =>
      pss ? [flag, 'rsa_padding_mode:pss', flag, `rsa_pss_saltlen:${SALT_LENGTH[hash]}`] : [];
    let args: string[];
    if ('message' in over && key.algorithm === 'ed25519') {
      await writeFile(input, over.message);
      args = [
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        'pub.pem',
        '-rawin',
        '-in',
        input,
        '-sigfile',
        'sig.bin',
      ];
    } else if ('message' in over) {
      await writeFile(input, over.message);
      args = [
        'dgst',
        `-${hash}`,
        '-verify',
        'pub.pem',
        ...pssOptions('-sigopt'),
        '-signature',
        'sig.bin',
        input,
      ];
    } else {
      await writeFile(input, over.digest);
      const digestOption = isRsa(key.algorithm) ? ['-pkeyopt', `digest:${hash}`] : [];
      args = ['pkeyutl', '-verify', '-pubin', '-inkey', 'pub.pem', '-in', input, '-sigfile', 'sig.bin'];
      args.push(...digestOption, ...pssOptions('-pkeyopt'));
    }
    const result = await execFileAsync('openssl', args, { cwd: dir }).catch((err: { stdout?: string }) => ({
      stdout: err.stdout ?? '',
    }));
    return /Verified OK|Signature Verified Successfully/.test(result.stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function nodeVerifies(key: Pkcs11Key, message: Buffer, signature: Buffer, hash: HashAlgorithm, pss = false) {
  const publicKey = createPublicKey({ key: key.spki, format: 'der', type: 'spki' });
  if (key.algorithm === 'ed25519') return verify(null, message, publicKey, signature);
  const options = pss
    ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: SALT_LENGTH[hash] }
    : { key: publicKey, dsaEncoding: 'der' as const };
  return verify(hash, message, options, signature);
}

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof Pkcs11TokenError ? err.code : `untyped: ${String(err)}`;
  }
  return undefined;
}

describe.skipIf(skipReason !== undefined)('PKCS#11 keys on SoftHSM2', () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'sealpost-pkcs11-'));
    hsm = await createSoftHsmToken();
    token = Pkcs11Token.open(hsm.config);
    const usable = ALGORITHMS.filter((alg) => alg !== 'ed25519' || token.supportsAlgorithm(alg));
    if (usable.length < ALGORITHMS.length) console.warn('SoftHSM2 here has no Ed25519: skipping it');
    // All at once: generation runs on the thread pool through the session pool.
    const generated = await Promise.all(usable.map((alg) => token.generateKey(`key-${alg}`, alg)));
    for (const key of generated) keys.set(key.algorithm, key);
  });

  afterAll(async () => {
    token?.close();
    await hsm?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const message = Buffer.from('Sealpost account statement, June 2024\r\n');

  describe.each(ALGORITHMS)('%s', (algorithm) => {
    const keyFor = () => {
      const key = keys.get(algorithm);
      if (!key) throw new Error(`${algorithm} key was not generated`);
      return key;
    };

    it('exports an SPKI of the requested algorithm', ({ skip }) => {
      if (!keys.has(algorithm)) skip('not supported by this SoftHSM2');
      const key = keyFor();
      expect(key.backend).toBe('pkcs11');
      const publicKey = createPublicKey({ key: key.spki, format: 'der', type: 'spki' });
      const expectedType = isRsa(algorithm) ? 'rsa' : algorithm === 'ed25519' ? 'ed25519' : 'ec';
      expect(publicKey.asymmetricKeyType).toBe(expectedType);
      if (isRsa(algorithm))
        expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(Number(algorithm.slice(4)));
    });

    it('signs a message; node:crypto and OpenSSL verify it', async ({ skip }) => {
      if (!keys.has(algorithm)) skip('not supported by this SoftHSM2');
      const key = keyFor();
      const hash = defaultHashFor(algorithm);
      const signature = await key.sign(message, hash);
      expect(nodeVerifies(key, message, signature, hash)).toBe(true);
      expect(await opensslVerifies(key, { message }, signature, hash)).toBe(true);
      expect(nodeVerifies(key, Buffer.from('tampered'), signature, hash)).toBe(false);
    });

    it('signs a precomputed digest; node:crypto and OpenSSL verify it', async ({ skip }) => {
      if (!keys.has(algorithm)) skip('not supported by this SoftHSM2');
      const key = keyFor();
      if (algorithm === 'ed25519') {
        await expect(key.signDigest(Buffer.alloc(32), 'sha256')).rejects.toThrow(
          /Ed25519 signs whole messages/,
        );
        return;
      }
      for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
        const digest = createHash(hash).update(message).digest();
        const signature = await key.signDigest(digest, hash);
        expect(nodeVerifies(key, message, signature, hash)).toBe(true);
        expect(await opensslVerifies(key, { digest }, signature, hash)).toBe(true);
      }
    });
  });

  describe.each(ALGORITHMS.filter(isRsa))('%s with RSASSA-PSS', (algorithm) => {
    it('signs a message and a digest; node:crypto and OpenSSL verify both', async () => {
      const key = keys.get(algorithm)!;
      const hash = defaultHashFor(algorithm);
      const signature = await key.sign(message, hash, { pss: true });
      expect(nodeVerifies(key, message, signature, hash, true)).toBe(true);
      expect(await opensslVerifies(key, { message }, signature, hash, true)).toBe(true);
      const digest = createHash('sha512').update(message).digest();
      const fromDigest = await key.signDigest(digest, 'sha512', { pss: true });
      expect(nodeVerifies(key, message, fromDigest, 'sha512', true)).toBe(true);
      expect(await opensslVerifies(key, { digest }, fromDigest, 'sha512', true)).toBe(true);
    });
  });

  it('OpenSSL rejects a signature with one flipped bit (the oracle is not vacuous)', async () => {
    const key = keys.get('ec-p256')!;
    const signature = await key.sign(message, 'sha256');
    signature[signature.length - 1]! ^= 1;
    expect(await opensslVerifies(key, { message }, signature, 'sha256')).toBe(false);
  });

  it('serves many concurrent signatures through its session pool', async () => {
    const key = keys.get('ec-p256')!;
    const messages = Array.from({ length: 40 }, (_, i) => Buffer.from(`message ${i}`));
    const signatures = await Promise.all(messages.map((m) => key.sign(m, 'sha256')));
    messages.forEach((m, i) => expect(nodeVerifies(key, m, signatures[i]!, 'sha256')).toBe(true));
  });

  it('keeps private keys sensitive and not extractable', () => {
    // Ask the token directly, without our wrapper: the module is already initialised in this process.
    const lib = new pkcs11js.PKCS11();
    lib.load(hsm.config.module);
    try {
      lib.C_Initialize();
    } catch (err) {
      expect((err as Error).message).toMatch(/CKR_CRYPTOKI_ALREADY_INITIALIZED/);
    }
    const slot = lib
      .C_GetSlotList(true)
      .find((s) => lib.C_GetTokenInfo(s).label.trim() === hsm.config.tokenLabel);
    const session = lib.C_OpenSession(slot!, pkcs11js.CKF_SERIAL_SESSION);
    try {
      for (const [algorithm] of keys) {
        lib.C_FindObjectsInit(session, [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
          { type: pkcs11js.CKA_LABEL, value: `key-${algorithm}` },
        ]);
        const handle = lib.C_FindObjects(session);
        lib.C_FindObjectsFinal(session);
        expect(handle).not.toBeNull();
        const flags = lib.C_GetAttributeValue(session, handle!, [
          { type: pkcs11js.CKA_TOKEN },
          { type: pkcs11js.CKA_SENSITIVE },
          { type: pkcs11js.CKA_EXTRACTABLE },
        ]);
        expect(flags.map((a) => a.value[0])).toEqual([1, 1, 0]);
        const secret = isRsa(algorithm) ? pkcs11js.CKA_PRIVATE_EXPONENT : pkcs11js.CKA_VALUE;
        expect(() => lib.C_GetAttributeValue(session, handle!, [{ type: secret }])).toThrow(
          /CKR_ATTRIBUTE_SENSITIVE/,
        );
      }
    } finally {
      lib.C_CloseSession(session);
    }
  });

  it('lists its keys and finds them from a second token object opened alongside', async () => {
    expect(token.listKeys()).toEqual(
      [...keys.keys()]
        .map((algorithm) => ({ label: `key-${algorithm}`, algorithm }))
        .sort((a, b) => a.label.localeCompare(b.label)),
    );
    const second = Pkcs11Token.open(hsm.config);
    try {
      const found = second.findKey('key-rsa-2048');
      expect(found.spki).toEqual(keys.get('rsa-2048')!.spki);
      expect(found.algorithm).toBe('rsa-2048');
    } finally {
      second.close();
    }
    // Closing the second object must leave the first one logged in and working.
    expect(
      nodeVerifies(
        keys.get('ec-p384')!,
        message,
        await keys.get('ec-p384')!.sign(message, 'sha384'),
        'sha384',
      ),
    ).toBe(true);
  });

  it('rejects a wrong PIN even while the token is already logged in from this process', () => {
    expect(() => Pkcs11Token.open({ ...hsm.config, pin: '9999' })).toThrow(
      `PKCS#11 login failed for token ${hsm.config.tokenLabel}: wrong PIN`,
    );
  });

  it('explains a missing key, token, module, duplicate label and bad digest', async () => {
    expect(() => token.findKey('no-such-key')).toThrow(
      `no private key labelled "no-such-key" on PKCS#11 token "${hsm.config.tokenLabel}"`,
    );
    expect(errorCode(() => token.findKey('no-such-key'))).toBe('key-not-found');
    expect(() => Pkcs11Token.open({ ...hsm.config, tokenLabel: 'absent-token' })).toThrow(
      new RegExp(
        `PKCS#11 token "absent-token" not found in module .*tokens present: "${hsm.config.tokenLabel}"`,
      ),
    );
    expect(errorCode(() => Pkcs11Token.open({ ...hsm.config, module: '/nonexistent/libpkcs11.so' }))).toBe(
      'module-not-found',
    );
    await expect(token.generateKey('key-ec-p256', 'ec-p256')).rejects.toThrow(/already exists/);
    await expect(keys.get('ec-p256')!.signDigest(Buffer.alloc(20), 'sha256')).rejects.toThrow(
      /a sha256 digest is 32 bytes, got 20/,
    );
  });

  it('does not block the event loop while the token generates an RSA-4096 key', async () => {
    let last = performance.now();
    let maxGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 5);
    const started = performance.now();
    try {
      await token.generateKey('event-loop-check', 'rsa-4096');
    } finally {
      clearInterval(timer);
    }
    const took = performance.now() - started;
    // Only meaningful when generation is slow enough to have blocked noticeably.
    if (took > 250) expect(maxGap).toBeLessThan(took / 2);
  });

  it('after every handle is closed: fresh open finds the keys, wrong PIN is refused by the token', async () => {
    const original = keys.get('ec-p256')!;
    token.close();
    await expect(original.sign(message, 'sha256')).rejects.toThrow(/was closed/);
    // The module was finalised with the last close, so this login is checked by SoftHSM2 itself.
    expect(() => Pkcs11Token.open({ ...hsm.config, pin: '0000' })).toThrow(
      `PKCS#11 login failed for token ${hsm.config.tokenLabel}: wrong PIN`,
    );
    token = Pkcs11Token.open(hsm.config);
    for (const [algorithm, key] of keys) {
      const found = token.findKey(`key-${algorithm}`);
      expect(found.algorithm).toBe(algorithm);
      expect(found.spki).toEqual(key.spki);
      const hash = defaultHashFor(algorithm);
      const signature = await found.sign(message, hash);
      expect(nodeVerifies(key, message, signature, hash)).toBe(true);
    }
  });
});
