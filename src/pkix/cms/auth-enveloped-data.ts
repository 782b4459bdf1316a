/**
 * AuthEnvelopedData (RFC 5083) specifics: its content type, version, and the fields after
 * authEncryptedContentInfo — authAttrs (authenticated as GCM additional data), the mac (the GCM tag, RFC 5084 §3.2)
 * and unauthAttrs. The shared envelope layout lives in enveloped-data.ts.
 */
import { Asn1Error } from '../errors.js';
import type { BerCursor } from './ber.js';

/** id-ct-authEnvelopedData (RFC 5083 §1.1). */
export const OID_AUTH_ENVELOPED_DATA = '1.2.840.113549.1.9.16.1.23';

/** RFC 5083 §2.1: version is always 0. */
export const AUTH_ENVELOPED_DATA_VERSION = 0;

export interface AuthEnvelopedTail {
  tag: Buffer;
  /** DER of authAttrs with the SET OF tag (RFC 5083 §2.2), the GCM additional authenticated data; absent if none. */
  aad?: Buffer;
}

/** Read `[1] authAttrs OPTIONAL, mac OCTET STRING, [2] unauthAttrs OPTIONAL` from the cursor. */
export function readAuthEnvelopedTail(c: BerCursor): AuthEnvelopedTail {
  const authAttrs = c.optional(0xa1);
  const macNode = c.any('mac');
  if (macNode.tag !== 0x04 && macNode.tag !== 0x24)
    throw new Asn1Error('AuthEnvelopedData: mac is not an OCTET STRING');
  const mac = Buffer.from(c.octets(macNode, 'mac', 64));
  c.optional(0xa2);
  if (c.rest().length > 0) throw new Asn1Error('AuthEnvelopedData: unexpected fields after unauthAttrs');
  if (!authAttrs) return { tag: mac };
  // The MAC covers the DER encoding with an EXPLICIT SET OF tag in place of the [1] IMPLICIT tag.
  const aad = Buffer.from(c.bytes(authAttrs));
  aad[0] = 0x31;
  return { tag: mac, aad };
}
