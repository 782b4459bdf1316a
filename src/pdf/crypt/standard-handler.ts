import { createCipheriv, createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';
import { PdfEncryptionError, PdfPasswordError } from '../errors.js';
import type { PdfDict } from '../objects.js';
import { rc4 } from './rc4.js';
import { FileKeySecurityHandler, readCryptConfig } from './security-handler.js';
import type { CryptConfig, SecurityHandler } from './security-handler.js';

/** The 32-byte padding string of §7.6.4.3 Algorithm 2 step a. */
const PAD = Buffer.from('28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a', 'hex');

interface StandardParams {
  r: number;
  o: Buffer;
  u: Buffer;
  oe?: Buffer;
  ue?: Buffer;
  perms?: Buffer;
  p: number;
  id0: Buffer;
  config: CryptConfig;
}

function bytesOf(dict: PdfDict, key: string, required: boolean): Buffer | undefined {
  const v = dict.get(key);
  if (v?.kind === 'string') return v.bytes;
  if (required) throw new PdfEncryptionError(`the /Encrypt dictionary has no /${key} string`);
  return undefined;
}

/**
 * Authenticate with the standard security handler (ISO 32000-2 §7.6.4): R 2–4 (RC4 / AESV2) and R 5–6
 * (AESV3). Without a password the empty user password is tried (most "protected" PDFs open with it).
 * A password is tried as the user password, then as the owner password; a wrong one gives
 * `PdfPasswordError`.
 */
export function openStandardSecurityHandler(
  encrypt: PdfDict,
  firstId: Buffer | undefined,
  password?: string,
): SecurityHandler {
  const r = encrypt.getNumber('R');
  const p = encrypt.getNumber('P');
  if (r === undefined || p === undefined)
    throw new PdfEncryptionError('the /Encrypt dictionary lacks /R or /P');
  if (r < 2 || r > 6)
    throw new PdfEncryptionError(`standard security handler revision /R ${r} is not supported`);
  const config = readCryptConfig(encrypt);
  const params: StandardParams = {
    r,
    o: bytesOf(encrypt, 'O', true)!,
    u: bytesOf(encrypt, 'U', true)!,
    oe: bytesOf(encrypt, 'OE', r >= 5),
    ue: bytesOf(encrypt, 'UE', r >= 5),
    perms: bytesOf(encrypt, 'Perms', r >= 6),
    p: p | 0,
    id0: firstId ?? Buffer.alloc(0),
    config,
  };
  if (r <= 4 && !firstId)
    throw new PdfEncryptionError('the trailer has no /ID, which R 2–4 encryption needs');
  const candidate = password ?? '';
  const attempt = r >= 5 ? authenticateAes256(params, candidate) : authenticateRc4Md5(params, candidate);
  if (!attempt)
    throw new PdfPasswordError(
      'the password does not open this PDF (it is neither the user nor the owner password)',
    );
  return new FileKeySecurityHandler({
    filter: 'Standard',
    v: config.v,
    r,
    keyBits: r >= 5 ? 256 : config.keyBits,
    stringMethod: config.stringMethod,
    streamMethod: config.streamMethod,
    cryptFilters: config.cryptFilters,
    permissions: params.p,
    encryptMetadata: config.encryptMetadata,
    fileKey: attempt.key,
    authenticatedAs: attempt.as,
  });
}

type Attempt = { key: Buffer; as: 'user' | 'owner' } | undefined;

// ---- R 2–4 (§7.6.4.3 Algorithms 2, 6, 7) ----

function padPassword(pw: Buffer): Buffer {
  return Buffer.concat([pw.subarray(0, 32), PAD]).subarray(0, 32);
}

/** R 2–4 passwords are PDFDocEncoded; Latin-1 covers the printable range. */
function legacyPasswordBytes(pw: string): Buffer {
  return Buffer.from(pw, 'latin1');
}

function fileKeyR4(s: StandardParams, pw: Buffer): Buffer {
  const n = s.r === 2 ? 5 : s.config.keyBits / 8;
  const h = createHash('md5').update(padPassword(pw)).update(s.o.subarray(0, 32));
  const pb = Buffer.alloc(4);
  pb.writeInt32LE(s.p);
  h.update(pb).update(s.id0);
  if (s.r >= 4 && !s.config.encryptMetadata) h.update(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  let key = h.digest();
  if (s.r >= 3) for (let i = 0; i < 50; i++) key = createHash('md5').update(key.subarray(0, n)).digest();
  return key.subarray(0, n);
}

function xorKey(key: Buffer, i: number): Buffer {
  return Buffer.from(key.map((b) => b ^ i));
}

function userCheckR4(s: StandardParams, key: Buffer): boolean {
  if (s.r === 2) return safeEqual(rc4(key, PAD), s.u.subarray(0, 32));
  let x: Buffer = createHash('md5').update(PAD).update(s.id0).digest();
  for (let i = 0; i < 20; i++) x = rc4(xorKey(key, i), x);
  return safeEqual(x.subarray(0, 16), s.u.subarray(0, 16));
}

function authenticateRc4Md5(s: StandardParams, password: string): Attempt {
  const pw = legacyPasswordBytes(password);
  const userKey = fileKeyR4(s, pw);
  if (userCheckR4(s, userKey)) return { key: userKey, as: 'user' };
  // Owner password: it decrypts /O to the user password (Algorithm 7).
  const n = s.r === 2 ? 5 : s.config.keyBits / 8;
  let ownerKey: Buffer = createHash('md5').update(padPassword(pw)).digest();
  if (s.r >= 3) for (let i = 0; i < 50; i++) ownerKey = createHash('md5').update(ownerKey).digest();
  ownerKey = ownerKey.subarray(0, n);
  let user: Buffer = Buffer.from(s.o.subarray(0, 32));
  if (s.r === 2) user = rc4(ownerKey, user);
  else for (let i = 19; i >= 0; i--) user = rc4(xorKey(ownerKey, i), user);
  const key = fileKeyR4(s, user);
  return userCheckR4(s, key) ? { key, as: 'owner' } : undefined;
}

// ---- R 5–6 (§7.6.4.3.3 Algorithm 2.A, §7.6.4.3.4 Algorithm 2.B) ----

/** UTF-8 of the SASLprep'd password (NFKC approximates the profile), truncated to 127 bytes. */
function aesPasswordBytes(pw: string): Buffer {
  return Buffer.from(pw.normalize('NFKC'), 'utf8').subarray(0, 127);
}

/** Algorithm 2.B (R 6); R 5 uses a single SHA-256. */
export function hardenedHash(r: number, pw: Buffer, salt: Buffer, udata: Buffer): Buffer {
  let k = createHash('sha256').update(pw).update(salt).update(udata).digest();
  if (r === 5) return k;
  let e = Buffer.alloc(0);
  for (let round = 0; round < 64 || e[e.length - 1]! > round - 32; round++) {
    const k1 = Buffer.concat([pw, k, udata]);
    const block = Buffer.alloc(k1.length * 64);
    for (let i = 0; i < 64; i++) k1.copy(block, i * k1.length);
    const c = createCipheriv('aes-128-cbc', k.subarray(0, 16), k.subarray(16, 32));
    c.setAutoPadding(false);
    e = Buffer.concat([c.update(block), c.final()]);
    // The sum of the first 16 bytes as a big integer mod 3 equals the byte sum mod 3 (256 ≡ 1 mod 3).
    let sum = 0;
    for (let i = 0; i < 16; i++) sum += e[i]!;
    const hash = ['sha256', 'sha384', 'sha512'][sum % 3]!;
    k = createHash(hash).update(e).digest();
  }
  return k.subarray(0, 32);
}

function unwrapKey(intermediate: Buffer, wrapped: Buffer): Buffer {
  if (wrapped.length < 32) throw new PdfEncryptionError('/OE or /UE is shorter than 32 bytes');
  const d = createDecipheriv('aes-256-cbc', intermediate, Buffer.alloc(16));
  d.setAutoPadding(false);
  return Buffer.concat([d.update(wrapped.subarray(0, 32)), d.final()]);
}

function authenticateAes256(s: StandardParams, password: string): Attempt {
  const pw = aesPasswordBytes(password);
  if (s.u.length < 48 || s.o.length < 48) throw new PdfEncryptionError('/O or /U is shorter than 48 bytes');
  const u48 = s.u.subarray(0, 48);
  let result: Attempt;
  if (safeEqual(hardenedHash(s.r, pw, s.o.subarray(32, 40), u48), s.o.subarray(0, 32))) {
    result = { key: unwrapKey(hardenedHash(s.r, pw, s.o.subarray(40, 48), u48), s.oe!), as: 'owner' };
  } else if (safeEqual(hardenedHash(s.r, pw, s.u.subarray(32, 40), Buffer.alloc(0)), s.u.subarray(0, 32))) {
    result = {
      key: unwrapKey(hardenedHash(s.r, pw, s.u.subarray(40, 48), Buffer.alloc(0)), s.ue!),
      as: 'user',
    };
  }
  if (result && s.r >= 6) checkPerms(s, result.key);
  return result;
}

/** §7.6.4.4 Algorithm 13: /Perms must decrypt to P, "adb" with the file key. */
function checkPerms(s: StandardParams, key: Buffer): void {
  if (!s.perms || s.perms.length < 16)
    throw new PdfEncryptionError('/Perms is missing or shorter than 16 bytes');
  const d = createDecipheriv('aes-256-ecb', key, null);
  d.setAutoPadding(false);
  const plain = Buffer.concat([d.update(s.perms.subarray(0, 16)), d.final()]);
  if (plain.toString('latin1', 9, 12) !== 'adb' || plain.readInt32LE(0) !== s.p)
    throw new PdfEncryptionError('/Perms does not match /P: the encryption dictionary was altered');
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
