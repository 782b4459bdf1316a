/**
 * Revocation status of every non-anchor certificate of a path, from supplied data (a PDF DSS, an archive),
 * the cache, and — unless the policy says not to fetch — the certificate's AIA OCSP responder and CRL
 * distribution points, in the order the policy prefers. The policy decides what missing or unreachable
 * information means (require / if-available, fail / soft-fail).
 */
import type { ParsedCertificate } from '../pkix/certificate.js';
import { OID_KP } from '../pkix/oids.js';
import { CrlFetchError, fetchCrl } from '../net/crl-client.js';
import { OcspFetchError, fetchOcspResponse } from '../net/ocsp-client.js';
import { evaluateCrl } from './crl-check.js';
import { roleOf } from './describe.js';
import type { Evidence } from './evidence.js';
import { evaluateOcsp } from './ocsp-check.js';
import { RevocationCache } from './revocation-cache.js';
import type { Purpose, RevocationEntry, RevocationPolicy, ValidationData, Verdict } from './types.js';

export const DEFAULT_REVOCATION_POLICY: RevocationPolicy = {
  mode: 'if-available',
  onUnreachable: 'soft-fail',
};

export interface RevocationFinding {
  name: string;
  ok: boolean;
  detail: string;
  warning?: boolean;
  verdict?: Verdict;
}

export interface PathRevocation {
  entries: RevocationEntry[];
  findings: RevocationFinding[];
  data: ValidationData;
}

type StatusEvidence = Extract<Evidence, { kind: 'status' }>;
type Problem = { kind: 'unreachable' | 'invalid' | 'unknown'; detail: string };

interface Context {
  at: Date;
  now: Date;
  policy: RevocationPolicy;
  cache?: RevocationCache;
}

