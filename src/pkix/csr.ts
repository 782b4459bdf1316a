/** PKCS#10 certification requests (RFC 2986): parse with proof-of-possession check, and build for clients. */
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { Extensions, SubjectAlternativeName, type Name } from '@peculiar/asn1-x509';
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
  tlv,
  tlvBytes,
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

function emailsFromExtensionRequest(csr: CertificationRequest): string[] {
  const emails: string[] = [];
  for (const attr of csr.certificationRequestInfo.attributes ?? []) {
    if (attr.type !== OID_PKCS9.extensionRequest) continue;
    for (const value of attr.values) {
      for (const ext of AsnConvert.parse(value, Extensions)) {
        if (ext.extnID !== OID_EXT.subjectAltName) continue;
        for (const gn of AsnConvert.parse(ext.extnValue.buffer, SubjectAlternativeName)) {
          if (gn.rfc822Name !== undefined) emails.push(gn.rfc822Name.toLowerCase());
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
  const csr = AsnConvert.parse(der, CertificationRequest);
  const info = csr.certificationRequestInfo;
  if (info.version !== 0) throw new CsrError(`certificate request version ${info.version} is not v1 (0)`);
  // The SPKI exactly as received (3rd field of CertificationRequestInfo): no re-encoding on the issuance path.
  const spkiTlv = children(der, infoTlv)[2];
  if (!spkiTlv || spkiTlv.tag !== TAG.SEQUENCE)
    throw new Asn1Error('certificationRequestInfo: subjectPKInfo missing');
  const spki = tlvBytes(der, spkiTlv);
  const keyAlgorithm = keyAlgorithmOfSpki(spki);
  if (!verifySignature(spki, csr.signatureAlgorithm, tlvBytes(der, infoTlv), Buffer.from(csr.signature))) {
    throw new CsrError(
      'certificate request signature does not verify with its own public key (no proof of possession); create it again with the matching private key',
    );
  }
  return {
    der,
    subject: info.subject,
    subjectString: nameToString(info.subject),
    spki,
    keyAlgorithm,
    emails: emailsFromExtensionRequest(csr),
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
