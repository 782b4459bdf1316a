import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { PdfEncryptionError, PdfUnsupportedError } from '../errors.js';
import type { PdfDict } from '../objects.js';
import { rc4 } from './rc4.js';

/** How one crypt filter encrypts (ISO 32000-2 §7.6.6, /CFM). `Identity` and `None` leave data as is. */
export type CryptMethod = 'Identity' | 'None' | 'RC4' | 'AESV2' | 'AESV3';

/** What a security handler established; the writer uses it to encrypt new objects the same way. */
export interface EncryptionInfo {
  /** /Filter of the encryption dictionary: "Standard", "Adobe.PubSec", … */
  filter: string;
  subFilter?: string;
  /** /V and /R (R is absent for public-key handlers). */
  v: number;
  r?: number;
  /** File key length in bits. */
  keyBits: number;
  /** Methods of /StrF and /StmF (or the single method of V 1/2). */
  stringMethod: CryptMethod;
  streamMethod: CryptMethod;
  /** Named crypt filters from /CF, plus "Identity". */
  cryptFilters: Record<string, CryptMethod>;
  /** /P as a signed 32-bit integer (bit positions per Table 22). */
  permissions: number;
  encryptMetadata: boolean;
  /** The file encryption key, after authentication. Treat as secret. */
  fileKey: Buffer;
  /** Which password opened the document (standard handler) or "recipient" (public-key handler). */
  authenticatedAs: 'user' | 'owner' | 'recipient';
}

/**
 * Encrypts and decrypts strings and streams of one document. The document reader decides *what* is
 * encrypted (not xref streams, not the /Encrypt dictionary, not a signature's /Contents, not metadata
 * when EncryptMetadata is false); the handler only knows *how*. `cryptFilter` names a /CF entry chosen
 * by a stream's own /Crypt filter; absent, /StmF applies.
 */
export interface SecurityHandler {
  readonly info: EncryptionInfo;
  decryptString(objNum: number, gen: number, bytes: Buffer): Buffer;
  decryptStream(objNum: number, gen: number, bytes: Buffer, cryptFilter?: string): Buffer;
  encryptString(objNum: number, gen: number, bytes: Buffer): Buffer;
  encryptStream(objNum: number, gen: number, bytes: Buffer, cryptFilter?: string): Buffer;
}

/**
 * The key for one object (§7.6.3.3 Algorithm 1: MD5 of the file key, the object number and generation,
 * and "sAlT" for AES); AESV3 uses the file key itself. Shared by the whole-buffer handler below and the
 * chunked stream cipher.
 */
export function objectKey(
  info: EncryptionInfo | undefined,
  method: CryptMethod,
  num: number,
  gen: number,
): Buffer {
  if (!info) throw new PdfEncryptionError(`crypt method ${method} needs a file key, and there is none`);
  if (method === 'AESV3') return info.fileKey;
  const h = createHash('md5')
    .update(info.fileKey)
    .update(Buffer.from([num & 0xff, (num >> 8) & 0xff, (num >> 16) & 0xff, gen & 0xff, (gen >> 8) & 0xff]));
  if (method === 'AESV2') h.update(Buffer.from('sAlT', 'latin1'));
  return h.digest().subarray(0, Math.min(info.fileKey.length + 5, 16));
}

/**
 * The crypt-filter machinery shared by every handler once the file key is known (§7.6.3.3 Algorithm 1
 * for per-object keys; AESV3 uses the file key directly). A public-key handler derives the key from its
 * recipients and then builds one of these with the same info.
 */
export class FileKeySecurityHandler implements SecurityHandler {
  constructor(readonly info: EncryptionInfo) {}

  decryptString(objNum: number, gen: number, bytes: Buffer): Buffer {
    return this.apply('decrypt', this.info.stringMethod, objNum, gen, bytes);
  }
  decryptStream(objNum: number, gen: number, bytes: Buffer, cryptFilter?: string): Buffer {
    return this.apply('decrypt', this.streamMethod(cryptFilter), objNum, gen, bytes);
  }
  encryptString(objNum: number, gen: number, bytes: Buffer): Buffer {
    return this.apply('encrypt', this.info.stringMethod, objNum, gen, bytes);
  }
  encryptStream(objNum: number, gen: number, bytes: Buffer, cryptFilter?: string): Buffer {
    return this.apply('encrypt', this.streamMethod(cryptFilter), objNum, gen, bytes);
  }

  private streamMethod(cryptFilter: string | undefined): CryptMethod {
    if (cryptFilter === undefined) return this.info.streamMethod;
    const m = this.info.cryptFilters[cryptFilter];
    if (!m)
      throw new PdfEncryptionError(`stream names crypt filter /${cryptFilter}, which /CF does not define`);
    return m;
  }

