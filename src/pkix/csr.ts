/** PKCS#10 certification requests (RFC 2986): parse with proof-of-possession check, and build for clients. */
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Name } from '@peculiar/asn1-x509';
import type { KeyAlgorithm, KeyHandle } from '../crypto/key-handle.js';
import { defaultHashFor } from '../crypto/key-handle.js';
import { keyAlgorithmOfSpki, verifySignature } from './algorithms.js';
import { MAX_CERTIFICATE_BYTES, signatureAlgorithmDer } from './certificate.js';
import {
  bitString,
  checkDer,
  children,
  integer,
  oid,
  sequence,
  serialize,
  setOf,
  TAG,
  decodeOid,
  decodeSmallInteger,
  readTlv,
  tlv,
  tlvBytes,
  tlvContent,
  type Tlv,
} from './der.js';
import { Asn1Error, CsrError } from './errors.js';
import { subjectAltNameEmails } from './extensions.js';
import { buildName, nameToString, type NameSpec } from './name.js';
import { OID_EXT, OID_PKCS9 } from './oids.js';
import { pemOrDer } from './pem.js';

export interface ParsedCsr {
  der: Buffer;
  subject: Name;
  subjectString: string;
  spki: Buffer;
  keyAlgorithm: KeyAlgorithm;
  /** rfc822Names from the extensionRequest attribute's subjectAltName, lowercased. */
  emails: string[];
}

/** rfc822Names of the subjectAltName inside an extensionRequest attribute (RFC 2985 §5.4.2), read from DER. */
function emailsFromAttributes(der: Buffer, attributes: Tlv | undefined): string[] {
  const emails: string[] = [];
  if (!attributes) return emails;
  for (const attr of children(der, attributes, 'attributes')) {
    const [type, values] = children(der, attr, 'attribute');
    if (!type || type.tag !== TAG.OID || decodeOid(tlvContent(der, type)) !== OID_PKCS9.extensionRequest)
      continue;
    if (!values) continue;
    for (const extensions of children(der, values, 'extensionRequest')) {
      for (const ext of children(der, extensions, 'extensions')) {
        const fields = children(der, ext, 'extension');
        const id = fields[0];
        const value = fields[fields.length - 1];
        if (!id || !value || decodeOid(tlvContent(der, id)) !== OID_EXT.subjectAltName) continue;
        const names = readTlv(der, value.contentStart, value.contentEnd, 'subjectAltName');
        for (const gn of children(der, names, 'GeneralNames')) {
          // rfc822Name is [1] IMPLICIT IA5String (RFC 5280 §4.2.1.6).
          if (gn.tag === 0x81) emails.push(tlvContent(der, gn).toString('latin1').toLowerCase());
        }
      }
    }
  }
  return emails;
}

/**
 * Parse a CSR given as PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST") or DER, at most 64 KiB, and
 * check its signature with its own key (proof of possession, RFC 2986 §3). Every problem is a CsrError.
 */
export function parseCsr(input: Uint8Array | string): ParsedCsr {
  try {
    return parseCsrUnchecked(input);
  } catch (e) {
    if (e instanceof CsrError) throw e;
    throw new CsrError(`certificate request rejected: ${(e as Error).message.split('\n')[0]}`);
  }
}

function parseCsrUnchecked(input: Uint8Array | string): ParsedCsr {
  const size = typeof input === 'string' ? input.length : input.length;
  if (size > 4 * MAX_CERTIFICATE_BYTES) throw new CsrError('certificate request is larger than 64 KiB');
  const der = pemOrDer(input);
  const root = checkDer(der, 'certificate request', { maxBytes: MAX_CERTIFICATE_BYTES });
  const [infoTlv] = children(der, root);
  if (root.tag !== TAG.SEQUENCE || infoTlv?.tag !== TAG.SEQUENCE) {
    throw new Asn1Error('expected SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature }');
  }
  // Read the fields straight from the DER (RFC 2986 §4): this runs for every issuance.
  const [, sigAlgTlv, sigTlv] = children(der, root);
  if (sigAlgTlv?.tag !== TAG.SEQUENCE || sigTlv?.tag !== TAG.BIT_STRING) {
    throw new Asn1Error(
      'expected the signature algorithm and a BIT STRING signature after certificationRequestInfo',
    );
  }
  const [versionTlv, subjectTlv, spkiTlv, attributesTlv] = children(der, infoTlv, 'certificationRequestInfo');
  if (versionTlv?.tag !== TAG.INTEGER || subjectTlv?.tag !== TAG.SEQUENCE || spkiTlv?.tag !== TAG.SEQUENCE) {
    throw new Asn1Error('certificationRequestInfo: expected version, subject and subjectPKInfo');
  }
  const version = decodeSmallInteger(tlvContent(der, versionTlv), 'version');
  if (version !== 0) throw new CsrError(`certificate request version ${version} is not v1 (0)`);
  if (attributesTlv && attributesTlv.tag !== 0xa0)
    throw new Asn1Error('certificationRequestInfo: attributes must be [0]');
  // The SPKI exactly as received: no re-encoding on the issuance path.
  const spki = tlvBytes(der, spkiTlv);
  const keyAlgorithm = keyAlgorithmOfSpki(spki);
  const signatureAlgorithm = AsnConvert.parse(tlvBytes(der, sigAlgTlv), AlgorithmIdentifier);
  const signature = tlvContent(der, sigTlv).subarray(1);
  if (!verifySignature(spki, signatureAlgorithm, tlvBytes(der, infoTlv), signature)) {
    throw new CsrError(
      'certificate request signature does not verify with its own public key (no proof of possession); create it again with the matching private key',
    );
  }
  const subject = AsnConvert.parse(tlvBytes(der, subjectTlv), Name);
  return {
    der,
    subject,
    subjectString: nameToString(subject),
    spki,
    keyAlgorithm,
    emails: emailsFromAttributes(der, attributesTlv),
  };
}

/** Build a signed PKCS#10 request; `emails` go into an extensionRequest subjectAltName. */
export async function buildCsr(key: KeyHandle, subject: NameSpec, emails?: string[]): Promise<Buffer> {
  const attributes: Buffer[] = [];
  if (emails && emails.length > 0) {
    const extensions = sequence(serialize(subjectAltNameEmails(emails)));
    attributes.push(sequence(oid(OID_PKCS9.extensionRequest), setOf(extensions)));
  }
  const info = sequence(
    integer(0),
    serialize(buildName(subject)),
    key.spki,
    tlv(0xa0, ...attributes), // [0] IMPLICIT SET OF Attribute
  );
  const hash = defaultHashFor(key.algorithm);
  const signature = await key.sign(info, hash);
  return sequence(info, signatureAlgorithmDer(key.algorithm, hash), bitString(signature));
}
