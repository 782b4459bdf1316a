import {
  createHash,
  createHmac,
  createPublicKey,
  randomBytes,
  timingSafeEqual,
  type JsonWebKey,
} from 'node:crypto';
import { realpathSync } from 'node:fs';
import { endianness } from 'node:os';
import pkcs11js from 'pkcs11js';
import type { HashAlgorithm, KeyAlgorithm, KeyHandle, SignOptions } from './key-handle.js';
import { isRsa } from './key-handle.js';
import { digestInfo, ecdsaCompactToDer } from './software-key.js';

/**
 * Keys held in a PKCS#11 token (an HSM, or SoftHSM2 in tests). Private keys are generated on the token
 * as non-extractable, sensitive token objects and never leave it; we only ask the token to sign.
 *
 * Process model (PKCS#11 v2.40 §5.4, §11.4):
 * - A module is C_Initialize'd once per process and shared by every Pkcs11Token that uses it; the last
 *   token to close calls C_Finalize, so a later open sees tokens created in the meantime (SoftHSM2 reads
 *   its token directory only at C_Initialize, and reads SOFTHSM2_CONF then too).
 * - Login state belongs to the application, not to a session: the first open logs in, later opens of
 *   the same token in this process get CKR_USER_ALREADY_LOGGED_IN, so their PIN is checked against the
 *   PIN that logged in.
 * - A session is not safe for concurrent use. Blocking calls (key generation, signing) run through the
 *   async forms of pkcs11js on libuv's thread pool, each on a session borrowed exclusively from a small
 *   pool. Quick look-ups run synchronously on one admin session that nothing async ever touches.
 */

export interface Pkcs11Config {
  /** Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  module: string;
  tokenLabel: string;
  pin: string;
  /** Sessions used for signing and key generation at the same time (default 4). */
  sessions?: number;
}

export type Pkcs11ErrorCode =
  | 'module-not-found'
  | 'module-load-failed'
  | 'token-not-found'
  | 'wrong-pin'
  | 'pin-locked'
  | 'login-failed'
  | 'key-not-found'
  | 'key-exists'
  | 'unsupported'
  | 'invalid-argument'
  | 'closed'
  | 'token-error';

export class Pkcs11TokenError extends Error {
  override readonly name = 'Pkcs11TokenError';
  constructor(
    message: string,
    readonly code: Pkcs11ErrorCode,
  ) {
    super(message);
  }
}

type Handle = Buffer;
type Mechanism = pkcs11js.Mechanism;
type Template = pkcs11js.Template;

// PKCS#11 3.0 §2.3.5–6 (not in pkcs11js's 2.40 constant table).
const CKK_EC_EDWARDS = 0x40;
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const CKM_EDDSA = 0x1057;

const DEFAULT_SESSIONS = 4;
const MAX_LABEL_LENGTH = 128;
/** Large enough for every signature we make (RSA-4096 is 512 bytes). */
const SIGNATURE_BUFFER_BYTES = 512;

interface CurveInfo {
  algorithm: KeyAlgorithm;
  /** DER OID of the curve as CKA_EC_PARAMS carries it. */
  params: Buffer;
  /** Other encodings of the same curve a token may return (SoftHSM2 names Ed25519 by string on private keys). */
  aliases: Buffer[];
  /** Length of the raw public point: 0x04||X||Y for NIST curves, 32 bytes for Ed25519. */
  pointBytes: number;
  jwkCurve: string;
}

const CURVES: readonly CurveInfo[] = [
  {
    algorithm: 'ec-p256',
    params: Buffer.from('06082a8648ce3d030107', 'hex'),
    aliases: [],
    pointBytes: 65,
    jwkCurve: 'P-256',
  },
  {
    algorithm: 'ec-p384',
    params: Buffer.from('06052b81040022', 'hex'),
    aliases: [],
    pointBytes: 97,
    jwkCurve: 'P-384',
  },
  {
    algorithm: 'ed25519',
    params: Buffer.from('06032b6570', 'hex'), // id-Ed25519, RFC 8410 §3
    aliases: [Buffer.concat([Buffer.from([0x13, 12]), Buffer.from('edwards25519', 'latin1')])],
    pointBytes: 32,
    jwkCurve: 'Ed25519',
  },
];