  private apply(
    dir: 'encrypt' | 'decrypt',
    method: CryptMethod,
    objNum: number,
    gen: number,
    bytes: Buffer,
  ): Buffer {
    switch (method) {
      case 'Identity':
      case 'None':
        return bytes;
      case 'RC4':
        return rc4(objectKey(this.info, 'RC4', objNum, gen), bytes);
      case 'AESV2':
        return aesCbc(dir, objectKey(this.info, 'AESV2', objNum, gen), bytes);
      case 'AESV3':
        return aesCbc(dir, this.info.fileKey, bytes);
    }
  }
}

/**
 * AES-CBC with the IV as the first 16 bytes and PKCS#5 padding (§7.6.3.2). On decryption a data length
 * that is not a whole number of blocks or a bad padding is tolerated (kept unpadded) — real files have
 * both, and the bytes are then checked by whatever parses them.
 */
export function aesCbc(dir: 'encrypt' | 'decrypt', key: Buffer, bytes: Buffer): Buffer {
  const algo = key.length === 32 ? 'aes-256-cbc' : 'aes-128-cbc';
  if (dir === 'encrypt') {
    const iv = randomBytes(16);
    const c = createCipheriv(algo, key, iv);
    return Buffer.concat([iv, c.update(bytes), c.final()]);
  }
  if (bytes.length < 16) return Buffer.alloc(0);
  const body = bytes.subarray(16, 16 + Math.floor((bytes.length - 16) / 16) * 16);
  const d = createDecipheriv(algo, key, bytes.subarray(0, 16));
  d.setAutoPadding(false);
  const plain = Buffer.concat([d.update(body), d.final()]);
  const pad = plain.length ? plain[plain.length - 1]! : 0;
  if (
    pad >= 1 &&
    pad <= 16 &&
    pad <= plain.length &&
    plain.subarray(plain.length - pad).every((b) => b === pad)
  )
    return plain.subarray(0, plain.length - pad);
  return plain;
}

/** The crypt-filter part of an encryption dictionary (§7.6.2 Table 20, §7.6.6), common to all handlers. */
export interface CryptConfig {
  v: number;
  keyBits: number;
  stringMethod: CryptMethod;
  streamMethod: CryptMethod;
  cryptFilters: Record<string, CryptMethod>;
  encryptMetadata: boolean;
}

/** Read /V, /Length, /CF, /StmF, /StrF, /EncryptMetadata. Nested dictionaries must be direct. */
export function readCryptConfig(encrypt: PdfDict): CryptConfig {
  const v = encrypt.getNumber('V') ?? 0;
  const encryptMetadata =
    encrypt.get('EncryptMetadata')?.kind === 'boolean'
      ? (encrypt.get('EncryptMetadata') as { value: boolean }).value
      : true;
  if (v === 1 || v === 2) {
    const bits = v === 1 ? 40 : (encrypt.getNumber('Length') ?? 40);
    if (bits < 40 || bits > 128 || bits % 8 !== 0)
      throw new PdfEncryptionError(`/Encrypt /Length ${bits} is not a key length in bits between 40 and 128`);
    return {
      v,
      keyBits: bits,
      stringMethod: 'RC4',
      streamMethod: 'RC4',
      cryptFilters: { Identity: 'Identity' },
      encryptMetadata,
    };
  }
  if (v !== 4 && v !== 5)
    throw new PdfEncryptionError(`/Encrypt /V ${v} is not supported (expected 1, 2, 4 or 5)`);
  const cryptFilters: Record<string, CryptMethod> = { Identity: 'Identity' };
  const cf = encrypt.get('CF');
  let keyBits = v === 5 ? 256 : 128;
  if (cf?.kind === 'dict') {
    for (const [name, entry] of cf.entries) {
      if (entry.kind !== 'dict') throw new PdfEncryptionError(`/CF /${name} is not a dictionary`);
      const cfm = entry.getName('CFM') ?? 'None';
      const method: CryptMethod | undefined =
        cfm === 'V2'
          ? 'RC4'
          : cfm === 'AESV2'
            ? 'AESV2'
            : cfm === 'AESV3'
              ? 'AESV3'
              : cfm === 'None'
                ? 'None'
                : undefined;
      if (!method) throw new PdfUnsupportedError(`crypt filter method /${cfm} is not supported`);
      cryptFilters[name] = method;
      // /Length in a V 4 crypt filter is in bytes for AESV2 (some writers use bits).
      const len = entry.getNumber('Length');
      if (v === 4 && method === 'RC4' && len !== undefined) keyBits = len <= 16 ? len * 8 : len;
    }
  }
  const pick = (key: string): CryptMethod => {
    const name = encrypt.getName(key) ?? 'Identity';
    const m = cryptFilters[name];
    if (!m) throw new PdfEncryptionError(`/${key} names crypt filter /${name}, which /CF does not define`);
    return m;
  };
  if (keyBits < 40 || keyBits > 256 || keyBits % 8 !== 0)
    throw new PdfEncryptionError(`crypt filter key length ${keyBits} bits is invalid`);
  return {
    v,
    keyBits,
    stringMethod: pick('StrF'),
    streamMethod: pick('StmF'),
    cryptFilters,
    encryptMetadata,
  };
}
