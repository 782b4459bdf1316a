/**
 * ECDSA with pre-computed nonces for software keys on hot paths (TSA, OCSP).
 *
 * An ECDSA signature (FIPS 186-5 §6.4.1) is r = (k·G).x mod n and s = k⁻¹·(z + r·d) mod n. Everything that
 * costs — drawing k, the scalar multiplication k·G and the inversion k⁻¹ — does not depend on the message, so
 * a worker thread computes (k⁻¹, r) pairs ahead of time and the request path only hashes and does two modular
 * multiplications with BigInt (~3 µs instead of ~20 µs of main-thread time for node's sign).
 *
 * Security argument (why this is the same ECDSA, not a weaker one):
 * - Nonce quality. FIPS 186-5 §6.4.1 requires k secret, uniform in [1, n−1] and fresh per signature.
 *   Each k is drawn by rejection sampling (FIPS 186-5 Appendix A.3.2): bytes of n's length from the CSPRNG
 *   (crypto.randomFillSync, OpenSSL's DRBG — the source node's own sign uses), redrawn while outside
 *   [1, n−1]. No Math.random, no modular reduction bias. RFC 6979 §3 derives k deterministically from (d, message)
 *   only to survive a broken RNG; a pre-computed k cannot depend on the message, so we rely on the CSPRNG,
 *   exactly as randomized ECDSA (FIPS 186-5, OpenSSL's default) does.
 * - Never reused. A pair leaves the pool by a synchronous take() that zeroes its bytes in the pool before
 *   returning, so no two signatures can get the same pair; pools are per process, in memory, never
 *   persisted or shared between processes. k itself never leaves the worker: only k⁻¹ and r do.
 *   (Reusing k for two messages reveals d; the unit tests sign many messages and check all r differ.)
 * - Secrecy. k⁻¹ is as sensitive as d: each pool holds at most `poolSize` pairs in process memory, next to
 *   the private key itself. The worker never sees d. A pair is consumed by exactly one key's pool. JS BigInt temporaries cannot be zeroed; the same holds
 *   for d in @noble/curves, which SoftwareKey.signDigest already uses.
 * - Timing. k·G runs in OpenSSL's constant-time code off the request path, so response time no longer depends
 *   on k. The per-request BigInt products are variable-time only at 64-bit limb granularity (a shorter k⁻¹
 *   occurs with probability ~2⁻⁶⁴), not the per-bit leak that nonce-length attacks (Minerva, TPM-Fail) need.
 * - Fallback. When the pool is empty (start-up, bursts beyond the worker's rate, a dead worker) the request
 *   is signed by the wrapped key as before. PKCS#11 keys are never wrapped: the private key stays in the HSM.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { HashAlgorithm, KeyAlgorithm, KeyHandle, SignOptions } from './key-handle.js';

interface CurveParams {
  /** OpenSSL curve name for createECDH. */
  opensslName: string;
  /** Group order n. */
  n: bigint;
  /** Byte length of n (both NIST curves here have an order of whole bytes: 256 and 384 bits). */
  bytes: number;
}

const CURVES: Partial<Record<KeyAlgorithm, CurveParams>> = {
  'ec-p256': {
    opensslName: 'prime256v1',
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    bytes: 32,
  },
  'ec-p384': {
    opensslName: 'secp384r1',
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    bytes: 48,
  },
};

/** A software ECDSA key whose private scalar this process can read (SoftwareKey exposes its KeyObject). */
interface SoftwareEcKey extends KeyHandle {
  readonly backend: 'software';
  readonly keyObject: KeyObject;
}

export interface PresignOptions {
  /** Most (k⁻¹, r) pairs held at once; refills start when fewer than half remain. Default 2048. */
  poolSize?: number;
  /** Pairs per worker round trip. Default 256 (~4 ms of worker time for P-256). */
  batchSize?: number;
}

