/**
 * validateCertificate: build a path to a trust anchor, check it (RFC 5280 §6, simplified for S/MIME and PDF),
 * check the leaf's usage and address, then revocation. Never throws: unreadable input is the verdict 'malformed'.
 */
import { parseCertificate, type ParsedCertificate } from '../pkix/certificate.js';
import { fromPem } from '../pkix/pem.js';
import { httpGet } from '../net/http-get.js';
import { certLabel, instant, issuerLabel, plural } from './describe.js';
import { checkEmail } from './email.js';
import { buildPaths, type PathSearch } from './path-builder.js';
import {
  checkCaConstraints,
  checkCriticalExtensions,
  checkValidityPeriods,
  type PathFinding,
} from './path-checks.js';
import { checkPurpose } from './purpose.js';
import { checkPathRevocation } from './revocation.js';
import type { Check, ValidationOptions, ValidationResult, Verdict } from './types.js';

/** When several checks fail, the verdict names the most serious (earliest here). */
const VERDICT_PRIORITY: Verdict[] = [
  'malformed',
  'tampered',
  'untrusted',
  'revoked',
  'expired',
  'not-yet-valid',
  'wrong-usage',
  'address-mismatch',
  'revocation-unknown',
];

/** Collects checks and the verdicts of failed ones. */
export class Findings {
  readonly checks: Check[] = [];
  private readonly failed: Verdict[] = [];

  pass(name: string, detail: string, warning = false): void {
    this.checks.push(warning ? { name, ok: true, detail, warning: true } : { name, ok: true, detail });
  }

  fail(name: string, verdict: Verdict, detail: string): void {
    this.checks.push({ name, ok: false, detail });
    this.failed.push(verdict);
  }

  get anyFailed(): boolean {
    return this.failed.length > 0;
  }

  get verdict(): Verdict {
    return VERDICT_PRIORITY.find((v) => this.failed.includes(v)) ?? 'valid';
  }
}

export function emptyResult(findings: Findings): ValidationResult {
  const verdict = findings.verdict;
  return {
    verdict,
    ok: verdict === 'valid',
    checks: findings.checks,
    path: [],
    revocation: [],
    validationData: { certificates: [], ocspResponses: [], crls: [] },
  };
}

function parseAll(ders: Buffer[], what: string, findings: Findings): ParsedCertificate[] {
  const out: ParsedCertificate[] = [];
  ders.forEach((der, i) => {
    try {
      out.push(parseCertificate(der));
    } catch (e) {
      findings.pass(what, `${what} #${i + 1} cannot be read and is ignored: ${(e as Error).message}`, true);
    }
  });
  return out;
}

