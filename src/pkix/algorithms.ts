/** Algorithm identifiers (RFC 4055, 5480, 5754, 5758, 8410) and signature verification over node:crypto. */
import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { RsaSaPssParams } from '@peculiar/asn1-rsa';
import type { HashAlgorithm, KeyAlgorithm } from '../crypto/key-handle.js';
import { isEc, isRsa } from '../crypto/key-handle.js';
import {
  DerCache,
  TAG,
  asAsn1Error,
  children,
  decodeOid,
  explicit,
  integer,
  oid,
  readTlv,
  sequence,
  tlvContent,
} from './der.js';
import { Asn1Error } from './errors.js';
import { OID_ALG } from './oids.js';

const DIGEST_OID: Record<HashAlgorithm, string> = {
  sha256: OID_ALG.sha256,
  sha384: OID_ALG.sha384,
  sha512: OID_ALG.sha512,
};
const RSA_V15_OID: Record<HashAlgorithm, string> = {
  sha256: OID_ALG.sha256WithRSAEncryption,
  sha384: OID_ALG.sha384WithRSAEncryption,
  sha512: OID_ALG.sha512WithRSAEncryption,
};
const ECDSA_OID: Record<HashAlgorithm, string> = {
  sha256: OID_ALG.ecdsaWithSHA256,
  sha384: OID_ALG.ecdsaWithSHA384,
  sha512: OID_ALG.ecdsaWithSHA512,
};
export const HASH_LENGTH: Record<HashAlgorithm, number> = { sha256: 32, sha384: 48, sha512: 64 };

/** A handful of distinct AlgorithmIdentifiers occur in practice: each is decoded once. */
const algorithmIdentifiers = new DerCache<AlgorithmIdentifier>(256);

/**
 * Decode a DER AlgorithmIdentifier (Asn1Error when malformed). Every signature read carries one, so decoded
 * values are cached by their bytes and shared: treat the result as read-only.
 */
export function parseAlgorithmIdentifier(
  der: Uint8Array,
  where = 'AlgorithmIdentifier',
): AlgorithmIdentifier {
  return algorithmIdentifiers.get(der, () => {
    try {
      return AsnConvert.parse(der, AlgorithmIdentifier);
    } catch {
      throw new Asn1Error(`${where}: malformed AlgorithmIdentifier`);
    }
  });
}

/** Digest, RSA v1.5 and ECDSA signature OIDs → their hash. SHA-1 is deliberately absent: we never accept it. */
const HASH_BY_OID = new Map<string, HashAlgorithm>();
for (const h of ['sha256', 'sha384', 'sha512'] as const) {
  HASH_BY_OID.set(DIGEST_OID[h], h);
  HASH_BY_OID.set(RSA_V15_OID[h], h);
  HASH_BY_OID.set(ECDSA_OID[h], h);
}

/** The hash named by a digest OID (or by an RSA v1.5 / ECDSA signature OID); undefined for anything else. */
export function hashFromOid(oidString: string): HashAlgorithm | undefined {
  return HASH_BY_OID.get(oidString);
}

/** Digest AlgorithmIdentifier with absent parameters, as RFC 5754 §2 says to generate. */
export function digestAlgorithmId(hash: HashAlgorithm): AlgorithmIdentifier {
  return new AlgorithmIdentifier({ algorithm: DIGEST_OID[hash] });
}

/** RSASSA-PSS-params (RFC 4055 §3.1): MGF1 with the same hash, salt length = hash length, default trailer. */
function pssParams(hash: HashAlgorithm): Buffer {
  const hashAlg = sequence(oid(DIGEST_OID[hash]));
  const mgf = sequence(oid(OID_ALG.mgf1), hashAlg);
  return sequence(explicit(0, hashAlg), explicit(1, mgf), explicit(2, integer(HASH_LENGTH[hash])));
}

