/**
 * RecipientInfo (RFC 5652 §6.2): writing and reading key transport (KeyTransRecipientInfo: RSA PKCS#1 v1.5,
 * RSAES-OAEP per RFC 8017/4055/3560) and key agreement (KeyAgreeRecipientInfo: ephemeral-static ECDH on P-256/P-384
 * per RFC 5753, X25519 per RFC 8418, X9.63 KDF and AES key wrap), and recovering the content-encryption key.
 */
import {
  constants,
  createPublicKey,
  diffieHellman,
  generateKeyPair,
  KeyObject,
  privateDecrypt,
  publicEncrypt,
} from 'node:crypto';
import { promisify } from 'node:util';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, Name } from '@peculiar/asn1-x509';
import { rsaPkcs1v15Decrypt } from '../../crypto/rsa-pkcs1-decrypt.js';
import { MAX_CERTIFICATE_BYTES, parseExtensions } from '../certificate.js';
import {
  bitString,
  checkDer,
  DerCache,
  children,
  derNull,
  explicit,
  integer,
  octetString,
  oid,
  sequence,
  tlv,
  tlvBytes,
  unsignedHex,
} from '../der.js';
import { Asn1Error } from '../errors.js';
import { nameToString } from '../name.js';
import { OID_ALG } from '../oids.js';
import {
  keyUnwrap,
  aesKeyWrap,
  KEK_LENGTH,
  KEY_WRAP_OID,
  keyWrapFromOid,
  type KeyWrap,
} from './aes-key-wrap.js';
import type { BerCursor, BerNode } from './ber.js';
import { CONTENT_KEY_LENGTH, type ContentCipher } from './content-encryption.js';
import { CmsEncryptError } from './envelope-errors.js';
import { eccCmsSharedInfo, KDF_SCHEME_OID, kdfHashFromSchemeOid, x963Kdf, type KdfHash } from './kdf.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** OIDs not in ../oids.ts. */
export const OID_RECIPIENT = {
  /** id-RSAES-OAEP (RFC 8017 appendix A.2.1) */
  rsaesOaep: '1.2.840.113549.1.1.7',
  /** id-pSpecified (RFC 8017 appendix A.2.1) */
  pSpecified: '1.2.840.113549.1.1.9',
  /** id-X25519 (RFC 8410 §3) */
  x25519: '1.3.101.110',
  sha224: '2.16.840.1.101.3.4.2.4',
} as const;

export type KeyTransport = 'rsa-pkcs1' | 'rsa-oaep-sha256';
export type RecipientIdentifierType = 'issuerAndSerial' | 'subjectKeyIdentifier';
export type OaepHash = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

export interface Recipient {
  /** DER certificate of the recipient. */
  certificate: Buffer;
  /** RSA recipients only; default 'rsa-pkcs1' (what Outlook, NSS and gpgsm read). */
  keyTransport?: KeyTransport;
  /** How the message names the recipient's certificate; default 'issuerAndSerial'. */
  identifier?: RecipientIdentifierType;
}

// ---------------------------------------------------------------- recipient certificates

export interface RecipientCertificate {
  der: Buffer;
  subject: string;
  /** Issuer Name DER exactly as in the certificate. */
  issuerDer: Buffer;
  /** The serialNumber INTEGER TLV exactly as in the certificate. */
  serialDer: Buffer;
  serialHex: string;
  subjectKeyId?: Buffer;
  publicKey: KeyObject;
  kind: 'rsa' | 'ec' | 'x25519' | 'other';
  /** EC only: the named curve. */
  curve?: { name: 'P-256' | 'P-384'; oid: string; kdf: KdfHash };
  keyUsage: readonly string[];
}

const CURVES = {
  prime256v1: { name: 'P-256', oid: OID_ALG.secp256r1, kdf: 'sha256' },
  secp384r1: { name: 'P-384', oid: OID_ALG.secp384r1, kdf: 'sha384' },
} as const;

/**
 * The fields a recipient certificate contributes. Parsed here rather than with parseCertificate because
 * X25519 certificates (RFC 8410) carry a key that the signing-oriented parser does not accept.
 */
export function readRecipientCertificate(der: Uint8Array): RecipientCertificate {
  const cert = recipientCertificates.get(der, () => readRecipientCertificateUncached(Buffer.from(der)));
  return { ...cert, keyUsage: [...cert.keyUsage] };
}

