/**
 * Decryption with a private key that stays on a PKCS#11 token: a RecipientDecryptor (CMS, and through
 * it PDF public-key encryption) doing RSA PKCS#1 v1.5 with CKM_RSA_PKCS and ECDH with CKM_ECDH1_DERIVE.
 *
 * Pkcs11Token (pkcs11.ts) only signs, and its keys are generated for signing; decryption keys are
 * usually escrowed encryption keys imported into the token (e.g. `softhsm2-util --import`), with
 * CKA_DECRYPT / CKA_DERIVE set. This module opens its own session on the same module. It shares the
 * process-wide C_Initialize and login with Pkcs11Token (CKR_CRYPTOKI_ALREADY_INITIALIZED and
 * CKR_USER_ALREADY_LOGGED_IN are accepted) and finalises the module only if it initialised it and
 * nothing else did; close() decryptors before closing tokens of the same module.
 *
 * Padding failures never surface (RFC 3218 §2.3): a ciphertext the token rejects for its padding or a
 * result of the wrong length yields a random key of the expected length, so the content decryption
 * fails exactly as it does for a wrong key.
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import pkcs11js from 'pkcs11js';
import type { RecipientDecryptor } from '../pkix/cms/recipients.js';
import { Pkcs11TokenError } from './pkcs11.js';
import type { Pkcs11Config } from './pkcs11.js';

type Handle = Buffer;

/**
 * Token answers that mean "this ciphertext does not decrypt": turned into a random key, never an error.
 * SoftHSM2 reports a bad PKCS#1 padding as CKR_GENERAL_ERROR, so that must be one of them too.
 */
const PADDING_FAILURES = new Set([
  'CKR_GENERAL_ERROR',
  'CKR_ENCRYPTED_DATA_INVALID',
  'CKR_ENCRYPTED_DATA_LEN_RANGE',
  'CKR_DATA_INVALID',
  'CKR_DATA_LEN_RANGE',
  'CKR_BUFFER_TOO_SMALL',
]);

const codeOf = (err: unknown): string | undefined =>
  /^CKR_[A-Z0-9_]+/.exec((err as Error | undefined)?.message ?? '')?.[0];

interface SharedModule {
  lib: pkcs11js.PKCS11;
  users: number;
  /** Whether we called C_Initialize (else a Pkcs11Token or another library did, and finalises it). */
  owns: boolean;
}
/** One loaded module per path for all decryptors, so that closing one does not finalise the others. */
const modules = new Map<string, SharedModule>();

