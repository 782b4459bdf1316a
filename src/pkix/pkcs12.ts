/**
 * PKCS#12 (RFC 7292) export and import of one private key with its certificate and chain.
 *
 * Written forms:
 * - default: key and certificate bags under PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC, RFC 8018), MAC HMAC-SHA256
 *   with the PKCS#12 KDF — the layout OpenSSL 3 writes;
 * - legacy: both bags under pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292 App. C), MAC HMAC-SHA1 — what gpgsm 2.2
 *   and older NSS can import.
 * Read forms: those, plus OpenSSL's `-legacy` (RC2-40 certificate bag), AES-128/192 and 3DES under PBES2, plain
 * keyBags and nested safeContentsBags.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  hash as oneShotHash,
  pbkdf2Sync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import {
  bmpString,
  checkDer,
  children,
  decodeOid,
  decodeSmallInteger,
  derNull,
  explicit,
  integer,
  octetString,
  oid,
  sequence,
  setOf,
  TAG,
  tlv,
  tlvBytes,
  tlvContent,
  utf16be,
  type Tlv,
} from './der.js';
import { Asn1Error, Pkcs12Error } from './errors.js';
import { OID_ALG, OID_CT, OID_PKCS12, OID_PKCS9 } from './oids.js';
import { parseCertificate } from './certificate.js';
import { rc2CbcDecrypt } from './rc2.js';

export interface Pkcs12Contents {
  /** PKCS#8 PrivateKeyInfo DER. */
  privateKey: Buffer;
  certificate: Buffer;
  chain: Buffer[];
  friendlyName?: string;
}

export interface Pkcs12Options {
  password: string;
  /** PBE-SHA1-3DES bags and an HMAC-SHA1 MAC, for gpgsm 2.2 and old NSS. */
  legacy?: boolean;
  /** KDF iterations for the bags and the MAC (default 100 000). */
  iterations?: number;
}

export const DEFAULT_PKCS12_ITERATIONS = 100_000;
/** Bounds on what we will compute for an untrusted file, so a crafted iteration count cannot stall the process. */
const MAX_PBKDF2_ITERATIONS = 10_000_000;
const MAX_PKCS12_KDF_ITERATIONS = 1_000_000;
const MAX_PKCS12_BYTES = 4 * 1024 * 1024;
const MAX_NESTING = 4;
const INTEGRITY_FAILED = 'PKCS#12: wrong password, or the file is damaged (integrity check failed)';

type KdfHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';
const KDF_HASH_BY_OID = new Map<string, KdfHash>([
  [OID_ALG.sha1, 'sha1'],
  [OID_ALG.sha256, 'sha256'],
  [OID_ALG.sha384, 'sha384'],
  [OID_ALG.sha512, 'sha512'],
]);
const HMAC_PRF_BY_OID = new Map<string, KdfHash>([
  [OID_ALG.hmacWithSHA1, 'sha1'],
  [OID_ALG.hmacWithSHA256, 'sha256'],
  [OID_ALG.hmacWithSHA384, 'sha384'],
  [OID_ALG.hmacWithSHA512, 'sha512'],
]);
const PBES2_CIPHERS = new Map<string, { name: string; keyLength: number; ivLength: number }>([
  [OID_ALG.aes128Cbc, { name: 'aes-128-cbc', keyLength: 16, ivLength: 16 }],
  [OID_ALG.aes192Cbc, { name: 'aes-192-cbc', keyLength: 24, ivLength: 16 }],
  [OID_ALG.aes256Cbc, { name: 'aes-256-cbc', keyLength: 32, ivLength: 16 }],
  [OID_ALG.desEde3Cbc, { name: 'des-ede3-cbc', keyLength: 24, ivLength: 8 }],
]);

// ---------------------------------------------------------------- key derivation

/** PKCS#12 passwords for the PKCS#12 KDF: BMPString with a terminating NUL (RFC 7292 App. B.1). */
function bmpPassword(password: string): Buffer {
  return Buffer.concat([utf16be(password), Buffer.alloc(2)]);
}

/** Repeat `data` to fill a multiple of `v` bytes (RFC 7292 App. B.2 steps 2–3); empty stays empty. */
function fillBlocks(data: Buffer, v: number): Buffer {
  if (data.length === 0) return data;
  const out = Buffer.alloc(v * Math.ceil(data.length / v));
  for (let i = 0; i < out.length; i++) out[i] = data[i % data.length] as number;
  return out;
}