const HASH_MECHANISM: Record<HashAlgorithm, { hash: number; mgf: number; bytes: number }> = {
  sha256: { hash: pkcs11js.CKM_SHA256, mgf: pkcs11js.CKG_MGF1_SHA256, bytes: 32 },
  sha384: { hash: pkcs11js.CKM_SHA384, mgf: pkcs11js.CKG_MGF1_SHA384, bytes: 48 },
  sha512: { hash: pkcs11js.CKM_SHA512, mgf: pkcs11js.CKG_MGF1_SHA512, bytes: 64 },
};

// ---------------------------------------------------------------------------------------------
// Shared module state
// ---------------------------------------------------------------------------------------------

interface LoginRecord {
  pinCheck: Buffer;
  tokens: number;
}

interface LoadedModule {
  readonly lib: pkcs11js.PKCS11;
  readonly path: string;
  users: number;
  initialized: boolean;
  /** False when someone else in the process initialised the module: then we never finalise it. */
  ownsInitialization: boolean;
  /** Per slot (hex of the slot id): who is logged in from this process. */
  readonly logins: Map<string, LoginRecord>;
}

/**
 * Loaded modules stay loaded (never dlclose'd: libraries such as SoftHSM2 register exit handlers that
 * would then point into unmapped code); only C_Initialize/C_Finalize follow the number of users.
 */
const modules = new Map<string, LoadedModule>();
/** Process-local key so PINs are only ever kept as an HMAC. */
const PIN_CHECK_KEY = randomBytes(32);

function pinCheck(pin: string): Buffer {
  return createHmac('sha256', PIN_CHECK_KEY).update(pin, 'utf8').digest();
}

function pkcs11Code(err: unknown): string | undefined {
  const message = (err as Error | undefined)?.message ?? '';
  return /^CKR_[A-Z0-9_]+/.exec(message)?.[0];
}

function acquireModule(modulePath: string): LoadedModule {
  let path: string;
  try {
    path = realpathSync(modulePath);
  } catch {
    throw new Pkcs11TokenError(
      `PKCS#11 module not found at ${modulePath}; install the HSM vendor's library or fix the module path (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so)`,
      'module-not-found',
    );
  }
  let mod = modules.get(path);
  if (!mod) {
    const lib = new pkcs11js.PKCS11();
    try {
      lib.load(path);
    } catch (err) {
      throw new Pkcs11TokenError(
        `cannot load PKCS#11 module ${path}: ${(err as Error).message}; is it a PKCS#11 library for this platform?`,
        'module-load-failed',
      );
    }
    mod = { lib, path, users: 0, initialized: false, ownsInitialization: false, logins: new Map() };
    modules.set(path, mod);
  }
  if (!mod.initialized) {
    try {
      // CKF_OS_LOCKING_OK: we call the module from several libuv threads (§5.4, CK_C_INITIALIZE_ARGS).
      mod.lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
      mod.ownsInitialization = true;
    } catch (err) {
      if (pkcs11Code(err) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
        throw new Pkcs11TokenError(
          `PKCS#11 module ${path} failed to initialise: ${(err as Error).message}; check its configuration (SoftHSM2: SOFTHSM2_CONF)`,
          'module-load-failed',
        );
      }
      mod.ownsInitialization = false;
    }
    mod.initialized = true;
  }
  mod.users++;
  return mod;
}

function releaseModule(mod: LoadedModule): void {
  mod.users--;
  if (mod.users > 0 || !mod.initialized) return;
  mod.logins.clear();
  mod.initialized = false;
  if (mod.ownsInitialization) mod.lib.C_Finalize();
}

// ---------------------------------------------------------------------------------------------
// Session pool
// ---------------------------------------------------------------------------------------------