/** The same recipients come back message after message (and parsing is most of a small envelope's cost). */
const recipientCertificates = new DerCache<RecipientCertificate>(512);

function readRecipientCertificateUncached(bytes: Buffer): RecipientCertificate {
  const root = checkDer(bytes, 'recipient certificate', { maxBytes: MAX_CERTIFICATE_BYTES });
  const tbs = children(bytes, root, 'recipient certificate')[0];
  if (!tbs) throw new Asn1Error('recipient certificate: TBSCertificate is missing');
  const fields = children(bytes, tbs, 'recipient certificate');
  const at = fields[0]?.tag === 0xa0 ? 1 : 0;
  const [serial, , issuer, , , spki] = fields.slice(at);
  if (!serial || !issuer || !spki)
    throw new Asn1Error('recipient certificate: TBSCertificate fields are missing');
  let cert: Certificate;
  try {
    cert = AsnConvert.parse(bytes, Certificate);
  } catch (e) {
    throw new Asn1Error(
      `recipient certificate: does not match RFC 5280 §4.1 (${(e as Error).message.split('\n')[0]})`,
    );
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: tlvBytes(bytes, spki), format: 'der', type: 'spki' });
  } catch {
    throw new Asn1Error('recipient certificate: its public key cannot be read');
  }
  const ext = parseExtensions(cert.tbsCertificate.extensions ?? []);
  const type = publicKey.asymmetricKeyType;
  const curveName = publicKey.asymmetricKeyDetails?.namedCurve;
  const curve = type === 'ec' ? CURVES[curveName as keyof typeof CURVES] : undefined;
  const kind = type === 'rsa' ? 'rsa' : type === 'x25519' ? 'x25519' : curve ? 'ec' : 'other';
  return {
    der: bytes,
    subject: nameToString(cert.tbsCertificate.subject),
    issuerDer: tlvBytes(bytes, issuer),
    serialDer: tlvBytes(bytes, serial),
    serialHex: unsignedHex(bytes.subarray(serial.contentStart, serial.contentEnd)),
    ...(ext.subjectKeyId ? { subjectKeyId: ext.subjectKeyId } : {}),
    publicKey,
    kind,
    ...(curve ? { curve } : {}),
    keyUsage: ext.keyUsage,
  };
}

// ---------------------------------------------------------------- writing

/** The key-wrap algorithm matching the content cipher's strength (RFC 5753 §8: a KEK at least as strong). */
export function keyWrapFor(cipher: ContentCipher): 'aes128-wrap' | 'aes256-wrap' {
  return CONTENT_KEY_LENGTH[cipher] > 16 ? 'aes256-wrap' : 'aes128-wrap';
}

function issuerAndSerial(cert: RecipientCertificate): Buffer {
  return sequence(cert.issuerDer, cert.serialDer);
}

function requireSki(cert: RecipientCertificate): Buffer {
  if (!cert.subjectKeyId) {
    throw new CmsEncryptError(
      `certificate "${cert.subject}" has no subjectKeyIdentifier; use identifier 'issuerAndSerial'`,
    );
  }
  return cert.subjectKeyId;
}

function requireKeyUsage(cert: RecipientCertificate, usage: string): void {
  if (cert.keyUsage.length > 0 && !cert.keyUsage.includes(usage)) {
    throw new CmsEncryptError(
      `certificate "${cert.subject}" does not allow ${usage} (keyUsage: ${cert.keyUsage.join(', ')}); use its encryption certificate`,
    );
  }
}

/** RSAES-OAEP-params with SHA-256 and MGF1-SHA-256 (RFC 4055 §4.1); pSourceAlgorithm left at its default. */
const OAEP_SHA256_ALGORITHM = sequence(
  oid(OID_RECIPIENT.rsaesOaep),
  sequence(
    explicit(0, sequence(oid(OID_ALG.sha256))),
    explicit(1, sequence(oid(OID_ALG.mgf1), sequence(oid(OID_ALG.sha256)))),
  ),
);
const RSA_PKCS1_ALGORITHM = sequence(oid(OID_ALG.rsaEncryption), derNull());

