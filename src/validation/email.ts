/** RFC 8550 §3: the address a message comes from must be one of the signer's certificate addresses. */
import type { ParsedCertificate } from '../pkix/certificate.js';
import { nameAttribute } from '../pkix/name.js';
import { OID_AT } from '../pkix/oids.js';
import type { UsageFinding } from './purpose.js';

/**
 * Local parts are compared case-insensitively as well: the certificate parser lowercases rfc822Names, and no
 * mailbox provider we know of distinguishes case in practice.
 */
function canonical(address: string): string {
  return address.trim().toLowerCase();
}

/** The certificate's addresses: rfc822Name SANs, or the subject's emailAddress when there is no SAN address. */
export function certificateAddresses(cert: ParsedCertificate): readonly string[] {
  if (cert.emails.length > 0) return cert.emails;
  const legacy = nameAttribute(cert.subject, OID_AT.emailAddress);
  return legacy !== undefined ? [canonical(legacy)] : [];
}

export function checkEmail(cert: ParsedCertificate, email: string): UsageFinding {
  const wanted = canonical(email);
  const addresses = certificateAddresses(cert);
  if (addresses.includes(wanted)) return { ok: true, detail: `the certificate names ${wanted}` };
  return {
    ok: false,
    detail: addresses.length
      ? `the message is from ${wanted}, but the certificate is for ${addresses.join(', ')}`
      : `the message is from ${wanted}, but the certificate names no e-mail address`,
  };
}