/** Lends sessions out one caller at a time; opens up to `max` of them on demand. */
class SessionPool {
  private readonly idle: Handle[] = [];
  private readonly waiting: { resolve: (s: Handle) => void; reject: (e: Error) => void }[] = [];
  private opened = 0;
  private closing = false;

  constructor(
    private readonly openSession: () => Handle,
    private readonly closeSession: (s: Handle) => void,
    private readonly max: number,
    private readonly closedError: () => Error,
    private readonly onDrained: () => void,
  ) {}

  async run<T>(use: (session: Handle) => Promise<T>): Promise<T> {
    const session = await this.acquire();
    try {
      return await use(session);
    } finally {
      this.release(session);
    }
  }

  /** Refuse new work, close idle sessions now and busy ones when they come back. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(this.closedError());
    for (const session of this.idle.splice(0)) this.retire(session);
    if (this.opened === 0) this.onDrained();
  }

  private acquire(): Promise<Handle> {
    if (this.closing) return Promise.reject(this.closedError());
    const session = this.idle.pop();
    if (session) return Promise.resolve(session);
    if (this.opened < this.max) {
      const fresh = this.openSession();
      this.opened++;
      return Promise.resolve(fresh);
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(session: Handle): void {
    if (this.closing) {
      this.retire(session);
      if (this.opened === 0) this.onDrained();
      return;
    }
    const next = this.waiting.shift();
    if (next) next.resolve(session);
    else this.idle.push(session);
  }

  private retire(session: Handle): void {
    this.opened--;
    this.closeSession(session);
  }
}

// ---------------------------------------------------------------------------------------------
// Attribute helpers
// ---------------------------------------------------------------------------------------------

/** CK_ULONG attributes come back in host byte order, 4 or 8 bytes wide. */
function readUlong(value: Buffer): number {
  const le = endianness() === 'LE';
  if (value.length === 8) return Number(le ? value.readBigUInt64LE() : value.readBigUInt64BE());
  if (value.length === 4) return le ? value.readUInt32LE() : value.readUInt32BE();
  throw new Pkcs11TokenError(`unexpected CK_ULONG of ${value.length} bytes from the token`, 'token-error');
}

function stripLeadingZeros(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

function bitLength(unsigned: Buffer): number {
  const v = stripLeadingZeros(unsigned);
  const top = v[0] ?? 0;
  return top === 0 ? 0 : (v.length - 1) * 8 + (32 - Math.clz32(top));
}

function curveByParams(params: Buffer): CurveInfo | undefined {
  return CURVES.find((c) => c.params.equals(params) || c.aliases.some((a) => a.equals(params)));
}

function curveOf(algorithm: KeyAlgorithm): CurveInfo {
  const curve = CURVES.find((c) => c.algorithm === algorithm);
  if (!curve)
    throw new Pkcs11TokenError(`${algorithm} is not an elliptic-curve algorithm`, 'invalid-argument');
  return curve;
}

function rsaAlgorithm(modulus: Buffer): KeyAlgorithm | undefined {
  const bits = bitLength(modulus);
  return bits === 2048 || bits === 3072 || bits === 4096 ? `rsa-${bits}` : undefined;
}

/**
 * CKA_EC_POINT is a DER OCTET STRING around the point (PKCS#11 v2.40 §2.3.3), but some tokens return
 * the bare point; accept both, knowing the point's length for the curve.
 */
function unwrapEcPoint(value: Buffer, curve: CurveInfo): Buffer {
  if (value.length === curve.pointBytes) return value;
  const shortForm = value[1] ?? 0;
  const [headerBytes, length] =
    shortForm < 0x80 ? [2, shortForm] : shortForm === 0x81 ? [3, value[2] ?? 0] : [0, -1];
  if (value[0] === 0x04 && length === curve.pointBytes && value.length === headerBytes + length) {
    return value.subarray(headerBytes);
  }
  throw new Pkcs11TokenError(
    `token returned a ${curve.jwkCurve} public point of ${value.length} bytes in an unknown form`,
    'token-error',
  );
}

function spkiFromJwk(jwk: JsonWebKey): Buffer {
  return createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' });
}

function rsaSpki(modulus: Buffer, exponent: Buffer): Buffer {
  return spkiFromJwk({
    kty: 'RSA',
    n: stripLeadingZeros(modulus).toString('base64url'),
    e: stripLeadingZeros(exponent).toString('base64url'),
  });
}

function ecSpki(curve: CurveInfo, point: Buffer): Buffer {
  if (curve.algorithm === 'ed25519') {
    return spkiFromJwk({ kty: 'OKP', crv: 'Ed25519', x: point.toString('base64url') });
  }
  if (point[0] !== 0x04) {
    throw new Pkcs11TokenError(
      `token returned a compressed ${curve.jwkCurve} point; expected uncompressed`,
      'token-error',
    );
  }
  const half = (point.length - 1) / 2;
  return spkiFromJwk({
    kty: 'EC',
    crv: curve.jwkCurve,
    x: point.subarray(1, 1 + half).toString('base64url'),
    y: point.subarray(1 + half).toString('base64url'),
  });
}

// ---------------------------------------------------------------------------------------------
// Token
// ---------------------------------------------------------------------------------------------

export interface Pkcs11KeyInfo {
  label: string;
  algorithm: KeyAlgorithm;
}

export class Pkcs11Token {
  private closed = false;
  private readonly pool: SessionPool;
  /** Labels being generated right now, so two concurrent generateKey calls cannot create twins. */
  private readonly generating = new Set<string>();

  private constructor(
    private readonly mod: LoadedModule,
    private readonly slot: Handle,
    /** Used only by synchronous calls, so it is never in use by two operations at once. */
    private readonly adminSession: Handle,
    readonly tokenLabel: string,
    sessions: number,
  ) {
    const lib = mod.lib;
    this.pool = new SessionPool(
      () => lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION),
      (s) => closeQuietly(mod, s),
      sessions,
      () => this.closedError(),
      () => this.release(),
    );
  }

  /** Load (once per process) the module, find the token by label, open a session and log in as USER. */
  static open(config: Pkcs11Config): Pkcs11Token {
    const sessions = config.sessions ?? DEFAULT_SESSIONS;
    if (!config.tokenLabel) throw new Pkcs11TokenError('PKCS#11 token label is empty', 'invalid-argument');
    if (!Number.isInteger(sessions) || sessions < 1 || sessions > 64) {
      throw new Pkcs11TokenError(`PKCS#11 session count ${sessions} must be 1 to 64`, 'invalid-argument');
    }
    const mod = acquireModule(config.module);
    let session: Handle | undefined;
    try {
      const slot = findSlot(mod, config.tokenLabel);
      session = mod.lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      login(mod, slot, session, config);
      return new Pkcs11Token(mod, slot, session, config.tokenLabel, sessions);
    } catch (err) {
      if (session) closeQuietly(mod, session);
      releaseModule(mod);
      throw tokenError(err, config.tokenLabel, 'opening the token');
    }
  }

  /** Whether the token can generate and use keys of `algorithm` (Ed25519 needs PKCS#11 3.0 mechanisms). */
  supportsAlgorithm(algorithm: KeyAlgorithm): boolean {
    this.checkOpen();
    const mechanisms = new Set(
      this.guard('listing mechanisms', () => this.mod.lib.C_GetMechanismList(this.slot)),
    );
    if (algorithm === 'ed25519')
      return mechanisms.has(CKM_EC_EDWARDS_KEY_PAIR_GEN) && mechanisms.has(CKM_EDDSA);
    if (isRsa(algorithm)) return mechanisms.has(pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN);
    return mechanisms.has(pkcs11js.CKM_EC_KEY_PAIR_GEN) && mechanisms.has(pkcs11js.CKM_ECDSA);
  }

  /** Generate a key pair as token objects; the private half is sensitive and never extractable. */
  async generateKey(label: string, algorithm: KeyAlgorithm): Promise<Pkcs11Key> {
    this.checkOpen();
    if (label.length === 0 || label.length > MAX_LABEL_LENGTH) {
      throw new Pkcs11TokenError(`key label must be 1 to ${MAX_LABEL_LENGTH} characters`, 'invalid-argument');
    }
    if (!this.supportsAlgorithm(algorithm)) {
      throw new Pkcs11TokenError(
        `PKCS#11 token "${this.tokenLabel}" cannot generate ${algorithm} keys (mechanism missing); choose another algorithm`,
        'unsupported',
      );
    }
    const exists = this.guard(
      'looking up labels',
      () => this.findObjects(privateKeyTemplate(label)).length > 0,
    );
    if (this.generating.has(label) || exists) {
      throw new Pkcs11TokenError(
        `a key labelled "${label}" already exists on PKCS#11 token "${this.tokenLabel}"; choose another label`,
        'key-exists',
      );
    }
    this.generating.add(label);
    try {
      const id = randomBytes(16);
      const [mechanism, publicTemplate] = generationParams(algorithm);
      const common: Template = [
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_ID, value: id },
      ];
      const pair = await this.pool.run((session) =>
        this.mod.lib.C_GenerateKeyPairAsync(
          session,
          mechanism,
          [
            ...common,
            ...publicTemplate,
            { type: pkcs11js.CKA_PRIVATE, value: false },
            { type: pkcs11js.CKA_VERIFY, value: true },
          ],
          [
            ...common,
            { type: pkcs11js.CKA_PRIVATE, value: true },
            { type: pkcs11js.CKA_SENSITIVE, value: true },
            { type: pkcs11js.CKA_EXTRACTABLE, value: false },
            { type: pkcs11js.CKA_SIGN, value: true },
          ],
        ),
      );
      return this.keyFromObjects(label, pair.privateKey, pair.publicKey);
    } catch (err) {
      throw tokenError(err, this.tokenLabel, `generating ${algorithm} key "${label}"`);
    } finally {
      this.generating.delete(label);
    }
  }

