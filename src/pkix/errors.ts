/** Malformed DER or a structure that does not match its ASN.1 definition; the message says what and where. */
export class Asn1Error extends Error {
  override name = 'Asn1Error';
}

/** A certificate signing request we cannot accept: malformed, bad proof of possession, or unsupported key. */
export class CsrError extends Error {
  override name = 'CsrError';
}

/**
 * A PKCS#12 file we cannot open. A failed MAC gives one message whether the password is wrong or the file
 * was altered: the two cannot be told apart, and saying which would help a password-guessing attacker.
 */
export class Pkcs12Error extends Error {
  override name = 'Pkcs12Error';
}

/** A certificate profile request that breaks a rule of RFC 5280 or the CA/B Forum S/MIME Baseline Requirements. */
export class ProfileError extends Error {
  override name = 'ProfileError';
}
