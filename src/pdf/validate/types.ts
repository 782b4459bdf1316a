/**
 * The public vocabulary of PDF signature validation: what callers pass and the report they get back.
 * Revision numbers in reports are 1-based: revision 1 is the original file (PdfDocument.atRevision(n - 1)).
 */
import type { RevocationPolicy } from '../../validation/index.js';
import type { SecurityHandlerFactory } from '../document.js';

export interface PdfValidationOptions {
  /** DER certificates the signer's (and the TSA's) chain must end at. */
  trustAnchors: Buffer[];
  /**
   * Default: the document's DSS first (no network); when that does not settle a certificate, online
   * (AIA OCSP / CRL DP) in 'if-available' / soft-fail mode. Supplied ocspResponses/crls are added to the DSS data.
   */
  revocation?: RevocationPolicy;
  /** Validation time when a signature has no valid timestamp (default: now). */
  at?: Date;
  password?: string;
  securityHandlers?: SecurityHandlerFactory[];
}

export type SignatureKind = 'approval' | 'certification' | 'document-timestamp';

/** ETSI EN 319 102-1 §5.1.3 main indications: TOTAL-PASSED, TOTAL-FAILED, INDETERMINATE. */
export type SignatureVerdict = 'valid' | 'invalid' | 'indeterminate';

export type CheckName =
  | 'integrity'
  | 'cms-signature'
  | 'pades-profile'
  | 'chain'
  | 'revocation'
  | 'timestamp'
  | 'coverage'
  | 'structure'
  | 'modifications'
  | 'docmdp';

export interface SignatureCheckResult {
  name: CheckName;
  ok: boolean;
  detail: string;
}

export interface RevisionModifications {
  /** The revision (1-based) that made these changes. */
  revision: number;
  allowed: boolean;
  /** One readable line per change, e.g. "object 12 (page 1 content) changed: not allowed". */
  changes: string[];
}

export type LtvLevel = 'B-B' | 'B-T' | 'B-LT' | 'B-LTA';

export interface SignatureReport {
  field: string;
  kind: SignatureKind;
  subFilter: string;
  /** The revision (1-based) the signature covers: the one that added it. */
  revision: number;
  verdict: SignatureVerdict;
  /** Readable reasons for a verdict other than valid (and notes worth reading). */
  reasons: string[];
  checks: SignatureCheckResult[];
  signer?: { subject: string; email?: string; serial: string };
  /** From /M: claimed by the signer's software, informative only. */
  signingTime?: Date;
  timestamp?: { genTime: Date; valid: boolean };
  coverage: { coversWholeFile: boolean; coveredRevision: number; bytesAfter: number };
  modifications: RevisionModifications[];
  ltv: { level: LtvLevel; dss: boolean; vri: boolean; revocationFromDss: boolean };
}

export interface PdfValidationReport {
  file: { revisions: number; encrypted: boolean };
  signatures: SignatureReport[];
  /** Every signature valid (false for a file without signatures). */
  ok: boolean;
}