/**
 * The signatureAlgorithm for a key: RSA PKCS#1 v1.5 with NULL parameters (RFC 4055 §5), RSASSA-PSS with
 * explicit parameters, ECDSA without parameters (RFC 5758 §3.2), Ed25519 without parameters (RFC 8410 §3).
 */
export function signatureAlgorithmId(
  key: KeyAlgorithm,
  hash: HashAlgorithm,
  opts?: { pss?: boolean },
): AlgorithmIdentifier {
  if (isRsa(key)) {
    if (opts?.pss) {
      return new AlgorithmIdentifier({
        algorithm: OID_ALG.rsassaPss,
        parameters: new Uint8Array(pssParams(hash)).buffer,
      });
    }
    return new AlgorithmIdentifier({ algorithm: RSA_V15_OID[hash], parameters: null });
  }
  if (isEc(key)) return new AlgorithmIdentifier({ algorithm: ECDSA_OID[hash] });
  return new AlgorithmIdentifier({ algorithm: OID_ALG.ed25519 });
}

type VerifyPlan =
  | { keyType: 'rsa'; hash: HashAlgorithm; pss?: { saltLength: number } }
  | { keyType: 'ec'; hash: HashAlgorithm }
  | { keyType: 'ed25519' };

/** What node:crypto needs to check a signature with `alg`, or undefined when we do not accept the algorithm. */
function verifyPlan(alg: AlgorithmIdentifier): VerifyPlan | undefined {
  const hash = hashFromOid(alg.algorithm);
  if (alg.algorithm === OID_ALG.ed25519)
    return alg.parameters === undefined ? { keyType: 'ed25519' } : undefined;
  if (alg.algorithm === OID_ALG.rsassaPss) return pssPlan(alg.parameters);
  if (!hash) return undefined;
  if (alg.algorithm === RSA_V15_OID[hash]) return { keyType: 'rsa', hash };
  if (alg.algorithm === ECDSA_OID[hash]) return { keyType: 'ec', hash };
  return undefined;
}

function pssPlan(parameters: ArrayBuffer | null | undefined): VerifyPlan | undefined {
  if (!parameters) return undefined; // all-default parameters mean SHA-1: not accepted
  let params: RsaSaPssParams;
  try {
    params = AsnConvert.parse(parameters, RsaSaPssParams);
  } catch {
    return undefined;
  }
  const hash = hashFromOid(params.hashAlgorithm.algorithm);
  if (!hash || params.maskGenAlgorithm.algorithm !== OID_ALG.mgf1 || params.trailerField !== 1)
    return undefined;
  const mgfParams = params.maskGenAlgorithm.parameters;
  if (!mgfParams) return undefined;
  try {
    const mgfHash = AsnConvert.parse(mgfParams, AlgorithmIdentifier);
    if (hashFromOid(mgfHash.algorithm) !== hash) return undefined;
  } catch {
    return undefined;
  }
  return { keyType: 'rsa', hash, pss: { saltLength: params.saltLength } };
}

/**
 * KeyObjects by SPKI DER: createPublicKey costs ~50–100 µs and the same signer, CA and TSA keys verify message
 * after message.
 */
const publicKeys = new DerCache<KeyObject>(512);

/** The KeyObject for a DER SubjectPublicKeyInfo (cached); throws when node cannot read the key. */
export function publicKeyOfSpki(spki: Uint8Array): KeyObject {
  return publicKeys.get(spki, () => createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }));
}

function publicKey(spki: Uint8Array): KeyObject | undefined {
  try {
    return publicKeyOfSpki(spki);
  } catch {
    return undefined;
  }
}

/**
 * Check `signature` over `data` with the key in `spki` under `alg`. Returns false (never throws) for a wrong
 * signature, an unparsable key, a key that does not fit the algorithm, or an algorithm we do not accept
 * (anything with SHA-1, unusual PSS parameters).
 */