/** PKCS#12 key derivation (RFC 7292 App. B.2). id 1 = key, 2 = IV, 3 = MAC key. */
export function pkcs12Kdf(
  hash: KdfHash,
  password: Buffer,
  salt: Buffer,
  id: 1 | 2 | 3,
  iterations: number,
  length: number,
): Buffer {
  const v = hash === 'sha384' || hash === 'sha512' ? 128 : 64;
  const d = Buffer.alloc(v, id);
  const i = Buffer.concat([fillBlocks(salt, v), fillBlocks(password, v)]);
  const parts: Buffer[] = [];
  let produced = 0;
  for (;;) {
    let a = createHash(hash).update(d).update(i).digest();
    for (let r = 1; r < iterations; r++) a = oneShotHash(hash, a, 'buffer');
    parts.push(a);
    produced += a.length;
    if (produced >= length) break;
    // I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block of I, with B = A repeated to v bytes.
    const b = fillBlocks(a, v).subarray(0, v);
    for (let offset = 0; offset < i.length; offset += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = (i[offset + k] as number) + (b[k] as number) + carry;
        i[offset + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(parts).subarray(0, length);
}

// ---------------------------------------------------------------- encryption schemes (writing)

interface BagEncryption {
  algorithmId: Buffer;
  ciphertext: Buffer;
}

function encryptPbes2(plaintext: Buffer, password: string, iterations: number): BagEncryption {
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  // PBES2 in PKCS#12 takes the password as its UTF-8 bytes, as OpenSSL does (not the BMPString form).
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const kdf = sequence(
    oid(OID_ALG.pbkdf2),
    sequence(octetString(salt), integer(iterations), sequence(oid(OID_ALG.hmacWithSHA256), derNull())),
  );
  return {
    algorithmId: sequence(
      oid(OID_ALG.pbes2),
      sequence(kdf, sequence(oid(OID_ALG.aes256Cbc), octetString(iv))),
    ),
    ciphertext: Buffer.concat([cipher.update(plaintext), cipher.final()]),
  };
}

function encryptPbeSha1TripleDes(plaintext: Buffer, password: string, iterations: number): BagEncryption {
  const salt = randomBytes(8);
  const pw = bmpPassword(password);
  const key = pkcs12Kdf('sha1', pw, salt, 1, iterations, 24);
  const iv = pkcs12Kdf('sha1', pw, salt, 2, iterations, 8);
  const cipher = createCipheriv('des-ede3-cbc', key, iv);
  return {
    algorithmId: sequence(
      oid(OID_PKCS12.pbeWithSHAAnd3KeyTripleDesCbc),
      sequence(octetString(salt), integer(iterations)),
    ),
    ciphertext: Buffer.concat([cipher.update(plaintext), cipher.final()]),
  };
}

// ---------------------------------------------------------------- building

function attribute(type: string, value: Buffer): Buffer {
  return sequence(oid(type), setOf(value));
}

function bagAttributes(localKeyId: Buffer, friendlyName?: string): Buffer {
  const attrs = [attribute(OID_PKCS9.localKeyId, octetString(localKeyId))];
  if (friendlyName) attrs.push(attribute(OID_PKCS9.friendlyName, bmpString(friendlyName)));
  return setOf(...attrs);
}

function certBag(cert: Buffer, attributes?: Buffer): Buffer {
  const value = sequence(oid(OID_PKCS9.x509Certificate), explicit(0, octetString(cert)));
  return sequence(oid(OID_PKCS12.certBag), explicit(0, value), ...(attributes ? [attributes] : []));
}

/** Build a password-protected PKCS#12 file. The key and its certificate share a localKeyId (SHA-1 of the cert). */
export function buildPkcs12(c: Pkcs12Contents & Pkcs12Options): Buffer {
  const iterations = c.iterations ?? DEFAULT_PKCS12_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_PKCS12_KDF_ITERATIONS) {
    throw new RangeError(`iterations must be an integer from 1 to ${MAX_PKCS12_KDF_ITERATIONS}`);
  }
  const encrypt = c.legacy ? encryptPbeSha1TripleDes : encryptPbes2;
  const localKeyId = createHash('sha1').update(c.certificate).digest();
  const attributes = bagAttributes(localKeyId, c.friendlyName);

  const certs = sequence(certBag(c.certificate, attributes), ...c.chain.map((cert) => certBag(cert)));
  const encryptedCerts = encrypt(certs, c.password, iterations);
  const certsInfo = sequence(
    oid(OID_CT.encryptedData),
    explicit(
      0,
      sequence(
        integer(0),
        sequence(oid(OID_CT.data), encryptedCerts.algorithmId, tlv(0x80, encryptedCerts.ciphertext)), // [0] IMPLICIT
      ),
    ),
  );

  const encryptedKey = encrypt(c.privateKey, c.password, iterations);
  const shroudedKey = sequence(encryptedKey.algorithmId, octetString(encryptedKey.ciphertext));
  const keyBag = sequence(oid(OID_PKCS12.pkcs8ShroudedKeyBag), explicit(0, shroudedKey), attributes);
  const keyInfo = sequence(oid(OID_CT.data), explicit(0, octetString(sequence(keyBag))));

  // OpenSSL order: certificates first, then the key.
  const authSafe = sequence(certsInfo, keyInfo);

  const macHash: KdfHash = c.legacy ? 'sha1' : 'sha256';
  const macSalt = randomBytes(c.legacy ? 8 : 16);
  const macDigestOid = c.legacy ? OID_ALG.sha1 : OID_ALG.sha256;
  const mac = computeMac(macHash, bmpPassword(c.password), macSalt, iterations, authSafe);
  const macData = sequence(
    sequence(sequence(oid(macDigestOid), derNull()), octetString(mac)),
    octetString(macSalt),
    integer(iterations),
  );
  return sequence(integer(3), sequence(oid(OID_CT.data), explicit(0, octetString(authSafe))), macData);
}

function computeMac(hash: KdfHash, password: Buffer, salt: Buffer, iterations: number, data: Buffer): Buffer {
  const length = createHash(hash).digest().length;
  const key = pkcs12Kdf(hash, password, salt, 3, iterations, length);
  return createHmac(hash, key).update(data).digest();
}

// ---------------------------------------------------------------- reading

/** A cursor over one DER buffer: small typed accessors that fail with Asn1Error naming the structure. */
class Der {
  constructor(
    readonly buf: Buffer,
    readonly what: string,
  ) {}

  static of(buf: Buffer, what: string): { der: Der; root: Tlv } {
    const root = checkDer(buf, what, { maxBytes: MAX_PKCS12_BYTES });
    return { der: new Der(buf, what), root };
  }

  expect(t: Tlv | undefined, tag: number, field: string): Tlv {
    if (!t || t.tag !== tag) throw new Asn1Error(`${this.what}: ${field} missing or of the wrong type`);
    return t;
  }

  items(t: Tlv | undefined, field: string, tag: number = TAG.SEQUENCE): Tlv[] {
    return children(this.buf, this.expect(t, tag, field), this.what);
  }

  oid(t: Tlv | undefined, field: string): string {
    return decodeOid(tlvContent(this.buf, this.expect(t, TAG.OID, field)));
  }

  int(t: Tlv | undefined, field: string): number {
    return decodeSmallInteger(
      tlvContent(this.buf, this.expect(t, TAG.INTEGER, field)),
      `${this.what} ${field}`,
    );
  }

  /** OCTET STRING content; a constructed OCTET STRING (BER, some Windows/Java exports) is concatenated. */
  octets(t: Tlv | undefined, field: string): Buffer {
    if (t && t.tag === (TAG.OCTET_STRING | 0x20)) {
      return Buffer.concat(children(this.buf, t, this.what).map((c) => this.octets(c, field)));
    }
    return tlvContent(this.buf, this.expect(t, TAG.OCTET_STRING, field));
  }

  bytes(t: Tlv): Buffer {
    return tlvBytes(this.buf, t);
  }

  content(t: Tlv): Buffer {
    return tlvContent(this.buf, t);
  }
}

/** Decrypt a bag or EncryptedData content under the AlgorithmIdentifier at `algTlv`. */
function decrypt(der: Der, algTlv: Tlv | undefined, ciphertext: Buffer, password: string): Buffer {
  const [algOid, params] = der.items(algTlv, 'encryption AlgorithmIdentifier');
  const algorithm = der.oid(algOid, 'encryption algorithm');
  try {
    if (algorithm === OID_ALG.pbes2) return decryptPbes2(der, params, ciphertext, password);
    return decryptPkcs12Pbe(der, algorithm, params, ciphertext, password);
  } catch (e) {
    if (e instanceof Pkcs12Error || e instanceof Asn1Error) throw e;
    throw new Pkcs12Error(INTEGRITY_FAILED); // bad padding: wrong password for a file without MAC, or damage
  }
}

function decryptPbes2(der: Der, params: Tlv | undefined, ciphertext: Buffer, password: string): Buffer {
  const [kdfTlv, encTlv] = der.items(params, 'PBES2-params');
  const [kdfOid, kdfParams] = der.items(kdfTlv, 'PBES2 keyDerivationFunc');
  if (der.oid(kdfOid, 'KDF') !== OID_ALG.pbkdf2)
    throw new Pkcs12Error('PKCS#12: PBES2 with a KDF other than PBKDF2 is not supported');
  const fields = der.items(kdfParams, 'PBKDF2-params');
  const salt = der.octets(fields[0], 'PBKDF2 salt');
  const iterations = der.int(fields[1], 'PBKDF2 iterationCount');
  let prf: KdfHash = 'sha1';
  for (const f of fields.slice(2)) {
    if (f.tag !== TAG.SEQUENCE) continue; // keyLength INTEGER: implied by the cipher
    const name = HMAC_PRF_BY_OID.get(der.oid(der.items(f, 'PBKDF2 prf')[0], 'PBKDF2 prf'));
    if (!name) throw new Pkcs12Error('PKCS#12: unsupported PBKDF2 pseudo-random function');
    prf = name;
  }
  if (iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) {
    throw new Pkcs12Error(
      `PKCS#12: PBKDF2 iteration count ${iterations} is outside 1…${MAX_PBKDF2_ITERATIONS}`,
    );
  }
  const [encOid, ivTlv] = der.items(encTlv, 'PBES2 encryptionScheme');
  const cipher = PBES2_CIPHERS.get(der.oid(encOid, 'PBES2 cipher'));
  if (!cipher) throw new Pkcs12Error('PKCS#12: unsupported PBES2 cipher (supported: AES-CBC, 3DES-CBC)');
  const iv = der.octets(ivTlv, 'PBES2 IV');
  if (iv.length !== cipher.ivLength) throw new Asn1Error(`${der.what}: PBES2 IV has the wrong length`);
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, cipher.keyLength, prf);
  const decipher = createDecipheriv(cipher.name, key, iv);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

function decryptPkcs12Pbe(
  der: Der,
  algorithm: string,
  params: Tlv | undefined,
  ciphertext: Buffer,
  password: string,
): Buffer {
  const [saltTlv, iterTlv] = der.items(params, 'pkcs-12PbeParams');
  const salt = der.octets(saltTlv, 'PBE salt');
  const iterations = der.int(iterTlv, 'PBE iterations');
  if (iterations < 1 || iterations > MAX_PKCS12_KDF_ITERATIONS) {
    throw new Pkcs12Error(
      `PKCS#12: PBE iteration count ${iterations} is outside 1…${MAX_PKCS12_KDF_ITERATIONS}`,
    );
  }
  const pw = bmpPassword(password);
  const derive = (keyLength: number, ivLength: number) => ({
    key: pkcs12Kdf('sha1', pw, salt, 1, iterations, keyLength),
    iv: pkcs12Kdf('sha1', pw, salt, 2, iterations, ivLength),
  });
  switch (algorithm) {
    case OID_PKCS12.pbeWithSHAAnd3KeyTripleDesCbc: {
      const { key, iv } = derive(24, 8);
      const decipher = createDecipheriv('des-ede3-cbc', key, iv);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    }
    case OID_PKCS12.pbeWithSHAAnd40BitRC2Cbc: {
      const { key, iv } = derive(5, 8);
      return rc2CbcDecrypt(key, 40, iv, ciphertext);
    }
    case OID_PKCS12.pbeWithSHAAnd128BitRC2Cbc: {
      const { key, iv } = derive(16, 8);
      return rc2CbcDecrypt(key, 128, iv, ciphertext);
    }
    default:
      throw new Pkcs12Error(`PKCS#12: unsupported encryption algorithm ${algorithm}`);
  }
}

function verifyMac(der: Der, macTlv: Tlv, authSafe: Buffer, password: string): void {
  const [digestInfo, saltTlv, iterTlv] = der.items(macTlv, 'MacData');
  const [algTlv, digestTlv] = der.items(digestInfo, 'MacData DigestInfo');
  const hash = KDF_HASH_BY_OID.get(der.oid(der.items(algTlv, 'MAC algorithm')[0], 'MAC algorithm'));
  if (!hash)
    throw new Pkcs12Error('PKCS#12: unsupported MAC hash (supported: SHA-1, SHA-256, SHA-384, SHA-512)');
  const expected = der.octets(digestTlv, 'MAC value');
  const salt = der.octets(saltTlv, 'MAC salt');
  const iterations = iterTlv ? der.int(iterTlv, 'MAC iterations') : 1;
  if (iterations < 1 || iterations > MAX_PKCS12_KDF_ITERATIONS) {
    throw new Pkcs12Error(
      `PKCS#12: MAC iteration count ${iterations} is outside 1…${MAX_PKCS12_KDF_ITERATIONS}`,
    );
  }
  const matches = (pw: Buffer): boolean => {
    const actual = computeMac(hash, pw, salt, iterations, authSafe);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  };
  // An empty password is written by some tools as zero bytes instead of a lone BMP NUL: accept either.
  if (matches(bmpPassword(password)) || (password === '' && matches(Buffer.alloc(0)))) return;
  throw new Pkcs12Error(INTEGRITY_FAILED);
}

interface Bag {
  kind: 'key' | 'cert';
  value: Buffer;
  localKeyId?: Buffer;
  friendlyName?: string;
}

function readAttributes(der: Der, setTlv: Tlv | undefined): Pick<Bag, 'localKeyId' | 'friendlyName'> {
  const out: Pick<Bag, 'localKeyId' | 'friendlyName'> = {};
  if (!setTlv) return out;
  for (const attr of der.items(setTlv, 'bag attributes', TAG.SET)) {
    const [typeTlv, valuesTlv] = der.items(attr, 'bag attribute');
    const type = der.oid(typeTlv, 'attribute type');
    const [value] = der.items(valuesTlv, 'attribute values', TAG.SET);
    if (type === OID_PKCS9.localKeyId) out.localKeyId = der.octets(value, 'localKeyId');
    if (type === OID_PKCS9.friendlyName) {
      const bmp = der.content(der.expect(value, TAG.BMP_STRING, 'friendlyName'));
      out.friendlyName = Buffer.from(bmp).swap16().toString('utf16le');
    }
  }
  return out;
}

function readSafeContents(bytes: Buffer, password: string, depth: number, bags: Bag[]): void {
  if (depth > MAX_NESTING) throw new Asn1Error('PKCS#12: safe contents nested too deeply');
  const { der, root } = Der.of(bytes, 'PKCS#12 SafeContents');
  for (const bagTlv of der.items(root, 'SafeContents')) {
    const [idTlv, valueTlv, attrTlv] = der.items(bagTlv, 'SafeBag');
    const bagId = der.oid(idTlv, 'bagId');
    const [value] = der.items(der.expect(valueTlv, 0xa0, 'bagValue'), 'bagValue', 0xa0);
    const attributes = readAttributes(der, attrTlv);
    switch (bagId) {
      case OID_PKCS12.keyBag:
        bags.push({
          kind: 'key',
          value: der.bytes(der.expect(value, TAG.SEQUENCE, 'keyBag')),
          ...attributes,
        });
        break;
      case OID_PKCS12.pkcs8ShroudedKeyBag: {
        const [alg, data] = der.items(value, 'EncryptedPrivateKeyInfo');
        const plain = decrypt(der, alg, der.octets(data, 'encryptedData'), password);
        bags.push({ kind: 'key', value: validDer(plain), ...attributes });
        break;
      }
      case OID_PKCS12.certBag: {
        const [certIdTlv, certValueTlv] = der.items(value, 'CertBag');
        if (der.oid(certIdTlv, 'certId') !== OID_PKCS9.x509Certificate) break; // SDSI certificates: ignore
        const [octets] = der.items(der.expect(certValueTlv, 0xa0, 'certValue'), 'certValue', 0xa0);
        bags.push({ kind: 'cert', value: der.octets(octets, 'certValue'), ...attributes });
        break;
      }
      case OID_PKCS12.safeContentsBag:
        readSafeContents(
          der.bytes(der.expect(value, TAG.SEQUENCE, 'safeContentsBag')),
          password,
          depth + 1,
          bags,
        );
        break;
      default:
        break; // CRL and secret bags are not ours to interpret
    }
  }
}

/** Decrypted data must be one DER element; a wrong key gives garbage that fails this check. */
function validDer(plain: Buffer): Buffer {
  try {
    checkDer(plain, 'decrypted bag', { maxBytes: MAX_PKCS12_BYTES });
    return plain;
  } catch {
    throw new Pkcs12Error(INTEGRITY_FAILED);
  }
}

function readAuthenticatedSafe(bytes: Buffer, password: string): Bag[] {
  const { der, root } = Der.of(bytes, 'PKCS#12 AuthenticatedSafe');
  const bags: Bag[] = [];
  for (const info of der.items(root, 'AuthenticatedSafe')) {
    const [typeTlv, contentTlv] = der.items(info, 'ContentInfo');
    const contentType = der.oid(typeTlv, 'contentType');
    const [content] = der.items(der.expect(contentTlv, 0xa0, 'content'), 'content', 0xa0);
    if (contentType === OID_CT.data) {
      readSafeContents(der.octets(content, 'data'), password, 1, bags);
    } else if (contentType === OID_CT.encryptedData) {
      const [, eci] = der.items(content, 'EncryptedData');
      const [, alg, encrypted] = der.items(eci, 'EncryptedContentInfo');
      if (!encrypted) continue; // no content: nothing to read
      // [0] IMPLICIT OCTET STRING: primitive (0x80) or, in BER, constructed (0xa0) with OCTET STRING parts.
      const ciphertext =
        encrypted.tag === 0x80
          ? der.content(encrypted)
          : Buffer.concat(
              der
                .items(der.expect(encrypted, 0xa0, 'encryptedContent'), 'encryptedContent', 0xa0)
                .map((p) => der.octets(p, 'encryptedContent')),
            );
      readSafeContents(validDer(decrypt(der, alg, ciphertext, password)), password, 1, bags);
    } else {
      throw new Pkcs12Error(
        'PKCS#12: public-key privacy mode (enveloped bags) is not supported; export with a password',
      );
    }
  }
  return bags;
}

function spkiOfPrivateKey(pkcs8: Buffer): Buffer | undefined {
  try {
    return createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({
      type: 'spki',
      format: 'der',
    });
  } catch {
    return undefined;
  }
}

function spkiOfCertificate(cert: Buffer): Buffer | undefined {
  try {
    return parseCertificate(cert).spki;
  } catch {
    return undefined;
  }
}

/**
 * Open a PKCS#12 file (DER, ≤ 4 MiB) with `password`. Returns the first private key, the certificate that
 * belongs to it (by localKeyId, else by public key) and the other certificates as the chain.
 * Wrong password → Pkcs12Error (one message for wrong password and damaged file); malformed → Pkcs12Error.
 */
export function parsePkcs12(der: Uint8Array, password: string): Pkcs12Contents {
  try {
    return parsePkcs12Unchecked(Buffer.from(der), password);
  } catch (e) {
    if (e instanceof Pkcs12Error) throw e;
    throw new Pkcs12Error(`PKCS#12: malformed file (${(e as Error).message.split('\n')[0]})`);
  }
}

function parsePkcs12Unchecked(bytes: Buffer, password: string): Pkcs12Contents {
  const { der, root } = Der.of(bytes, 'PKCS#12 PFX');
  const [versionTlv, authSafeTlv, macTlv] = der.items(root, 'PFX');
  if (der.int(versionTlv, 'version') !== 3)
    throw new Pkcs12Error('PKCS#12: only version 3 files are supported');
  const [typeTlv, contentTlv] = der.items(authSafeTlv, 'authSafe');
  if (der.oid(typeTlv, 'authSafe contentType') !== OID_CT.data) {
    throw new Pkcs12Error(
      'PKCS#12: public-key integrity mode (signed authSafe) is not supported; export with a password',
    );
  }
  const [octets] = der.items(der.expect(contentTlv, 0xa0, 'authSafe content'), 'authSafe content', 0xa0);
  const authSafe = der.octets(octets, 'authSafe');
  if (macTlv) verifyMac(der, macTlv, authSafe, password);

  const bags = readAuthenticatedSafe(authSafe, password);
  const key = bags.find((b) => b.kind === 'key');
  if (!key) throw new Pkcs12Error('PKCS#12: the file holds no private key');
  const certs = bags.filter((b) => b.kind === 'cert');
  const keySpki = spkiOfPrivateKey(key.value);
  const own =
    certs.find((c) => key.localKeyId && c.localKeyId?.equals(key.localKeyId)) ??
    certs.find((c) => keySpki && spkiOfCertificate(c.value)?.equals(keySpki));
  if (!own) throw new Pkcs12Error('PKCS#12: no certificate in the file belongs to the private key');
  const friendlyName = key.friendlyName ?? own.friendlyName;
  return {
    privateKey: key.value,
    certificate: own.value,
    chain: certs.filter((c) => c !== own).map((c) => c.value),
    ...(friendlyName !== undefined ? { friendlyName } : {}),
  };
}