const httpUrls = (urls: readonly string[]): string[] => urls.filter((u) => /^https?:\/\//i.test(u));

/** One source of status information for one certificate; undefined = nothing definitive from it. */
type Source = () => Promise<StatusEvidence | undefined>;

function sourcesFor(
  cert: ParsedCertificate,
  issuer: ParsedCertificate,
  ctx: Context,
  problems: Problem[],
): Source[] {
  const preferOcsp = ctx.policy.preferOcsp !== false;
  const timeoutMs = ctx.policy.timeoutMs ?? 5000;
  const judge = (e: Evidence): StatusEvidence | undefined => {
    if (e.kind === 'status') return e;
    if (e.kind !== 'not-applicable') problems.push({ kind: e.kind, detail: e.detail });
    return undefined;
  };
  const suppliedOcsp: Source[] = (ctx.policy.ocspResponses ?? []).map(
    (der) => async () => judge(evaluateOcsp(der, cert, issuer, ctx)),
  );
  const suppliedCrls: Source[] = (ctx.policy.crls ?? []).map(
    (der) => async () => judge(evaluateCrl(der, cert, issuer, ctx)),
  );
  const supplied = preferOcsp ? [...suppliedOcsp, ...suppliedCrls] : [...suppliedCrls, ...suppliedOcsp];
  if (ctx.policy.fetch === false) return supplied;

  const ocsp: Source[] = httpUrls(cert.ocspUrls).map((url) => async () => {
    const key = RevocationCache.ocspKey(issuer, cert.serialHex);
    const cached = ctx.cache?.get(key);
    if (cached) {
      const e = evaluateOcsp(cached, cert, issuer, { ...ctx, url });
      if (e.kind === 'status') return e;
    }
    try {
      const { der, nonce } = await fetchOcspResponse({
        url,
        issuerCertificate: issuer.der,
        serialHex: cert.serialHex,
        timeoutMs,
      });
      const e = judge(
        evaluateOcsp(der, cert, issuer, { ...ctx, url, ...(nonce ? { sentNonce: nonce } : {}) }),
      );
      if (e) ctx.cache?.put(key, der, e.nextUpdate);
      return e;
    } catch (err) {
      if (!(err instanceof OcspFetchError)) throw err;
      problems.push({ kind: err.kind === 'unreachable' ? 'unreachable' : 'invalid', detail: err.message });
      return undefined;
    }
  });
  const crl: Source[] = httpUrls(cert.crlUrls).map((url) => async () => {
    const key = RevocationCache.crlKey(url);
    const cached = ctx.cache?.get(key);
    if (cached) {
      const e = evaluateCrl(cached, cert, issuer, { ...ctx, url });
      if (e.kind === 'status') return e;
    }
    try {
      const der = await fetchCrl(url, { timeoutMs });
      const e = judge(evaluateCrl(der, cert, issuer, { ...ctx, url }));
      if (e) ctx.cache?.put(key, der, e.nextUpdate, e.crlNumber);
      return e;
    } catch (err) {
      if (!(err instanceof CrlFetchError)) throw err;
      problems.push({ kind: err.kind === 'unreachable' ? 'unreachable' : 'invalid', detail: err.message });
      return undefined;
    }
  });
  return [...supplied, ...(preferOcsp ? [...ocsp, ...crl] : [...crl, ...ocsp])];
}

export async function checkPathRevocation(
  path: ParsedCertificate[],
  p: { at: Date; purpose: Purpose; policy?: RevocationPolicy; cache?: RevocationCache },
): Promise<PathRevocation> {
  const policy = p.policy ?? DEFAULT_REVOCATION_POLICY;
  const out: PathRevocation = {
    entries: [],
    findings: [],
    data: { certificates: [], ocspResponses: [], crls: [] },
  };
  if (policy.mode === 'off') {
    out.findings.push({ name: 'revocation', ok: true, detail: 'not checked (revocation checking is off)' });
    return out;
  }
  const ctx: Context = { at: p.at, now: new Date(), policy, ...(p.cache ? { cache: p.cache } : {}) };
  // The anchor (last) is trusted as configured; everything below it is checked against its issuer.
  for (let i = 0; i < path.length - 1; i++) {
    const cert = path[i] as ParsedCertificate;
    const issuer = path[i + 1] as ParsedCertificate;
    const who = roleOf(path, i, p.purpose);
    if (cert.ocspNoCheck && cert.extKeyUsage.includes(OID_KP.ocspSigning)) {
      out.findings.push({
        name: 'revocation',
        ok: true,
        detail: `${who}: not checked, it carries id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1)`,
      });
      continue;
    }
    const problems: Problem[] = [];
    const sources = sourcesFor(cert, issuer, ctx, problems);
    let evidence: StatusEvidence | undefined;
    for (const source of sources) {
      evidence = await source();
      if (evidence) break;
    }
    const checkedAt = new Date();
    if (evidence) {
      recordEvidence(out, evidence);
      const entry: RevocationEntry = {
        serialHex: cert.serialHex,
        status: evidence.status,
        source: evidence.source,
        checkedAt,
      };
      if (evidence.revokedAt) entry.revokedAt = evidence.revokedAt;
      if (evidence.reason) entry.reason = evidence.reason;
      out.entries.push(entry);
      out.findings.push(
        evidence.status === 'revoked'
          ? { name: 'revocation', ok: false, verdict: 'revoked', detail: `${who} was ${evidence.detail}` }
          : { name: 'revocation', ok: true, detail: `${who}: ${evidence.detail}` },
      );
      continue;
    }
    out.entries.push({ serialHex: cert.serialHex, status: 'unknown', source: 'none', checkedAt });
    out.findings.push(undecided(who, problems, policy));
  }
  return out;
}

function recordEvidence(out: PathRevocation, e: StatusEvidence): void {
  const list = e.source === 'ocsp' ? out.data.ocspResponses : out.data.crls;
  if (!list.some((d) => d.equals(e.der))) list.push(e.der);
  for (const c of e.certificates)
    if (!out.data.certificates.some((d) => d.equals(c))) out.data.certificates.push(c);
}

/** No definitive status: what the policy makes of it. */
function undecided(who: string, problems: Problem[], policy: RevocationPolicy): RevocationFinding {
  const reasons = problems.map((pr) => pr.detail).join('; ');
  if (problems.length === 0) {
    const none = `${who}: no revocation information is available (no OCSP or CRL URL${policy.fetch === false ? ' used: fetching is off' : ''}, and none was supplied)`;
    return policy.mode === 'require'
      ? {
          name: 'revocation',
          ok: false,
          verdict: 'revocation-unknown',
          detail: `${none}, but the policy requires it`,
        }
      : { name: 'revocation', ok: true, detail: `${none}; not checked` };
  }
  const onlyUnreachable = problems.every((pr) => pr.kind === 'unreachable');
  if (onlyUnreachable && policy.onUnreachable === 'soft-fail') {
    return {
      name: 'revocation',
      ok: true,
      warning: true,
      detail: `${who}: revocation status could not be checked (${reasons}); accepted because the policy soft-fails`,
    };
  }
  return {
    name: 'revocation',
    ok: false,
    verdict: 'revocation-unknown',
    detail: `${who}: revocation status is unknown (${reasons})`,
  };
}