function acquire(modulePath: string): { path: string; mod: SharedModule } {
  let path: string;
  try {
    path = realpathSync(modulePath);
  } catch {
    throw new Pkcs11TokenError(`PKCS#11 module not found at ${modulePath}`, 'module-not-found');
  }
  let mod = modules.get(path);
  if (!mod) {
    const lib = new pkcs11js.PKCS11();
    try {
      lib.load(path);
    } catch (e) {
      throw new Pkcs11TokenError(
        `cannot load PKCS#11 module ${path}: ${(e as Error).message}`,
        'module-load-failed',
      );
    }
    mod = { lib, users: 0, owns: false };
    modules.set(path, mod);
  }
  if (mod.users === 0) {
    try {
      mod.lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
      mod.owns = true;
    } catch (e) {
      if (codeOf(e) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED')
        throw new Pkcs11TokenError(
          `PKCS#11 module ${path} failed to initialise: ${(e as Error).message}`,
          'module-load-failed',
        );
      mod.owns = false;
    }
  }
  mod.users++;
  return { path, mod };
}

function release(mod: SharedModule): void {
  if (--mod.users === 0 && mod.owns) {
    mod.owns = false;
    mod.lib.C_Finalize();
  }
}

/** CKM_RSA_PKCS output buffer: the largest RSA modulus we support (4096 bits). */
const RSA_OUTPUT_BYTES = 512;

export class Pkcs11Decryptor implements RecipientDecryptor {
  private closed = false;
  /** One operation at a time: a PKCS#11 session is not safe for concurrent use. */
  private queue: Promise<unknown> = Promise.resolve();

  private readonly lib: pkcs11js.PKCS11;

  private constructor(
    private readonly mod: SharedModule,
    private readonly session: Handle,
    private readonly key: Handle,
    readonly tokenLabel: string,
    readonly keyLabel: string,
  ) {
    this.lib = mod.lib;
  }

  /** Open a session on the token labelled config.tokenLabel, log in, and find the private key `keyLabel`. */
  static open(config: Pkcs11Config, keyLabel: string): Pkcs11Decryptor {
    const { path, mod } = acquire(config.module);
    const lib = mod.lib;
    let session: Handle | undefined;
    try {
      const slot = lib
        .C_GetSlotList(true)
        .find((s) => lib.C_GetTokenInfo(s).label.replace(/ +$/, '') === config.tokenLabel);
      if (!slot)
        throw new Pkcs11TokenError(
          `PKCS#11 token "${config.tokenLabel}" not found in ${path}`,
          'token-not-found',
        );
      session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      try {
        lib.C_Login(session, pkcs11js.CKU_USER, config.pin);
      } catch (e) {
        const code = codeOf(e);
        if (code === 'CKR_PIN_INCORRECT' || code === 'CKR_PIN_LEN_RANGE')
          throw new Pkcs11TokenError(
            `PKCS#11 login failed for token ${config.tokenLabel}: wrong PIN`,
            'wrong-pin',
          );
        if (code !== 'CKR_USER_ALREADY_LOGGED_IN')
          throw new Pkcs11TokenError(
            `PKCS#11 login failed for token ${config.tokenLabel}: ${code ?? (e as Error).message}`,
            'login-failed',
          );
      }
      lib.C_FindObjectsInit(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_LABEL, value: keyLabel },
      ]);
      const found = lib.C_FindObjects(session, 2);
      lib.C_FindObjectsFinal(session);
      if (found.length !== 1)
        throw new Pkcs11TokenError(
          found.length === 0
            ? `no private key labelled "${keyLabel}" on PKCS#11 token "${config.tokenLabel}"`
            : `several private keys are labelled "${keyLabel}" on PKCS#11 token "${config.tokenLabel}"; give them unique labels`,
          found.length === 0 ? 'key-not-found' : 'key-exists',
        );
      return new Pkcs11Decryptor(mod, session, found[0]!, config.tokenLabel, keyLabel);
    } catch (e) {
      if (session) lib.C_CloseSession(session);
      release(mod);
      if (e instanceof Pkcs11TokenError) throw e;
      throw new Pkcs11TokenError(
        `PKCS#11 token "${config.tokenLabel}": ${(e as Error).message}`,
        'token-error',
      );
    }
  }

  /** RSA PKCS#1 v1.5 decryption in the token; a padding failure gives a random key (see the header). */
  rsaPkcs1v15(encryptedKey: Buffer, keyLength: number): Promise<Buffer> {
    return this.serial(async () => {
      let out: Buffer;
      try {
        this.lib.C_DecryptInit(this.session, { mechanism: pkcs11js.CKM_RSA_PKCS }, this.key);
        out = Buffer.from(
          await this.lib.C_DecryptAsync(this.session, encryptedKey, Buffer.alloc(RSA_OUTPUT_BYTES)),
        );
      } catch (e) {
        if (PADDING_FAILURES.has(codeOf(e) ?? '')) return randomBytes(keyLength);
        throw this.failure(e, 'decrypting');
      }
      return out.length === keyLength ? out : randomBytes(keyLength);
    });
  }

  /** The raw ECDH shared secret Z (CKM_ECDH1_DERIVE with CKD_NULL), read back from a session object. */
  deriveSharedSecret(peerSpki: Buffer): Promise<Buffer> {
    return this.serial(async () => {
      const jwk = createPublicKey({ key: peerSpki, format: 'der', type: 'spki' }).export({ format: 'jwk' });
      if (jwk.kty !== 'EC' || !jwk.x || !jwk.y)
        throw new Pkcs11TokenError('the peer key is not an EC key', 'invalid-argument');
      const x = Buffer.from(jwk.x, 'base64url');
      const point = Buffer.concat([Buffer.from([0x04]), x, Buffer.from(jwk.y, 'base64url')]);
      let secret: Handle;
      try {
        secret = this.lib.C_DeriveKey(
          this.session,
          {
            mechanism: pkcs11js.CKM_ECDH1_DERIVE,
            parameter: {
              type: pkcs11js.CK_PARAMS_EC_DH,
              kdf: pkcs11js.CKD_NULL,
              publicData: point,
            } as pkcs11js.ECDH1,
          },
          this.key,
          [
            { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
            { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
            { type: pkcs11js.CKA_TOKEN, value: false },
            { type: pkcs11js.CKA_SENSITIVE, value: false },
            { type: pkcs11js.CKA_EXTRACTABLE, value: true },
            { type: pkcs11js.CKA_VALUE_LEN, value: x.length },
          ],
        );
      } catch (e) {
        throw this.failure(e, 'deriving an ECDH secret');
      }
      try {
        const [attr] = this.lib.C_GetAttributeValue(this.session, secret, [{ type: pkcs11js.CKA_VALUE }]);
        return Buffer.from(attr?.value as Buffer);
      } finally {
        this.lib.C_DestroyObject(this.session, secret);
      }
    });
  }

  /** Close the session; the last decryptor of a module finalises it if we initialised it. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.lib.C_CloseSession(this.session);
    } finally {
      release(this.mod);
    }
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    if (this.closed)
      return Promise.reject(
        new Pkcs11TokenError(`PKCS#11 decryptor for "${this.keyLabel}" is closed`, 'closed'),
      );
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private failure(e: unknown, doing: string): Pkcs11TokenError {
    return new Pkcs11TokenError(
      `PKCS#11 token "${this.tokenLabel}" failed ${doing} with key "${this.keyLabel}": ${codeOf(e) ?? (e as Error).message}`,
      'token-error',
    );
  }
}