function keyTransRecipientInfo(cert: RecipientCertificate, r: Recipient, cek: Buffer): Buffer {
  requireKeyUsage(cert, 'keyEncipherment');
  const oaep = r.keyTransport === 'rsa-oaep-sha256';
  const encryptedKey = oaep
    ? publicEncrypt(
        { key: cert.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        cek,
      )
    : publicEncrypt({ key: cert.publicKey, padding: constants.RSA_PKCS1_PADDING }, cek);
  const bySki = r.identifier === 'subjectKeyIdentifier';
  // RFC 5652 §6.2.1: version 0 with issuerAndSerialNumber, 2 with subjectKeyIdentifier ([0] IMPLICIT).
  return sequence(
    integer(bySki ? 2 : 0),
    bySki ? tlv(0x80, requireSki(cert)) : issuerAndSerial(cert),
    oaep ? OAEP_SHA256_ALGORITHM : RSA_PKCS1_ALGORITHM,
    octetString(encryptedKey),
  );
}

interface Ephemeral {
  /** OriginatorPublicKey's algorithm and public key (RFC 5753 §3.1.1, RFC 8418 §2.3). */
  algorithm: Buffer;
  publicKey: Buffer;
  sharedSecret: Buffer;
}

async function ephemeralAgreement(cert: RecipientCertificate): Promise<Ephemeral> {
  if (cert.kind === 'x25519') {
    const pair = await generateKeyPairAsync('x25519');
    const x = Buffer.from(pair.publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
    return {
      algorithm: sequence(oid(OID_RECIPIENT.x25519)),
      publicKey: x,
      sharedSecret: diffieHellman({ privateKey: pair.privateKey, publicKey: cert.publicKey }),
    };
  }
  const pair = await generateKeyPairAsync('ec', { namedCurve: cert.curve?.name as string });
  const jwk = pair.publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x ?? '', 'base64url'),
    Buffer.from(jwk.y ?? '', 'base64url'),
  ]);
  return {
    // Parameters absent, as OpenSSL writes them: the curve is the recipient's (RFC 5753 §7.1.2 allows it).
    algorithm: sequence(oid(OID_ALG.ecPublicKey)),
    publicKey: point,
    sharedSecret: diffieHellman({ privateKey: pair.privateKey, publicKey: cert.publicKey }),
  };
}

async function keyAgreeRecipientInfo(
  cert: RecipientCertificate,
  r: Recipient,
  cek: Buffer,
  cipher: ContentCipher,
  ukm: Buffer | undefined,
): Promise<Buffer> {
  requireKeyUsage(cert, 'keyAgreement');
  const kdf: KdfHash = cert.curve?.kdf ?? 'sha256';
  const wrap = keyWrapFor(cipher);
  const wrapAlgorithm = sequence(oid(KEY_WRAP_OID[wrap]));
  const eph = await ephemeralAgreement(cert);
  const kek = x963Kdf(
    kdf,
    eph.sharedSecret,
    eccCmsSharedInfo(wrapAlgorithm, ukm, KEK_LENGTH[wrap]),
    KEK_LENGTH[wrap],
  );
  const rid =
    r.identifier === 'subjectKeyIdentifier'
      ? explicit(0, octetString(requireSki(cert)))
      : issuerAndSerial(cert);
  const fields = [
    integer(3),
    explicit(0, tlv(0xa1, eph.algorithm, bitString(eph.publicKey))), // originator [0] { originatorKey [1] }
    ...(ukm ? [explicit(1, octetString(ukm))] : []),
    sequence(oid(KDF_SCHEME_OID[kdf]), wrapAlgorithm),
    sequence(sequence(rid, octetString(aesKeyWrap(wrap, kek, cek)))),
  ];
  return tlv(0xa1, ...fields); // kari [1] IMPLICIT KeyAgreeRecipientInfo
}

export interface BuiltRecipientInfo {
  der: Buffer;
  /** RecipientInfo version: 0 only for ktri with issuerAndSerialNumber (decides EnvelopedData's version). */
  version: number;
}

/** One RecipientInfo carrying `cek` for `r`. */
export async function buildRecipientInfo(
  r: Recipient,
  cek: Buffer,
  cipher: ContentCipher,
  opts: { ukm?: Buffer } = {},
): Promise<BuiltRecipientInfo> {
  const cert = readRecipientCertificate(r.certificate);
  if (cert.kind === 'rsa') {
    const der = keyTransRecipientInfo(cert, r, cek);
    return { der, version: r.identifier === 'subjectKeyIdentifier' ? 2 : 0 };
  }
  if (r.keyTransport) {
    throw new CmsEncryptError(
      `keyTransport "${r.keyTransport}" needs an RSA certificate; "${cert.subject}" is not RSA`,
    );
  }
  if (cert.kind === 'ec' || cert.kind === 'x25519') {
    return { der: await keyAgreeRecipientInfo(cert, r, cek, cipher, opts.ukm), version: 3 };
  }
  throw new CmsEncryptError(
    `certificate "${cert.subject}" has a ${cert.publicKey.asymmetricKeyType} key; encryption needs RSA, EC P-256/P-384 or X25519`,
  );
}

