import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  sign as cryptoSign,
  privateEncrypt,
  constants,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import { p256, p384 } from '@noble/curves/nist.js';
import type { HashAlgorithm, KeyAlgorithm, KeyHandle, SignOptions } from './key-handle.js';
import { isRsa } from './key-handle.js';

const generateKeyPairAsync = promisify(generateKeyPair);
const signAsync = promisify(cryptoSign) as (
  alg: string | null,
  data: Uint8Array,
  key: KeyObject | { key: KeyObject; padding?: number; saltLength?: number; dsaEncoding?: 'der' },
) => Promise<Buffer>;

/** DigestInfo prefixes (RFC 8017 §9.2 note 1) so a precomputed digest can be signed with raw PKCS#1 v1.5. */
const DIGEST_INFO_PREFIX: Record<HashAlgorithm, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

export function digestInfo(digest: Uint8Array, hash: HashAlgorithm): Buffer {
  return Buffer.concat([DIGEST_INFO_PREFIX[hash], digest]);
}

/** A private key held in process memory. At rest it is only ever stored sealed (see key-seal.ts). */
export class SoftwareKey implements KeyHandle {
  readonly backend = 'software' as const;
  readonly spki: Buffer;

  private constructor(
    readonly algorithm: KeyAlgorithm,
    private readonly privateKey: KeyObject,
  ) {
    this.spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  }

  static async generate(algorithm: KeyAlgorithm): Promise<SoftwareKey> {
    const { privateKey } = await generateKeyPairAsync(...generationParams(algorithm));
    return new SoftwareKey(algorithm, privateKey as unknown as KeyObject);
  }

  /** Load from unencrypted PKCS#8 DER (as it comes out of a sealed blob or a PKCS#12 bag). */
  static fromPkcs8(der: Uint8Array): SoftwareKey {
    const key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
    return new SoftwareKey(algorithmOf(key), key);
  }

  static fromKeyObject(key: KeyObject): SoftwareKey {
    return new SoftwareKey(algorithmOf(key), key);
  }

  /** PKCS#8 DER of the private key: only for sealing or PKCS#12 export, never for storage in clear. */
  exportPkcs8(): Buffer {
    return this.privateKey.export({ type: 'pkcs8', format: 'der' });
  }

  get keyObject(): KeyObject {
    return this.privateKey;
  }

  sign(data: Uint8Array, hash: HashAlgorithm, options?: SignOptions): Promise<Buffer> {
    if (this.algorithm === 'ed25519') return signAsync(null, data, this.privateKey);
    return signAsync(hash, data, this.keyParams(hash, options));
  }

  async signDigest(digest: Uint8Array, hash: HashAlgorithm, options?: SignOptions): Promise<Buffer> {
    if (this.algorithm === 'ed25519') throw new Error('Ed25519 signs whole messages, not digests');
    if (isRsa(this.algorithm)) {
      // node:crypto has no "PSS over a given digest" form; callers that need it use the PKCS#11 backend.
      if (options?.pss) throw new Error('RSASSA-PSS over a precomputed digest needs a PKCS#11 key');
      // PKCS#1 v1.5 type-1 padding over a DigestInfo we build (RFC 8017 §9.2): the private "encrypt".
      return privateEncrypt(
        { key: this.privateKey, padding: constants.RSA_PKCS1_PADDING },
        digestInfo(digest, hash),
      );
    }
    // node:crypto always hashes for ECDSA, so sign the given digest with @noble/curves (RFC 6979 nonces).
    const jwk = this.privateKey.export({ format: 'jwk' });
    const scalar = Buffer.from(jwk.d ?? '', 'base64url');
    const curve = this.algorithm === 'ec-p256' ? p256 : p384;
    const compact = curve.sign(digest, scalar, { prehash: false, lowS: false });
    return ecdsaCompactToDer(Buffer.from(compact));
  }

  private keyParams(hash: HashAlgorithm, options?: SignOptions) {
    if (isRsa(this.algorithm) && options?.pss) {
      const saltLength = hash === 'sha256' ? 32 : hash === 'sha384' ? 48 : 64;
      return { key: this.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength };
    }
    return { key: this.privateKey, dsaEncoding: 'der' as const };
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- generateKeyPair's overloads need a literal type
function generationParams(algorithm: KeyAlgorithm): [any, any] {
  switch (algorithm) {
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return ['rsa', { modulusLength: Number(algorithm.slice(4)), publicExponent: 0x10001 }];
    case 'ec-p256':
      return ['ec', { namedCurve: 'P-256' }];
    case 'ec-p384':
      return ['ec', { namedCurve: 'P-384' }];
    case 'ed25519':
      return ['ed25519', {}];
  }
}

export function algorithmOf(key: KeyObject): KeyAlgorithm {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const bits = details.modulusLength;
      if (bits === 2048 || bits === 3072 || bits === 4096) return `rsa-${bits}`;
      throw new Error(`unsupported RSA key size ${bits}; use 2048, 3072 or 4096 bits`);
    }
    case 'ec':
      if (details.namedCurve === 'prime256v1') return 'ec-p256';
      if (details.namedCurve === 'secp384r1') return 'ec-p384';
      throw new Error(`unsupported EC curve ${details.namedCurve}; use P-256 or P-384`);
    case 'ed25519':
      return 'ed25519';
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
  }
}

/** r||s (fixed width) → DER Ecdsa-Sig-Value (RFC 3279 §2.2.3). */
export function ecdsaCompactToDer(compact: Buffer): Buffer {
  const half = compact.length / 2;
  const integer = (bytes: Buffer): Buffer => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    let v = bytes.subarray(i);
    if ((v[0] ?? 0) & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([integer(compact.subarray(0, half)), integer(compact.subarray(half))]);
  const len = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([0x30]), len, body]);
}
