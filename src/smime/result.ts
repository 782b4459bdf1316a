/**
 * The outcome of verifying a message, in categories a person understands, with every check that led to it.
 * The validation layer's finer verdicts fold into these (a certificate not yet valid reads as "expired": outside
 * its validity period; the check's detail says which).
 */
import type { Check, Verdict } from '../validation/index.js';
import type { SmimeCapability, EncryptionKeyPreference } from '../pkix/cms/smime-capabilities.js';

export type SmimeVerdict =
  | 'valid'
  | 'tampered'
  | 'untrusted'
  | 'revoked'
  | 'expired'
  | 'wrong-usage'
  | 'address-mismatch'
  | 'revocation-unknown'
  | 'no-signature'
  | 'malformed';

export type { Check };

/** Worst first: the verdict of a result is the first one any failed check calls for. */
const PRIORITY: SmimeVerdict[] = [
  'malformed',
  'no-signature',
  'tampered',
  'untrusted',
  'revoked',
  'expired',
  'wrong-usage',
  'address-mismatch',
  'revocation-unknown',
];

/** One sentence per verdict, for the first line a person reads. */
export const VERDICT_SUMMARY: Record<SmimeVerdict, string> = {
  valid: 'the signature is valid: the message is unchanged since the signer signed it',
  tampered: 'the message was changed after it was signed (or the signature is broken)',
  untrusted: 'the signer cannot be traced to a trusted certificate authority',
  revoked: "the signer's certificate has been revoked",
  expired: "the signer's certificate is outside its validity period",
  'wrong-usage': "the signer's certificate is not allowed to sign e-mail",
  'address-mismatch': "the sender's address is not the one in the signer's certificate",
  'revocation-unknown': "the signer's certificate could not be checked for revocation",
  'no-signature': 'the message is not signed',
  malformed: 'the message or its signature cannot be read',
};

export function fromValidationVerdict(v: Verdict): SmimeVerdict {
  return v === 'not-yet-valid' ? 'expired' : v;
}

/** Collects checks and derives the verdict. */
export class VerificationFindings {
  readonly checks: Check[] = [];
  private readonly failed: SmimeVerdict[] = [];

  pass(name: string, detail: string, warning = false): void {
    this.checks.push(warning ? { name, ok: true, detail, warning: true } : { name, ok: true, detail });
  }

  fail(name: string, verdict: SmimeVerdict, detail: string): void {
    this.checks.push({ name, ok: false, detail });
    this.failed.push(verdict);
  }

  /** Add the checks of a validation result, prefixed, and its verdict when it failed. */
  addValidation(prefix: string, r: { verdict: Verdict; checks: Check[] }): void {
    for (const c of r.checks) this.checks.push({ ...c, name: prefix ? `${prefix} ${c.name}` : c.name });
    if (r.verdict !== 'valid') this.failed.push(fromValidationVerdict(r.verdict));
  }

  get verdict(): SmimeVerdict {
    return PRIORITY.find((v) => this.failed.includes(v)) ?? 'valid';
  }
}

export interface SignerReport {
  certificate?: Buffer;
  subject?: string;
  /** The addresses the certificate names (rfc822Name). */
  addresses: string[];
  signingTime?: Date;
  /** genTime of a valid signature timestamp (CAdES-T). */
  timestampTime?: Date;
  /** What the signer can decrypt (harvest these for later encryption to them). */
  capabilities?: SmimeCapability[];
  encryptionKeyPreference?: EncryptionKeyPreference;
}

export interface SmimeVerification {
  verdict: SmimeVerdict;
  ok: boolean;
  summary: string;
  checks: Check[];
  format?: 'multipart-signed' | 'opaque';
  signer?: SignerReport;
  /** The From address compared with the certificate. */
  from?: string;
  /** The signed MIME entity (exact bytes as received for multipart/signed). */
  content?: Buffer;
}

export function verificationResult(
  f: VerificationFindings,
  rest: Omit<SmimeVerification, 'verdict' | 'ok' | 'summary' | 'checks'>,
): SmimeVerification {
  const verdict = f.verdict;
  return { verdict, ok: verdict === 'valid', summary: VERDICT_SUMMARY[verdict], checks: f.checks, ...rest };
}