// ---------------------------------------------------------------- reading

export type RecipientId =
  | { kind: 'issuerAndSerial'; issuerDer: Buffer; serialHex: string }
  | { kind: 'subjectKeyIdentifier'; keyId: Buffer };

type KeyTransportAlgorithm = { name: 'rsa-pkcs1' } | { name: 'rsa-oaep'; hash: OaepHash; label: Buffer };

export type ParsedRecipientInfo =
  | { type: 'ktri'; rid: RecipientId; algorithm: KeyTransportAlgorithm; encryptedKey: Buffer }
  | {
      type: 'kari';
      originator: { algorithm: string; curveOid?: string; publicKey: Buffer };
      ukm?: Buffer;
      kdf: KdfHash;
      wrap: KeyWrap;
      /** The KeyWrapAlgorithm as received: it is the keyInfo of ECC-CMS-SharedInfo. */
      wrapAlgorithmDer: Buffer;
      keys: { rid: RecipientId; encryptedKey: Buffer }[];
    }
  | { type: 'unsupported'; description: string; rids: RecipientId[] };

/** Bound on recipients written or read: far above any real mail, low enough to keep hostile input cheap. */
export const MAX_RECIPIENTS = 1000;
const MAX_ENCRYPTED_KEY = 2048;

const HASH_BY_OID = new Map<string, OaepHash>([
  [OID_ALG.sha1, 'sha1'],
  [OID_RECIPIENT.sha224, 'sha224'],
  [OID_ALG.sha256, 'sha256'],
  [OID_ALG.sha384, 'sha384'],
  [OID_ALG.sha512, 'sha512'],
]);

function readIssuerAndSerial(c: BerCursor, node: BerNode): RecipientId {
  const ias = c.into(node, 'IssuerAndSerialNumber');
  const issuer = ias.take(0x30, 'issuer');
  const serial = ias.take(0x02, 'serialNumber');
  return {
    kind: 'issuerAndSerial',
    issuerDer: ias.bytes(issuer),
    serialHex: unsignedHex(ias.content(serial)),
  };
}

/** RecipientIdentifier (ktri) or KeyAgreeRecipientIdentifier (kari, where the SKI sits inside [0] SEQUENCE). */
function readRid(c: BerCursor, node: BerNode): RecipientId {
  if (node.tag === 0x30) return readIssuerAndSerial(c, node);
  if (node.tag === 0x80 || node.tag === 0xa0) {
    const ski =
      node.tag === 0x80
        ? c.content(node)
        : c.octets(c.into(node).take(0x04, 'subjectKeyIdentifier'), 'subjectKeyIdentifier', 256);
    return { kind: 'subjectKeyIdentifier', keyId: Buffer.from(ski) };
  }
  throw new Asn1Error(`${c.where}: unknown recipient identifier (tag 0x${node.tag.toString(16)})`);
}

function readHashAlgorithm(c: BerCursor, node: BerNode, what: string): OaepHash {
  const alg = c.into(c.into(node).take(0x30, what), what);
  const hashOid = alg.oid(alg.any('algorithm'), 'algorithm');
  const hash = HASH_BY_OID.get(hashOid);
  if (!hash) throw new Asn1Error(`${what}: hash ${hashOid} is not supported`);
  return hash;
}

