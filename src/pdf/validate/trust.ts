/**
 * Chain, revocation and timestamp checks through the shared validation layer (src/validation), with the
 * document's DSS as the first source of revocation data (ETSI EN 319 102-1 §5.2.6 / PAdES B-LT): only when the
 * DSS does not settle a certificate, and the policy allows fetching, are OCSP responders and CRLs asked online.
 * The validation time is the signature timestamp's genTime when the timestamp is valid (§5.5), else `at`.
 */
import {
  DEFAULT_REVOCATION_POLICY,
  validateCertificate,
  validateTimestampToken,
  type RevocationPolicy,
  type ValidationResult,
} from '../../validation/index.js';
import type { DssData } from './dss.js';
import type { CryptoFacts } from './cms-checks.js';
import type { CheckName, PdfValidationOptions, SignatureCheckResult } from './types.js';

export interface TrustFacts {
  checks: SignatureCheckResult[];
  failures: string[];
  undecided: string[];
  timestamp?: { genTime: Date; valid: boolean };
  revocationFromDss: boolean;
}

interface Policies {
  /** Supplied data only (DSS + caller's), no network. */
  offline: RevocationPolicy;
  /** The caller's policy with the supplied data; undefined when it may not fetch. */
  online?: RevocationPolicy;
  suppliedAny: boolean;
}

function policies(o: PdfValidationOptions, dss: DssData | undefined): Policies {
  const base = o.revocation ?? DEFAULT_REVOCATION_POLICY;
  const ocspResponses = [...(dss?.ocspResponses ?? []), ...(base.ocspResponses ?? [])];
  const crls = [...(dss?.crls ?? []), ...(base.crls ?? [])];
  const withData = { ...base, ocspResponses, crls };
  return {
    offline: { ...withData, fetch: false },
    ...(base.fetch === false || base.mode === 'off' ? {} : { online: withData }),
    suppliedAny: (dss?.ocspResponses.length ?? 0) + (dss?.crls.length ?? 0) > 0,
  };
}

/** Every non-anchor certificate of the path has a definitive good status. */
function revocationSettled(r: ValidationResult): boolean {
  const needed = r.path.slice(0, -1);
  return needed.every((c) =>
    r.revocation.some((e) => e.serialHex === c.serialHex && e.status === 'good' && e.source !== 'none'),
  );
}

/** Validate with the supplied data first; go online only when that leaves revocation open. */
async function withDssFirst<R extends ValidationResult>(
  p: Policies,
  run: (policy: RevocationPolicy) => Promise<R>,
): Promise<{ result: R; fromDss: boolean }> {
  const offline = await run(p.offline);
  if (revocationSettled(offline) || !p.online || offline.verdict === 'revoked' || offline.path.length === 0)
    return { result: offline, fromDss: p.suppliedAny && revocationSettled(offline) };
  return { result: await run(p.online), fromDss: false };
}

export async function checkTrust(
  crypto: CryptoFacts,
  dss: DssData | undefined,
  o: PdfValidationOptions,
): Promise<TrustFacts> {
  const facts: TrustFacts = { checks: [], failures: [], undecided: [], revocationFromDss: false };
  const pol = policies(o, dss);
  const intermediates = [...crypto.certificates, ...(dss?.certificates ?? [])];
  const common = { trustAnchors: o.trustAnchors, intermediates };

  if (crypto.docTimestamp) {
    const { token, digest } = crypto.docTimestamp;
    const { result, fromDss } = await withDssFirst(pol, (revocation) =>
      validateTimestampToken(token, { ...common, digest, revocation }),
    );
    facts.revocationFromDss = fromDss;
    if (result.genTime) facts.timestamp = { genTime: result.genTime, valid: result.ok };
    absorb(facts, result, 'the document timestamp');
    return facts;
  }

  let at = o.at ?? new Date();
  if (crypto.timestampToken && crypto.signatureValue) {
    const token = crypto.timestampToken;
    const data = crypto.signatureValue;
    const { result } = await withDssFirst(pol, (revocation) =>
      validateTimestampToken(token, { ...common, data, revocation }),
    );
    if (result.genTime) facts.timestamp = { genTime: result.genTime, valid: result.ok };
    if (result.ok && result.genTime) at = result.genTime;
    const detail = result.checks.map((c) => c.detail).join('; ');
    facts.checks.push({ name: 'timestamp', ok: result.ok, detail: `signature timestamp: ${detail}` });
    if (!result.ok) {
      const why = `the signature timestamp is not valid: ${failedDetails(result)}`;
      (result.verdict === 'tampered' ? facts.failures : facts.undecided).push(why);
    }
  }
  if (!crypto.signerCertificate) return facts;
  const signer = crypto.signerCertificate;
  const { result, fromDss } = await withDssFirst(pol, (revocation) =>
    validateCertificate(signer, { ...common, at, purpose: 'document-signing', revocation }),
  );
  facts.revocationFromDss = fromDss;
  absorb(facts, result, "the signer's certificate");
  return facts;
}

function failedDetails(r: ValidationResult): string {
  return r.checks
    .filter((c) => !c.ok)
    .map((c) => c.detail)
    .join('; ');
}

/** Fold the validation layer's checks into chain / revocation / timestamp checks and a verdict. */
function absorb(facts: TrustFacts, r: ValidationResult, what: string): void {
  const groups = new Map<CheckName, { ok: boolean; details: string[] }>();
  for (const c of r.checks) {
    const name: CheckName =
      c.name === 'revocation' ? 'revocation' : c.name === 'timestamp' ? 'timestamp' : 'chain';
    const g = groups.get(name) ?? { ok: true, details: [] };
    g.ok &&= c.ok;
    g.details.push(c.warning ? `${c.detail} (warning)` : c.detail);
    groups.set(name, g);
  }
  for (const [name, g] of groups) facts.checks.push({ name, ok: g.ok, detail: g.details.join('; ') });
  if (r.ok) return;
  const why = `${what} is not valid (${r.verdict}): ${failedDetails(r)}`;
  (r.verdict === 'revoked' || r.verdict === 'tampered' ? facts.failures : facts.undecided).push(why);
}