  findKey(label: string): Pkcs11Key {
    this.checkOpen();
    return this.guard(`finding key "${label}"`, () => this.findKeyUnguarded(label));
  }

  private findKeyUnguarded(label: string): Pkcs11Key {
    const found = this.findObjects(privateKeyTemplate(label));
    const privateKey = found[0];
    if (!privateKey) {
      throw new Pkcs11TokenError(
        `no private key labelled "${label}" on PKCS#11 token "${this.tokenLabel}"; check the label (listKeys shows what is there)`,
        'key-not-found',
      );
    }
    if (found.length > 1) {
      throw new Pkcs11TokenError(
        `${found.length} private keys are labelled "${label}" on PKCS#11 token "${this.tokenLabel}"; give them unique labels`,
        'key-exists',
      );
    }
    const [id] = this.attributes(privateKey, [pkcs11js.CKA_ID]);
    const publicKeys = this.findObjects([
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_ID, value: id ?? Buffer.alloc(0) },
    ]);
    return this.keyFromObjects(label, privateKey, publicKeys[0]);
  }

  /** Private keys on the token that Sealpost can use (other key types and sizes are left out). */
  listKeys(): Pkcs11KeyInfo[] {
    this.checkOpen();
    return this.guard('listing keys', () => this.listKeysUnguarded());
  }

  private listKeysUnguarded(): Pkcs11KeyInfo[] {
    const keys: Pkcs11KeyInfo[] = [];
    for (const handle of this.findObjects([{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }])) {
      const [label, keyType] = this.attributes(handle, [pkcs11js.CKA_LABEL, pkcs11js.CKA_KEY_TYPE]);
      const algorithm = this.privateKeyAlgorithm(handle, readUlong(keyType ?? Buffer.alloc(0)));
      if (algorithm) keys.push({ label: (label ?? Buffer.alloc(0)).toString('utf8'), algorithm });
    }
    return keys.sort((a, b) => a.label.localeCompare(b.label));
  }

  /** Close this token's sessions (in-flight operations finish first); keys from it stop working. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.close();
  }

  /** @internal Run one single-part signature on a pooled session (used by Pkcs11Key). */
  async signWith(key: Handle, label: string, mechanism: Mechanism, input: Buffer): Promise<Buffer> {
    this.checkOpen();
    try {
      return await this.pool.run(async (session) => {
        this.mod.lib.C_SignInit(session, mechanism, key);
        return Buffer.from(
          await this.mod.lib.C_SignAsync(session, input, Buffer.alloc(SIGNATURE_BUFFER_BYTES)),
        );
      });
    } catch (err) {
      throw tokenError(err, this.tokenLabel, `signing with key "${label}"`);
    }
  }

  private release(): void {
    closeQuietly(this.mod, this.adminSession);
    const slotKey = this.slot.toString('hex');
    const record = this.mod.logins.get(slotKey);
    if (record && --record.tokens <= 0) this.mod.logins.delete(slotKey);
    releaseModule(this.mod);
  }

  private checkOpen(): void {
    if (this.closed) throw this.closedError();
  }

  private closedError(): Pkcs11TokenError {
    return new Pkcs11TokenError(`PKCS#11 token "${this.tokenLabel}" was closed; open it again`, 'closed');
  }

  /** Run a synchronous token call, turning raw PKCS#11 failures into Pkcs11TokenError. */
  private guard<T>(doing: string, call: () => T): T {
    try {
      return call();
    } catch (err) {
      throw tokenError(err, this.tokenLabel, doing);
    }
  }

  private findObjects(template: Template): Handle[] {
    const lib = this.mod.lib;
    lib.C_FindObjectsInit(this.adminSession, template);
    try {
      const handles: Handle[] = [];
      for (;;) {
        const batch = lib.C_FindObjects(this.adminSession, 64);
        handles.push(...batch);
        if (batch.length < 64) return handles;
      }
    } finally {
      lib.C_FindObjectsFinal(this.adminSession);
    }
  }

  private attributes(handle: Handle, types: number[]): (Buffer | undefined)[] {
    const result = this.mod.lib.C_GetAttributeValue(
      this.adminSession,
      handle,
      types.map((type) => ({ type })),
    );
    return types.map((type) => result.find((a) => a.type === type)?.value);
  }

  private privateKeyAlgorithm(handle: Handle, keyType: number): KeyAlgorithm | undefined {
    if (keyType === pkcs11js.CKK_RSA) {
      const [modulus] = this.attributes(handle, [pkcs11js.CKA_MODULUS]);
      return modulus ? rsaAlgorithm(modulus) : undefined;
    }
    if (keyType === pkcs11js.CKK_EC || keyType === CKK_EC_EDWARDS) {
      const [params] = this.attributes(handle, [pkcs11js.CKA_EC_PARAMS]);
      return params ? curveByParams(params)?.algorithm : undefined;
    }
    return undefined;
  }

  /** Build the key handle: SPKI from the public object (RSA can fall back on the private key's modulus). */
  private keyFromObjects(label: string, privateKey: Handle, publicKey: Handle | undefined): Pkcs11Key {
    const [keyTypeValue] = this.attributes(privateKey, [pkcs11js.CKA_KEY_TYPE]);
    const keyType = readUlong(keyTypeValue ?? Buffer.alloc(0));
    let algorithm: KeyAlgorithm | undefined;
    let spki: Buffer | undefined;
    if (keyType === pkcs11js.CKK_RSA) {
      const [modulus, exponent] = this.attributes(publicKey ?? privateKey, [
        pkcs11js.CKA_MODULUS,
        pkcs11js.CKA_PUBLIC_EXPONENT,
      ]);
      if (modulus && exponent) {
        algorithm = rsaAlgorithm(modulus);
        spki = rsaSpki(modulus, exponent);
      }
    } else if ((keyType === pkcs11js.CKK_EC || keyType === CKK_EC_EDWARDS) && publicKey) {
      const [params, point] = this.attributes(publicKey, [pkcs11js.CKA_EC_PARAMS, pkcs11js.CKA_EC_POINT]);
      const curve = params && curveByParams(params);
      if (curve && point) {
        algorithm = curve.algorithm;
        spki = ecSpki(curve, unwrapEcPoint(point, curve));
      }
    }
    if (!algorithm || !spki) {
      throw new Pkcs11TokenError(
        `key "${label}" on PKCS#11 token "${this.tokenLabel}" is not a usable RSA 2048/3072/4096, P-256, P-384 or Ed25519 key with its public key on the token`,
        'unsupported',
      );
    }
    return new Pkcs11Key(this, privateKey, label, algorithm, spki);
  }
}