function readOaepParams(c: BerCursor, params: BerNode | undefined): KeyTransportAlgorithm {
  // Absent parameters or an empty SEQUENCE mean all defaults: SHA-1, MGF1-SHA-1, empty label (RFC 8017 A.2.1).
  let hash: OaepHash = 'sha1';
  let mgfHash: OaepHash = 'sha1';
  let label = Buffer.alloc(0);
  if (params && params.tag !== 0x05) {
    const p = c.into(params, 'RSAES-OAEP-params');
    const h = p.optional(0xa0);
    if (h) hash = readHashAlgorithm(p, h, 'hashAlgorithm');
    const m = p.optional(0xa1);
    if (m) {
      const mgf = p.into(p.into(m).take(0x30, 'maskGenAlgorithm'), 'maskGenAlgorithm');
      if (mgf.oid(mgf.any('algorithm'), 'algorithm') !== OID_ALG.mgf1)
        throw new Asn1Error('RSAES-OAEP-params: only MGF1 is supported');
      const mgfAlg = mgf.into(mgf.take(0x30, 'MGF1 hash'), 'MGF1 hash');
      const mgfOid = mgfAlg.oid(mgfAlg.any('algorithm'), 'algorithm');
      mgfHash = HASH_BY_OID.get(mgfOid) ?? ('unknown' as OaepHash);
    }
    const s = p.optional(0xa2);
    if (s) {
      const src = p.into(p.into(s).take(0x30, 'pSourceAlgorithm'), 'pSourceAlgorithm');
      if (src.oid(src.any('algorithm'), 'algorithm') !== OID_RECIPIENT.pSpecified)
        throw new Asn1Error('RSAES-OAEP-params: unknown pSourceAlgorithm');
      label = Buffer.from(src.octets(src.take(0x04, 'label'), 'label', 1024));
    }
  }
  // node:crypto uses one hash for OAEP and MGF1; senders (OpenSSL, NSS, Outlook) always pair them.
  if (mgfHash !== hash)
    throw new Asn1Error(`RSAES-OAEP-params: MGF1 hash differs from the OAEP hash (${hash}); not supported`);
  return { name: 'rsa-oaep', hash, label };
}

function readKeyTrans(c: BerCursor, node: BerNode): ParsedRecipientInfo {
  const k = c.into(node, 'KeyTransRecipientInfo');
  k.smallInteger(k.take(0x02, 'version'), 'version');
  const rid = readRid(k, k.any('rid'));
  const alg = k.into(k.take(0x30, 'keyEncryptionAlgorithm'), 'keyEncryptionAlgorithm');
  const algOid = alg.oid(alg.any('algorithm'), 'algorithm');
  const params = alg.rest()[0];
  const encryptedKey = Buffer.from(k.octets(k.any('encryptedKey'), 'encryptedKey', MAX_ENCRYPTED_KEY));
  if (algOid === OID_ALG.rsaEncryption)
    return { type: 'ktri', rid, algorithm: { name: 'rsa-pkcs1' }, encryptedKey };
  if (algOid === OID_RECIPIENT.rsaesOaep)
    return { type: 'ktri', rid, algorithm: readOaepParams(alg, params), encryptedKey };
  return { type: 'unsupported', description: `key transport ${algOid}`, rids: [rid] };
}

function readOriginatorKey(
  c: BerCursor,
  node: BerNode,
): { algorithm: string; curveOid?: string; publicKey: Buffer } | undefined {
  const choice = c.into(node, 'originator').any('originator');
  if (choice.tag !== 0xa1) return undefined; // issuerAndSerialNumber / subjectKeyIdentifier: static-static ECDH
  const o = c.into(choice, 'OriginatorPublicKey');
  const alg = o.into(o.take(0x30, 'algorithm'), 'OriginatorPublicKey algorithm');
  const algorithm = alg.oid(alg.any('algorithm'), 'algorithm');
  const params = alg.rest()[0];
  const curveOid = params && params.tag === 0x06 ? alg.oid(params, 'namedCurve') : undefined;
  const bits = o.content(o.take(0x03, 'publicKey'));
  if (bits.length < 2 || bits[0] !== 0) throw new Asn1Error('OriginatorPublicKey: malformed BIT STRING');
  return { algorithm, ...(curveOid ? { curveOid } : {}), publicKey: Buffer.from(bits.subarray(1)) };
}

