/** X.509 v2 CRLs (RFC 5280 §5): signing with a pre-built TBSCertList and a bounded parser. */
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList, type AlgorithmIdentifier, type Name } from '@peculiar/asn1-x509';
import type { HashAlgorithm, KeyHandle } from '../crypto/key-handle.js';
import { signatureAlgorithmDer, type ParsedCertificate } from './certificate.js';
import {
  asAsn1Error,
  bigintToBytes,
  bitString,
  checkDer,
  children,
  enumerated,
  explicit,
  integer,
  integerFromUnsigned,
  octetString,
  oid,
  sequence,
  serialize,
  TAG,
  time,
  tlvBytes,
  tlvContent,
  unsignedHex,
} from './der.js';
import { Asn1Error } from './errors.js';
import { authorityKeyIdentifier, keyIdentifier } from './extensions.js';
import { OID_EXT } from './oids.js';

export type RevocationReason =
  | 'unspecified'
  | 'keyCompromise'
  | 'cACompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'certificateHold'
  | 'removeFromCRL'
  | 'privilegeWithdrawn'
  | 'aACompromise';

/** CRLReason codes (RFC 5280 §5.3.1; OCSP uses the same, RFC 6960 §4.2.1); 7 is unused. */
export const REASON_CODES: Record<RevocationReason, number> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
};
const REASON_BY_CODE = new Map(Object.entries(REASON_CODES).map(([k, v]) => [v, k as RevocationReason]));

export interface RevokedEntry {
  /** Lowercase hex of the serial's magnitude, as ParsedCertificate.serialHex. */
  serialHex: string;
  revokedAt: Date;
  reason?: RevocationReason;
}

/** CRLs can list many thousands of certificates; still bound what we will parse. */
export const MAX_CRL_BYTES = 32 * 1024 * 1024;

function serialFromHex(serialHex: string): Buffer {
  if (!/^[0-9a-f]{1,40}$/i.test(serialHex))
    throw new RangeError(`"${serialHex}" is not a serial number in hex`);
  return integerFromUnsigned(Buffer.from(serialHex.length % 2 ? `0${serialHex}` : serialHex, 'hex'));
}

function revokedEntry(entry: RevokedEntry): Buffer {
  const fields = [serialFromHex(entry.serialHex), time(entry.revokedAt)];
  // RFC 5280 §5.3.1: omit reasonCode rather than use "unspecified".
  if (entry.reason && entry.reason !== 'unspecified') {
    fields.push(
      sequence(sequence(oid(OID_EXT.cRLReason), octetString(enumerated(REASON_CODES[entry.reason])))),
    );
  }
  return sequence(...fields);
}

/**
 * Sign a v2 CRL with authorityKeyIdentifier and cRLNumber (RFC 5280 §5.2.1, §5.2.3). Times are whole seconds.
 * The issuer name is copied byte for byte from the issuer certificate so that relying parties match it.
 */
export async function signCrl(p: {
  issuer: ParsedCertificate;
  issuerKey: KeyHandle;
  hash: HashAlgorithm;
  crlNumber: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  revoked: RevokedEntry[];
}): Promise<Buffer> {
  if (p.crlNumber < 0n || bigintToBytes(p.crlNumber).length > 20) {
    throw new RangeError('crlNumber must be a non-negative integer of at most 20 octets (RFC 5280 §5.2.3)');
  }
  if (p.nextUpdate.getTime() < p.thisUpdate.getTime())
    throw new RangeError('nextUpdate is before thisUpdate');
  const algorithm = signatureAlgorithmDer(p.issuerKey.algorithm, p.hash);
  const aki = serialize(authorityKeyIdentifier(p.issuer.subjectKeyId ?? keyIdentifier(p.issuer.spki)));
  const crlNumber = sequence(oid(OID_EXT.cRLNumber), octetString(integer(p.crlNumber)));
  const fields = [integer(1), algorithm, p.issuer.subjectDer, time(p.thisUpdate), time(p.nextUpdate)];
  if (p.revoked.length > 0) fields.push(sequence(...p.revoked.map(revokedEntry)));
  fields.push(explicit(0, sequence(aki, crlNumber)));
  const tbs = sequence(...fields);
  const signature = await p.issuerKey.sign(tbs, p.hash);
  return sequence(tbs, algorithm, bitString(signature));
}