function closeQuietly(mod: LoadedModule, session: Handle): void {
  try {
    mod.lib.C_CloseSession(session);
  } catch {
    // Closing is best effort: C_Finalize releases whatever the token still holds.
  }
}

function tokenError(err: unknown, tokenLabel: string, doing: string): Pkcs11TokenError {
  if (err instanceof Pkcs11TokenError) return err;
  const reason = pkcs11Code(err) ?? (err as Error).message;
  return new Pkcs11TokenError(`PKCS#11 token "${tokenLabel}" failed ${doing}: ${reason}`, 'token-error');
}

function privateKeyTemplate(label: string): Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
    { type: pkcs11js.CKA_LABEL, value: label },
  ];
}

function generationParams(algorithm: KeyAlgorithm): [Mechanism, Template] {
  if (isRsa(algorithm)) {
    return [
      { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
      [
        { type: pkcs11js.CKA_MODULUS_BITS, value: Number(algorithm.slice(4)) },
        { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([0x01, 0x00, 0x01]) },
      ],
    ];
  }
  const curve = curveOf(algorithm);
  const mechanism = algorithm === 'ed25519' ? CKM_EC_EDWARDS_KEY_PAIR_GEN : pkcs11js.CKM_EC_KEY_PAIR_GEN;
  return [{ mechanism }, [{ type: pkcs11js.CKA_EC_PARAMS, value: curve.params }]];
}

function findSlot(mod: LoadedModule, tokenLabel: string): Handle {
  const present: string[] = [];
  const matches: Handle[] = [];
  for (const slot of mod.lib.C_GetSlotList(true)) {
    const info = mod.lib.C_GetTokenInfo(slot);
    if (!(info.flags & pkcs11js.CKF_TOKEN_INITIALIZED)) continue;
    // Token labels are 32 bytes padded with blanks (§3.2, CK_TOKEN_INFO).
    const label = info.label.replace(/ +$/, '');
    present.push(`"${label}"`);
    if (label === tokenLabel) matches.push(slot);
  }
  const slot = matches[0];
  if (!slot) {
    throw new Pkcs11TokenError(
      `PKCS#11 token "${tokenLabel}" not found in module ${mod.path} (tokens present: ${present.join(', ') || 'none'}); check the label or initialise the token`,
      'token-not-found',
    );
  }
  if (matches.length > 1) {
    throw new Pkcs11TokenError(
      `${matches.length} PKCS#11 tokens are labelled "${tokenLabel}" in module ${mod.path}; relabel them so the label is unique`,
      'token-not-found',
    );
  }
  return slot;
}

function login(mod: LoadedModule, slot: Handle, session: Handle, config: Pkcs11Config): void {
  const slotKey = slot.toString('hex');
  const check = pinCheck(config.pin);
  const wrongPin = () =>
    new Pkcs11TokenError(`PKCS#11 login failed for token ${config.tokenLabel}: wrong PIN`, 'wrong-pin');
  try {
    mod.lib.C_Login(session, pkcs11js.CKU_USER, config.pin);
  } catch (err) {
    const code = pkcs11Code(err);
    if (code === 'CKR_USER_ALREADY_LOGGED_IN') {
      // Another Pkcs11Token of this process logged in; the token cannot check this PIN, so we do.
      const record = mod.logins.get(slotKey);
      if (!record || !timingSafeEqual(record.pinCheck, check)) throw wrongPin();
      record.tokens++;
      return;
    }
    if (code === 'CKR_PIN_INCORRECT' || code === 'CKR_PIN_LEN_RANGE') throw wrongPin();
    if (code === 'CKR_PIN_LOCKED') {
      throw new Pkcs11TokenError(
        `PKCS#11 login failed for token ${config.tokenLabel}: PIN locked; the security officer must unlock it`,
        'pin-locked',
      );
    }
    throw new Pkcs11TokenError(
      `PKCS#11 login failed for token ${config.tokenLabel}: ${code ?? (err as Error).message}`,
      'login-failed',
    );
  }
  mod.logins.set(slotKey, { pinCheck: check, tokens: 1 });
}

// ---------------------------------------------------------------------------------------------
// Key
// ---------------------------------------------------------------------------------------------

/** A private key on a PKCS#11 token. Hashing happens in Node; the token signs the digest. */
export class Pkcs11Key implements KeyHandle {
  readonly backend = 'pkcs11' as const;

  /** @internal Obtain keys through Pkcs11Token.generateKey / findKey. */
  constructor(
    private readonly token: Pkcs11Token,
    private readonly handle: Handle,
    readonly label: string,
    readonly algorithm: KeyAlgorithm,
    readonly spki: Buffer,
  ) {}

  sign(data: Uint8Array, hash: HashAlgorithm, options?: SignOptions): Promise<Buffer> {
    if (this.algorithm === 'ed25519') {
      // PureEdDSA (RFC 8032 §5.1) signs the message itself; no parameters selects Ed25519.
      return this.token.signWith(this.handle, this.label, { mechanism: CKM_EDDSA }, Buffer.from(data));
    }
    return this.signDigest(createHash(hash).update(data).digest(), hash, options);
  }

  async signDigest(digest: Uint8Array, hash: HashAlgorithm, options?: SignOptions): Promise<Buffer> {
    if (this.algorithm === 'ed25519') {
      throw new Pkcs11TokenError('Ed25519 signs whole messages, not digests; use sign()', 'invalid-argument');
    }
    const { hash: hashMechanism, mgf, bytes } = HASH_MECHANISM[hash];
    if (digest.length !== bytes) {
      throw new Pkcs11TokenError(
        `a ${hash} digest is ${bytes} bytes, got ${digest.length}; pass the digest, not the data`,
        'invalid-argument',
      );
    }
    const input = Buffer.from(digest);
    if (isRsa(this.algorithm)) {
      if (options?.pss) {
        // RFC 8017 §9.1 with MGF1 over the same hash and salt length = hash length (RFC 4055 §3.1 defaults).
        const parameter = { type: pkcs11js.CK_PARAMS_RSA_PSS, hashAlg: hashMechanism, mgf, saltLen: bytes };
        return this.token.signWith(
          this.handle,
          this.label,
          { mechanism: pkcs11js.CKM_RSA_PKCS_PSS, parameter },
          input,
        );
      }
      // CKM_RSA_PKCS pads whatever it is given, so we supply the DigestInfo (RFC 8017 §9.2).
      return this.token.signWith(
        this.handle,
        this.label,
        { mechanism: pkcs11js.CKM_RSA_PKCS },
        digestInfo(input, hash),
      );
    }
    // CKM_ECDSA returns r||s, each as wide as the curve order (PKCS#11 v2.40 §2.3.1); X.509 and CMS want DER.
    const raw = await this.token.signWith(this.handle, this.label, { mechanism: pkcs11js.CKM_ECDSA }, input);
    const expected = curveOf(this.algorithm).pointBytes - 1;
    if (raw.length !== expected) {
      throw new Pkcs11TokenError(
        `token returned an ECDSA signature of ${raw.length} bytes, expected ${expected}`,
        'token-error',
      );
    }
    return ecdsaCompactToDer(raw);
  }
}