export function verifySignature(
  spki: Uint8Array,
  alg: AlgorithmIdentifier,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const plan = verifyPlan(alg);
  const key = publicKey(spki);
  if (!plan || !key) return false;
  const keyType = key.asymmetricKeyType;
  try {
    switch (plan.keyType) {
      case 'ed25519':
        return keyType === 'ed25519' && verify(null, data, key, signature);
      case 'ec':
        return keyType === 'ec' && verify(plan.hash, data, { key, dsaEncoding: 'der' }, signature);
      case 'rsa':
        if (keyType !== 'rsa' && keyType !== 'rsa-pss') return false;
        if (plan.pss) {
          const padding = constants.RSA_PKCS1_PSS_PADDING;
          return verify(plan.hash, data, { key, padding, saltLength: plan.pss.saltLength }, signature);
        }
        return keyType === 'rsa' && verify(plan.hash, data, key, signature);
    }
  } catch {
    return false;
  }
}

/** The KeyAlgorithm of a SubjectPublicKeyInfo; Asn1Error for malformed or unsupported keys (e.g. RSA-1024, P-521). */
export function keyAlgorithmOfSpki(spki: Uint8Array): KeyAlgorithm {
  // Read the algorithm straight from the DER (RFC 5280 §4.1.2.7): node's createPublicKey costs ~100 µs
  // and issuance calls this for every CSR. Key validity is checked where the key is used (verifySignature).
  return asAsn1Error('SubjectPublicKeyInfo', () => {
    const root = readTlv(spki, 0);
    const [algTlv, keyTlv] = children(spki, root, 'SubjectPublicKeyInfo');
    if (root.tag !== TAG.SEQUENCE || algTlv?.tag !== TAG.SEQUENCE || keyTlv?.tag !== TAG.BIT_STRING) {
      throw new Asn1Error('SubjectPublicKeyInfo: expected SEQUENCE { AlgorithmIdentifier, BIT STRING }');
    }
    const [oidTlv, paramsTlv] = children(spki, algTlv, 'SubjectPublicKeyInfo.algorithm');
    if (oidTlv?.tag !== TAG.OID) throw new Asn1Error('SubjectPublicKeyInfo: algorithm OID missing');
    const algorithm = decodeOid(tlvContent(spki, oidTlv));
    if (algorithm === OID_ALG.ed25519) return 'ed25519';
    if (algorithm === OID_ALG.ecPublicKey) {
      const curve = paramsTlv?.tag === TAG.OID ? decodeOid(tlvContent(spki, paramsTlv)) : '';
      if (curve === OID_ALG.secp256r1) return 'ec-p256';
      if (curve === OID_ALG.secp384r1) return 'ec-p384';
      throw new Asn1Error(
        `SubjectPublicKeyInfo: unsupported EC curve ${curve || '(implicit)'}; use P-256 or P-384`,
      );
    }
    if (algorithm === OID_ALG.rsaEncryption) {
      // BIT STRING content: unused-bits byte, then RSAPublicKey SEQUENCE { modulus INTEGER, exponent INTEGER }.
      const rsaKey = readTlv(spki, keyTlv.contentStart + 1, keyTlv.contentEnd, 'RSAPublicKey');
      const [modulus] = children(spki, rsaKey, 'RSAPublicKey');
      if (!modulus || modulus.tag !== TAG.INTEGER) throw new Asn1Error('RSAPublicKey: modulus missing');
      let start = modulus.contentStart;
      while (start < modulus.contentEnd && spki[start] === 0) start++;
      const top = spki[start] ?? 0;
      const bits = (modulus.contentEnd - start - 1) * 8 + (32 - Math.clz32(top));
      if (bits === 2048 || bits === 3072 || bits === 4096) return `rsa-${bits}` as KeyAlgorithm;
      throw new Asn1Error(
        `SubjectPublicKeyInfo: unsupported RSA key size ${bits}; use 2048, 3072 or 4096 bits`,
      );
    }
    throw new Asn1Error(`SubjectPublicKeyInfo: unsupported key algorithm ${algorithm}`);
  });
}