/** True when `key` is a software P-256/P-384 key that EcdsaPresignKey can wrap. PKCS#11 keys never are. */
export function canPresign(key: KeyHandle): key is SoftwareEcKey {
  return (
    key.backend === 'software' &&
    CURVES[key.algorithm] !== undefined &&
    (key as Partial<SoftwareEcKey>).keyObject?.type === 'private'
  );
}

/** Wrap a software ECDSA key with nonce pre-computation; any other key is returned unchanged. */
export function withEcdsaPresign(key: KeyHandle, options?: PresignOptions): KeyHandle {
  return canPresign(key) ? new EcdsaPresignKey(key, options) : key;
}

/** KeyHandle decorator: signs with pre-computed nonces when it has one, otherwise through the wrapped key. */
export class EcdsaPresignKey implements KeyHandle {
  readonly algorithm: KeyAlgorithm;
  readonly backend = 'software' as const;
  readonly spki: Buffer;
  private readonly curve: CurveParams;
  private readonly d: bigint;
  private readonly pool: NoncePool;

  constructor(
    private readonly inner: SoftwareEcKey,
    options: PresignOptions = {},
  ) {
    const curve = CURVES[inner.algorithm];
    if (!curve || !canPresign(inner))
      throw new Error(`nonce pre-computation needs a software P-256/P-384 key`);
    this.algorithm = inner.algorithm;
    this.spki = inner.spki;
    this.curve = curve;
    const d = inner.keyObject.export({ format: 'jwk' }).d;
    if (!d) throw new Error('the EC private key has no private scalar');
    this.d = bytesToBigInt(Buffer.from(d, 'base64url'));
    this.pool = new NoncePool(curve, options.poolSize ?? 2048, options.batchSize ?? 256);
  }

  /** Pairs ready for use (for tests and metrics). */
  get available(): number {
    return this.pool.available;
  }

  /** Resolves when the pool has at least `count` pairs (or rejects when the worker cannot produce them). */
  ready(count = 1): Promise<void> {
    return this.pool.ready(count);
  }

  /** Stop the worker; later signatures use the wrapped key. */
  close(): Promise<void> {
    return this.pool.close();
  }

  sign(data: Uint8Array, hash: HashAlgorithm, options?: SignOptions): Promise<Buffer> {
    const pair = this.pool.take();
    if (!pair) return this.inner.sign(data, hash, options);
    return Promise.resolve(this.finish(createHash(hash).update(data).digest(), pair));
  }

  signDigest(digest: Uint8Array, hash: HashAlgorithm, options?: SignOptions): Promise<Buffer> {
    const pair = this.pool.take();
    if (!pair) return this.inner.signDigest(digest, hash, options);
    return Promise.resolve(this.finish(digest, pair));
  }

  /** s = k⁻¹·(z + r·d) mod n, z = the leftmost bits of the digest (FIPS 186-5 §6.4.1 steps 3 and 7). */
  private finish(digest: Uint8Array, { kInv, r }: NoncePair): Buffer {
    const { n, bytes } = this.curve;
    const z = bytesToBigInt(digest.subarray(0, bytes));
    const s = (kInv * ((z + r * this.d) % n)) % n;
    // s = 0 has probability ~2⁻²⁵⁶; FIPS 186-5 says pick a new k, which the pool cannot do synchronously.
    if (s === 0n) throw new Error('ECDSA produced s = 0; sign again');
    return ecdsaSigDer(r, s);
  }
}

interface NoncePair {
  kInv: bigint;
  r: bigint;
}

/**
 * Pairs arrive from the worker as one buffer per batch, each pair k⁻¹ ‖ r in fixed width. take() hands out a
 * pair and zeroes its bytes at once; an exhausted batch is dropped.
 */