/** AIA caIssuers (RFC 5280 §4.2.2.1): DER or PEM certificates; at most 1 MiB each, a few URLs per certificate. */
function issuerFetcher(timeoutMs: number) {
  return async (cert: ParsedCertificate): Promise<ParsedCertificate[]> => {
    const found: ParsedCertificate[] = [];
    for (const url of cert.caIssuersUrls.filter((u) => /^https?:\/\//i.test(u)).slice(0, 3)) {
      try {
        const res = await httpGet(url, { timeoutMs, maxResponseBytes: 1024 * 1024 });
        if (res.status !== 200) continue;
        const ders =
          res.body[0] === 0x30 ? [res.body] : fromPem(res.body.toString('latin1')).map((b) => b.der);
        for (const der of ders.slice(0, 8)) {
          try {
            found.push(parseCertificate(der));
          } catch {
            // not a certificate (e.g. a PKCS#7 bundle): ignored
          }
        }
      } catch {
        // unreachable: the chain check will explain the missing issuer
      }
    }
    return found;
  };
}

function explainNoPath(search: PathSearch, anchorCount: number): string {
  const end = search.longestPartial[search.longestPartial.length - 1] as ParsedCertificate;
  const chain = search.longestPartial.map(certLabel).join(' → ');
  const anchors = plural(anchorCount, 'configured trust anchor');
  const bad = search.badSignatures.find((b) => b.child === end);
  if (bad) {
    return `no trusted root: ${certLabel(bad.candidate)} has the right name to have issued ${certLabel(end)}, but its key does not verify ${certLabel(end)}'s signature (${chain})`;
  }
  if (end.subjectDer.equals(end.issuerDer)) {
    return `no trusted root: the chain ends at ${certLabel(end)}, a self-signed certificate which is not one of the ${anchors} (${chain})`;
  }
  return `no trusted root: the chain ends at ${certLabel(end)}, whose issuer ${issuerLabel(end)} is neither among the supplied intermediates nor one of the ${anchors} (missing intermediate certificate?) (${chain})`;
}

/** The path's failures, in the order they are checked. */
function pathFindings(path: ParsedCertificate[], o: ValidationOptions, at: Date): PathFinding[] {
  return [
    ...checkCriticalExtensions(path),
    ...checkValidityPeriods(path, at, o.purpose),
    ...checkCaConstraints(path),
  ];
}

async function validate(leafDer: Buffer, o: ValidationOptions): Promise<ValidationResult> {
  const findings = new Findings();
  const at = o.at ?? new Date();
  let leaf: ParsedCertificate;
  try {
    leaf = parseCertificate(leafDer);
  } catch (e) {
    findings.fail('parse', 'malformed', `the certificate cannot be read: ${(e as Error).message}`);
    return emptyResult(findings);
  }
  const anchors = parseAll(o.trustAnchors, 'trust anchor', findings);
  const pool = parseAll(o.intermediates ?? [], 'intermediate certificate', findings);
  const timeoutMs = o.revocation?.timeoutMs ?? 5000;
  const search = await buildPaths(leaf, anchors, pool, o.fetchIssuers ? issuerFetcher(timeoutMs) : undefined);
  if (search.paths.length === 0) {
    findings.fail('chain', 'untrusted', explainNoPath(search, anchors.length));
    return { ...emptyResult(findings), path: search.longestPartial };
  }
  // Prefer the first path (best key-id agreement) that passes every structural check.
  const evaluated = search.paths.map((path) => ({ path, problems: pathFindings(path, o, at) }));
  const best = evaluated.find((e) => e.problems.length === 0) ?? (evaluated[0] as (typeof evaluated)[number]);
  const { path } = best;
  findings.pass('chain', `${path.map(certLabel).join(' → ')} (trusted)`);
  for (const p of best.problems) findings.fail(p.name, p.verdict, p.detail);
  if (!best.problems.some((p) => p.name === 'validity')) {
    findings.pass('validity', `every certificate in the path is valid at ${instant(at)}`);
  }

  const usage = checkPurpose(leaf, o.purpose);
  if (usage.ok) findings.pass('usage', usage.detail);
  else findings.fail('usage', 'wrong-usage', usage.detail);
  if (o.email !== undefined) {
    const email = checkEmail(leaf, o.email);
    if (email.ok) findings.pass('address', email.detail);
    else findings.fail('address', 'address-mismatch', email.detail);
  }

  const result: ValidationResult = {
    ...emptyResult(findings),
    path,
    validationData: { certificates: path.map((c) => c.der), ocspResponses: [], crls: [] },
  };
  if (findings.anyFailed) {
    findings.pass('revocation', 'not checked: the certificate already failed the checks above');
  } else {
    const rev = await checkPathRevocation(path, {
      at,
      purpose: o.purpose,
      ...(o.revocation ? { policy: o.revocation } : {}),
      ...(o.cache ? { cache: o.cache } : {}),
    });
    for (const f of rev.findings) {
      if (f.ok) findings.pass(f.name, f.detail, f.warning === true);
      else findings.fail(f.name, f.verdict ?? 'revocation-unknown', f.detail);
    }
    result.revocation = rev.entries;
    result.validationData.ocspResponses = rev.data.ocspResponses;
    result.validationData.crls = rev.data.crls;
    for (const c of rev.data.certificates) {
      if (!result.validationData.certificates.some((d) => d.equals(c)))
        result.validationData.certificates.push(c);
    }
  }
  result.verdict = findings.verdict;
  result.ok = result.verdict === 'valid';
  result.checks = findings.checks;
  return result;
}

/** Validate `leaf` (DER) for `o.purpose` at `o.at`. Never throws; see ValidationResult.checks for the reasons. */
export async function validateCertificate(leaf: Buffer, o: ValidationOptions): Promise<ValidationResult> {
  try {
    return await validate(leaf, o);
  } catch (e) {
    const findings = new Findings();
    findings.fail('internal', 'malformed', `validation stopped on unreadable input: ${(e as Error).message}`);
    return emptyResult(findings);
  }
}