export interface ParsedCrl {
  der: Buffer;
  issuer: Name;
  thisUpdate: Date;
  nextUpdate?: Date;
  crlNumber?: bigint;
  revoked: RevokedEntry[];
  signatureAlgorithm: AlgorithmIdentifier;
  tbs: Buffer;
  signature: Buffer;
  /** authorityKeyIdentifier keyIdentifier, when present: picks the issuer certificate. */
  authorityKeyId?: Buffer;
  /** Critical CRL or entry extensions we do not interpret: RFC 5280 §5.2 says such a CRL must not be used. */
  unhandledCriticalExtensions: string[];
}

/** A primitive value of `tag` wrapped in an extension's OCTET STRING. */
function primitiveValue(extnValue: ArrayBuffer, tag: number, what: string): Buffer {
  const bytes = Buffer.from(extnValue);
  const t = checkDer(bytes, what, { maxBytes: 64 });
  if (t.tag !== tag || t.contentEnd === t.contentStart) throw new Asn1Error(`${what}: unexpected encoding`);
  return tlvContent(bytes, t);
}

/** Parse a DER CRL. Structural problems are Asn1Errors; the signature is not checked here. */
export function parseCrl(der: Uint8Array): ParsedCrl {
  const bytes = Buffer.from(der);
  const root = checkDer(bytes, 'CRL', { maxBytes: MAX_CRL_BYTES });
  const [tbsTlv] = children(bytes, root, 'CRL');
  if (root.tag !== TAG.SEQUENCE || tbsTlv?.tag !== TAG.SEQUENCE)
    throw new Asn1Error('CRL: expected SEQUENCE { tbsCertList … }');
  let crl: CertificateList;
  try {
    crl = AsnConvert.parse(bytes, CertificateList);
  } catch (e) {
    throw new Asn1Error(`CRL: does not match RFC 5280 §5.1 (${(e as Error).message.split('\n')[0]})`);
  }
  return asAsn1Error('CRL', () => {
    const tbs = crl.tbsCertList;
    const unhandled: string[] = [];
    let crlNumber: bigint | undefined;
    let authorityKeyId: Buffer | undefined;
    for (const ext of tbs.crlExtensions ?? []) {
      if (ext.extnID === OID_EXT.cRLNumber) {
        const content = primitiveValue(ext.extnValue.buffer, TAG.INTEGER, 'cRLNumber extension');
        crlNumber = BigInt(`0x${content.toString('hex')}`);
      } else if (ext.extnID === OID_EXT.authorityKeyIdentifier) {
        const value = Buffer.from(ext.extnValue.buffer);
        const akiRoot = checkDer(value, 'authorityKeyIdentifier extension', { maxBytes: 4096 });
        const keyId = children(value, akiRoot).find((c) => c.tag === 0x80);
        if (keyId) authorityKeyId = tlvContent(value, keyId);
      } else if (ext.critical) unhandled.push(ext.extnID);
    }
    const revoked: RevokedEntry[] = (tbs.revokedCertificates ?? []).map((rc) => {
      const entry: RevokedEntry = {
        serialHex: unsignedHex(Buffer.from(rc.userCertificate)),
        revokedAt: rc.revocationDate.getTime(),
      };
      for (const ext of rc.crlEntryExtensions ?? []) {
        if (ext.extnID === OID_EXT.cRLReason) {
          const code = primitiveValue(ext.extnValue.buffer, TAG.ENUMERATED, 'reasonCode extension');
          const reason = code.length === 1 ? REASON_BY_CODE.get(code[0] as number) : undefined;
          if (!reason) throw new Asn1Error('reasonCode extension: unknown CRLReason value');
          entry.reason = reason;
        } else if (ext.critical) unhandled.push(ext.extnID);
      }
      return entry;
    });
    return {
      der: bytes,
      issuer: tbs.issuer,
      thisUpdate: tbs.thisUpdate.getTime(),
      nextUpdate: tbs.nextUpdate?.getTime(),
      crlNumber,
      revoked,
      signatureAlgorithm: crl.signatureAlgorithm,
      tbs: tlvBytes(bytes, tbsTlv),
      signature: Buffer.from(crl.signature),
      authorityKeyId,
      unhandledCriticalExtensions: unhandled,
    };
  });
}