class NoncePool {
  private readonly batches: Buffer[] = [];
  private offset = 0;
  private count = 0;
  private inFlight = false;
  private closed = false;
  private waiters: { count: number; resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(
    private readonly curve: CurveParams,
    private readonly poolSize: number,
    private readonly batchSize: number,
  ) {
    NonceWorker.shared.acquire();
    this.refill();
  }

  get available(): number {
    return this.count;
  }

  take(): NoncePair | undefined {
    const batch = this.batches[0];
    if (!batch) {
      this.refill();
      return undefined;
    }
    const w = this.curve.bytes;
    const pairBytes = batch.subarray(this.offset, this.offset + 2 * w);
    const pair = { kInv: bytesToBigInt(pairBytes.subarray(0, w)), r: bytesToBigInt(pairBytes.subarray(w)) };
    pairBytes.fill(0);
    this.offset += 2 * w;
    this.count--;
    if (this.offset >= batch.length) {
      this.batches.shift();
      this.offset = 0;
    }
    if (this.count < this.poolSize / 2) this.refill();
    return pair;
  }

  ready(count: number): Promise<void> {
    if (this.count >= count) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('the nonce pool is closed'));
    if (count > this.poolSize)
      return Promise.reject(new RangeError(`the pool holds at most ${this.poolSize}`));
    this.refill();
    return new Promise((resolve, reject) => this.waiters.push({ count, resolve, reject }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const b of this.batches) b.fill(0);
    this.batches.length = 0;
    this.count = 0;
    this.rejectWaiters(new Error('the nonce pool was closed'));
    await NonceWorker.shared.release();
  }

  private refill(): void {
    if (this.inFlight || this.closed || this.count + this.batchSize > this.poolSize) return;
    this.inFlight = true;
    NonceWorker.shared.request(this.curve, this.batchSize).then(
      (batch) => this.receive(batch),
      (err: Error) => {
        // The worker gave up: keep signing through the wrapped key, and tell whoever waits for nonces.
        this.inFlight = false;
        this.rejectWaiters(err);
      },
    );
  }

  private receive(batch: Buffer): void {
    this.inFlight = false;
    if (this.closed) {
      batch.fill(0);
      return;
    }
    this.batches.push(batch);
    this.count += batch.length / (2 * this.curve.bytes);
    this.waiters = this.waiters.filter((w) => (w.count <= this.count ? (w.resolve(), false) : true));
    this.refill();
  }

  private rejectWaiters(err: Error): void {
    for (const w of this.waiters) w.reject(err);
    this.waiters = [];
  }
}

/**
 * One worker thread per process serves every pool: a (k⁻¹, r) pair does not depend on the key, and one
 * thread is enough to keep up (~15–25 µs a pair). It runs while at least one pool is open, is unref'd so it
 * never keeps the process alive, and is restarted after a crash, up to MAX_FAILURES times.
 */
class NonceWorker {
  static readonly shared = new NonceWorker();
  private static readonly MAX_FAILURES = 3;
  private worker: Worker | undefined;
  private users = 0;
  private failures = 0;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();

  acquire(): void {
    this.users++;
  }

  async release(): Promise<void> {
    if (--this.users > 0 || !this.worker) return;
    const worker = this.worker;
    this.worker = undefined;
    this.fail(new Error('the nonce worker was stopped'));
    await worker.terminate();
  }