function readKeyAgree(c: BerCursor, node: BerNode): ParsedRecipientInfo {
  const k = c.into(node, 'KeyAgreeRecipientInfo');
  k.smallInteger(k.take(0x02, 'version'), 'version');
  const originator = readOriginatorKey(k, k.take(0xa0, 'originator'));
  const ukmNode = k.optional(0xa1);
  const ukm = ukmNode ? Buffer.from(k.octets(k.into(ukmNode).take(0x04, 'ukm'), 'ukm', 1024)) : undefined;
  const alg = k.into(k.take(0x30, 'keyEncryptionAlgorithm'), 'keyEncryptionAlgorithm');
  const schemeOid = alg.oid(alg.any('algorithm'), 'algorithm');
  const wrapNode = alg.take(0x30, 'KeyWrapAlgorithm');
  const wrapAlg = alg.into(wrapNode, 'KeyWrapAlgorithm');
  const wrapOid = wrapAlg.oid(wrapAlg.any('algorithm'), 'algorithm');
  const rekList = k.into(k.take(0x30, 'recipientEncryptedKeys'), 'recipientEncryptedKeys');
  if (rekList.length > MAX_RECIPIENTS)
    throw new Asn1Error(`recipientEncryptedKeys: more than ${MAX_RECIPIENTS} entries`);
  const keys = rekList.rest().map((rekNode) => {
    const rek = rekList.into(rekNode, 'RecipientEncryptedKey');
    const rid = readRid(rek, rek.any('rid'));
    return {
      rid,
      encryptedKey: Buffer.from(rek.octets(rek.any('encryptedKey'), 'encryptedKey', MAX_ENCRYPTED_KEY)),
    };
  });
  const kdf = kdfHashFromSchemeOid(schemeOid);
  const wrap = keyWrapFromOid(wrapOid);
  const rids = keys.map((key) => key.rid);
  if (!originator) return { type: 'unsupported', description: 'static-static key agreement', rids };
  if (!kdf) return { type: 'unsupported', description: `key agreement scheme ${schemeOid}`, rids };
  if (!wrap) return { type: 'unsupported', description: `key wrap ${wrapOid}`, rids };
  return {
    type: 'kari',
    originator,
    ...(ukm ? { ukm } : {}),
    kdf,
    wrap,
    wrapAlgorithmDer: Buffer.from(alg.bytes(wrapNode)),
    keys,
  };
}

/** RecipientInfos ::= SET SIZE (1..MAX) OF RecipientInfo. */
export function readRecipientInfos(c: BerCursor, setNode: BerNode): ParsedRecipientInfo[] {
  const set = c.into(setNode, 'recipientInfos');
  if (set.length === 0) throw new Asn1Error('recipientInfos: empty');
  if (set.length > MAX_RECIPIENTS)
    throw new Asn1Error(`recipientInfos: more than ${MAX_RECIPIENTS} recipients`);
  return set.rest().map((node) => {
    if (node.tag === 0x30) return readKeyTrans(set, node);
    if (node.tag === 0xa1) return readKeyAgree(set, node);
    const kinds: Record<number, string> = { 0xa2: 'KEK', 0xa3: 'password', 0xa4: 'other' };
    return { type: 'unsupported', description: `${kinds[node.tag] ?? 'unknown'} recipient info`, rids: [] };
  });
}

export function ridMatches(rid: RecipientId, cert: RecipientCertificate): boolean {
  if (rid.kind === 'subjectKeyIdentifier') return cert.subjectKeyId?.equals(rid.keyId) === true;
  return rid.serialHex === cert.serialHex && rid.issuerDer.equals(cert.issuerDer);
}

export function describeRid(rid: RecipientId): string {
  if (rid.kind === 'subjectKeyIdentifier') return `subjectKeyIdentifier ${rid.keyId.toString('hex')}`;
  let issuer = 'unreadable issuer';
  try {
    issuer = nameToString(AsnConvert.parse(rid.issuerDer, Name));
  } catch {
    /* keep the placeholder */
  }
  return `issuer "${issuer}" serial ${rid.serialHex}`;
}

// ---------------------------------------------------------------- recovering the content-encryption key

/**
 * The private-key operations decryption needs. A software key gets them from keyObjectDecryptor(); a PKCS#11
 * token can implement them with CKM_RSA_PKCS / CKM_RSA_PKCS_OAEP / CKM_ECDH1_DERIVE.
 */
export interface RecipientDecryptor {
  /**
   * RSA PKCS#1 v1.5: the decrypted key of `keyLength` bytes. Must never fail distinctly on bad padding: return a
   * pseudo-random key of the same length instead (implicit rejection), or the message becomes a padding oracle.
   */
  rsaPkcs1v15?(encryptedKey: Buffer, keyLength: number): Promise<Buffer>;
  /** RSAES-OAEP with `hash` for OAEP and MGF1; undefined when decryption fails. */
  rsaOaep?(encryptedKey: Buffer, hash: OaepHash, label: Buffer): Promise<Buffer | undefined>;
  /** The raw (EC)DH shared secret Z with the peer's public key (DER SubjectPublicKeyInfo). */
  deriveSharedSecret?(peerSpki: Buffer): Promise<Buffer>;
}

