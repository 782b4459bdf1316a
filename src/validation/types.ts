/** The validation layer's public vocabulary: what callers ask for and what they get back. */
import type { ParsedCertificate } from '../pkix/certificate.js';
import type { RevocationCache } from './revocation-cache.js';

export type Purpose =
  'smime-signing' | 'smime-encryption' | 'document-signing' | 'timestamping' | 'ocsp-signing' | 'any';

/**
 * The outcome in categories a person understands. `tampered` is for signed objects (a timestamp token whose
 * signature or message imprint does not match); a certificate alone never gets it.
 */
export type Verdict =
  | 'valid'
  | 'untrusted'
  | 'expired'
  | 'not-yet-valid'
  | 'revoked'
  | 'revocation-unknown'
  | 'wrong-usage'
  | 'address-mismatch'
  | 'malformed'
  | 'tampered';

/** One step of the validation, e.g. { name: 'chain', ok: true, detail: 'CN=Alice → CN=Issuing CA → CN=Root CA (trusted)' }. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** Set on a passing check that still deserves attention (e.g. revocation soft-failed). */
  warning?: boolean;
}

export interface RevocationPolicy {
  /** require: every non-anchor certificate must have a good status from OCSP or a CRL. */
  mode: 'require' | 'if-available' | 'off';
  /** On network failure: the verdict revocation-unknown (fail) or a warning check (soft-fail). */
  onUnreachable: 'fail' | 'soft-fail';
  /** Default true: ask OCSP first, fall back to the CRL. */
  preferOcsp?: boolean;
  /** Default true: use AIA OCSP / CRLDP URLs; false = only the supplied data. */
  fetch?: boolean;
  /** Supplied data (a PDF DSS, a cache), used before fetching. */
  ocspResponses?: Buffer[];
  crls?: Buffer[];
  /** Per request, default 5000. */
  timeoutMs?: number;
}

export interface ValidationOptions {
  /** DER certificates. */
  trustAnchors: Buffer[];
  /** Untrusted pool, e.g. the certificates embedded in the CMS. */
  intermediates?: Buffer[];
  /** Validation time (default now); for a timestamped signature, the timestamp's genTime. */
  at?: Date;
  purpose: Purpose;
  /** RFC 8550 §3: must match an rfc822Name SAN (or emailAddress in the subject when there is no SAN). */
  email?: string;
  /** Default { mode: 'if-available', onUnreachable: 'soft-fail' }. */
  revocation?: RevocationPolicy;
  /** Follow AIA caIssuers for missing intermediates (default false). */
  fetchIssuers?: boolean;
  /** Shared across validations to avoid fetching the same OCSP response or CRL again. */
  cache?: RevocationCache;
}

export type RevocationSource = 'ocsp' | 'crl' | 'none';

export interface RevocationEntry {
  serialHex: string;
  status: 'good' | 'revoked' | 'unknown';
  source: RevocationSource;
  revokedAt?: Date;
  reason?: string;
  checkedAt: Date;
}

export interface ValidationData {
  certificates: Buffer[];
  ocspResponses: Buffer[];
  crls: Buffer[];
}

export interface ValidationResult {
  verdict: Verdict;
  ok: boolean;
  checks: Check[];
  /** Leaf first, anchor last. */
  path: ParsedCertificate[];
  revocation: RevocationEntry[];
  /** Everything used, for a PAdES DSS or an archive (B-LT). */
  validationData: ValidationData;
}