  request(curve: CurveParams, count: number): Promise<Buffer> {
    const worker = this.start();
    if (!worker) return Promise.reject(new Error('the nonce worker failed repeatedly; signing without it'));
    const id = this.nextId++;
    worker.postMessage({ id, curve: curve.opensslName, n: curve.n.toString(16), bytes: curve.bytes, count });
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  private start(): Worker | undefined {
    if (this.worker) return this.worker;
    if (this.failures >= NonceWorker.MAX_FAILURES) return undefined;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.on('message', ({ id, pairs }: { id: number; pairs: ArrayBuffer }) => {
      const p = this.pending.get(id);
      this.pending.delete(id);
      if (p) p.resolve(Buffer.from(pairs));
      else new Uint8Array(pairs).fill(0);
    });
    const lost = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failures++;
      this.fail(err);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the nonce worker exited with code ${code}`)));
    // An idle nonce worker must not keep the process alive (after the listeners: adding one re-refs the port).
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private fail(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

/**
 * The worker, as CommonJS source evaluated by worker_threads: no module file to resolve, so it runs the same
 * under tsx, vitest and compiled output. Per request it draws `count` nonces k by rejection sampling, computes
 * r = (k·G).x mod n with OpenSSL (createECDH derives the public point k·G from k), inverts all k at once
 * (Montgomery's trick: one modular inverse per batch) and transfers the k⁻¹ ‖ r pairs to the requester.
 * Sampling: FIPS 186-5 A.3.2 draws c of n's bit length, rejects c > n−2 and sets k = c + 1; rejecting c = 0
 * and c ≥ n instead gives the same uniform distribution on [1, n−1] and lets the drawn bytes be k as they are.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createECDH, randomFillSync } = require('node:crypto');
const big = (b) => BigInt('0x' + b.toString('hex'));
function invert(a, n) {
  let [r0, r1, x0, x1] = [n, a % n, 0n, 1n];
  while (r1 !== 0n) { const q = r0 / r1; [r0, r1] = [r1, r0 - q * r1]; [x0, x1] = [x1, x0 - q * x1]; }
  if (r0 !== 1n) throw new Error('not invertible');
  return ((x0 % n) + n) % n;
}
const hex = (v, bytes) => v.toString(16).padStart(bytes * 2, '0');
parentPort.on('message', ({ id, curve, n: nHex, bytes, count }) => {
  const n = BigInt('0x' + nHex);
  const ecdh = createECDH(curve);
  const c = Buffer.alloc(bytes);
  const ks = [], rs = [];
  while (ks.length < count) {
    randomFillSync(c);
    const k = big(c);
    if (k === 0n || k >= n) continue;
    ecdh.setPrivateKey(c);
    const r = big(ecdh.getPublicKey().subarray(1, 1 + bytes)) % n;
    if (r === 0n) continue;
    ks.push(k);
    rs.push(r);
  }
  c.fill(0);
  // Montgomery's trick: prefix[i] = k0·…·ki mod n; invert the product once, then walk back.
  const prefix = new Array(count);
  let acc = 1n;
  for (let i = 0; i < count; i++) prefix[i] = acc = (acc * ks[i]) % n;
  let inv = invert(acc, n);
  const pairs = new ArrayBuffer(count * 2 * bytes);
  const out = Buffer.from(pairs);
  for (let i = count - 1; i >= 0; i--) {
    const kInv = i > 0 ? (inv * prefix[i - 1]) % n : inv;
    inv = (inv * ks[i]) % n;
    out.write(hex(kInv, bytes), i * 2 * bytes, 'hex');
    out.write(hex(rs[i], bytes), i * 2 * bytes + bytes, 'hex');
  }
  // Transferred, not copied: no copy of the pairs stays in this thread.
  parentPort.postMessage({ id, pairs }, [pairs]);
});
`;

function bytesToBigInt(bytes: Uint8Array): bigint {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  return hex ? BigInt('0x' + hex) : 0n;
}

/** A non-negative INTEGER's DER (X.690 §8.3: minimal, a leading 0x00 when the top bit is set). */
function derPositiveInteger(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = '00' + hex;
  const len = hex.length / 2;
  const out = Buffer.allocUnsafe(2 + len);
  out[0] = 0x02;
  out[1] = len;
  out.write(hex, 2, 'hex');
  return out;
}

/** Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 §2.2.3). */
function ecdsaSigDer(r: bigint, s: bigint): Buffer {
  const ri = derPositiveInteger(r);
  const si = derPositiveInteger(s);
  const bodyLength = ri.length + si.length; // ≤ 2·(2 + 49) = 102 for P-384: short or one-byte long form
  const head = bodyLength < 0x80 ? Buffer.from([0x30, bodyLength]) : Buffer.from([0x30, 0x81, bodyLength]);
  return Buffer.concat([head, ri, si], head.length + bodyLength);
}