export function keyObjectDecryptor(key: KeyObject): RecipientDecryptor {
  return {
    rsaPkcs1v15: async (encryptedKey, keyLength) => rsaPkcs1v15Decrypt(key, encryptedKey, keyLength),
    rsaOaep: async (encryptedKey, hash, label) => {
      try {
        return privateDecrypt(
          {
            key,
            padding: constants.RSA_PKCS1_OAEP_PADDING,
            oaepHash: hash,
            ...(label.length ? { oaepLabel: label } : {}),
          },
          encryptedKey,
        );
      } catch {
        return undefined;
      }
    },
    deriveSharedSecret: async (peerSpki) =>
      diffieHellman({
        privateKey: key,
        publicKey: createPublicKey({ key: peerSpki, format: 'der', type: 'spki' }),
      }),
  };
}

export const asDecryptor = (k: KeyObject | RecipientDecryptor): RecipientDecryptor =>
  k instanceof KeyObject ? keyObjectDecryptor(k) : k;

/** SubjectPublicKeyInfo of the sender's ephemeral key; the curve comes from the recipient when absent. */
function originatorSpki(
  originator: { algorithm: string; curveOid?: string; publicKey: Buffer },
  cert: RecipientCertificate,
): Buffer | undefined {
  if (originator.algorithm === OID_RECIPIENT.x25519 && cert.kind === 'x25519') {
    return sequence(sequence(oid(OID_RECIPIENT.x25519)), bitString(originator.publicKey));
  }
  if (originator.algorithm !== OID_ALG.ecPublicKey || cert.kind !== 'ec' || !cert.curve) return undefined;
  if (originator.curveOid && originator.curveOid !== cert.curve.oid) return undefined;
  return sequence(sequence(oid(OID_ALG.ecPublicKey), oid(cert.curve.oid)), bitString(originator.publicKey));
}

export interface RecoveredKey {
  /** The candidate content-encryption key; undefined when recovery failed outright (a wrong key for OAEP/ECDH). */
  cek: Buffer | undefined;
  keyTransport: string;
}

/**
 * Recover the content-encryption key of `keyLength` bytes from one RecipientInfo addressed to `cert`. The result
 * is only a candidate: for RSA v1.5 a wrong key yields a pseudo-random key, which content decryption rejects.
 */
export async function recoverContentKey(
  ri: Exclude<ParsedRecipientInfo, { type: 'unsupported' }>,
  encryptedKey: Buffer,
  decryptor: RecipientDecryptor,
  cert: RecipientCertificate,
  keyLength: number,
): Promise<RecoveredKey> {
  if (ri.type === 'ktri') {
    if (ri.algorithm.name === 'rsa-pkcs1') {
      if (!decryptor.rsaPkcs1v15) return { cek: undefined, keyTransport: 'rsa-pkcs1' };
      return { cek: await decryptor.rsaPkcs1v15(encryptedKey, keyLength), keyTransport: 'rsa-pkcs1' };
    }
    const keyTransport = `rsa-oaep-${ri.algorithm.hash}`;
    if (!decryptor.rsaOaep) return { cek: undefined, keyTransport };
    return {
      cek: await decryptor.rsaOaep(encryptedKey, ri.algorithm.hash, ri.algorithm.label),
      keyTransport,
    };
  }
  const keyTransport = `${cert.kind === 'x25519' ? 'x25519' : `ecdh-${cert.curve?.name ?? 'ec'}`}-${ri.kdf}kdf-${ri.wrap}${ri.ukm ? '-ukm' : ''}`;
  const spki = originatorSpki(ri.originator, cert);
  if (!spki || !decryptor.deriveSharedSecret) return { cek: undefined, keyTransport };
  let z: Buffer;
  try {
    z = await decryptor.deriveSharedSecret(spki);
  } catch {
    return { cek: undefined, keyTransport }; // not a point on the curve, or a key of another type
  }
  const kekLength = KEK_LENGTH[ri.wrap];
  const kek = x963Kdf(ri.kdf, z, eccCmsSharedInfo(ri.wrapAlgorithmDer, ri.ukm, kekLength), kekLength);
  return { cek: keyUnwrap(ri.wrap, kek, encryptedKey), keyTransport };
}
