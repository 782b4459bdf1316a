/**
 * PDF signature validation "like an auditor" (ETSI EN 319 102-1 verdicts over ISO 32000-2 §12.8 signatures):
 * for every signature its integrity (ByteRange, byte-range.ts), the CMS or timestamp token (cms-checks.ts),
 * chain, revocation and timestamps with the DSS as first source (trust.ts), coverage, structural tricks
 * (structure.ts) and the modification analysis of every later revision (modifications.ts).
 *
 *   const report = await validatePdf('signed.pdf', { trustAnchors: [rootDer] });
 *   console.log(formatReport(report)); report.ok === every signature valid
 *
 * Revision numbers in the report are 1-based (revision 1 is the original file).
 */
import { Asn1Error } from '../../pkix/errors.js';
import { parseCertificate } from '../../pkix/certificate.js';
import { CmsSignedDataError } from '../../pkix/cms/signed-data.js';
import { TspVerifyError } from '../../pkix/tsp.js';
import { PdfDocument } from '../document.js';
import { PdfError } from '../errors.js';
import type { PdfObject } from '../objects.js';
import type { ByteSource } from '../source.js';
import { checkByteRange, type ByteRangeFacts } from './byte-range.js';
import { checkSignatureCrypto, type CryptoFacts } from './cms-checks.js';
import { readDss, vriKeysFor, type DssData } from './dss.js';
import { judgeChange, ModificationAnalyzer, type Permissions } from './modifications.js';
import { findSignatures, lockCovers, type FoundSignature } from './signatures.js';
import { structureFindings, type StructureFinding } from './structure.js';
import { checkTrust, type TrustFacts } from './trust.js';
import type {
  LtvLevel,
  PdfValidationOptions,
  PdfValidationReport,
  RevisionModifications,
  SignatureCheckResult,
  SignatureReport,
} from './types.js';

export type * from './types.js';
export { formatReport } from './report.js';

export async function validatePdf(
  input: string | ByteSource,
  o: PdfValidationOptions,
): Promise<PdfValidationReport> {
  const openOpts = {
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.securityHandlers ? { securityHandlers: o.securityHandlers } : {}),
  };
  const doc =
    typeof input === 'string'
      ? await PdfDocument.openFile(input, openOpts)
      : await PdfDocument.open(input, openOpts);
  try {
    return await validateDocument(doc, o);
  } finally {
    if (typeof input === 'string') await doc.close();
  }
}

interface Context {
  doc: PdfDocument;
  o: PdfValidationOptions;
  sigs: FoundSignature[];
  integrity: ByteRangeFacts[];
  analyzer: ModificationAnalyzer;
  structure: StructureFinding[];
  dss?: DssData;
}

interface PartialReport {
  report: SignatureReport;
  timestampValid: boolean;
}

async function validateDocument(doc: PdfDocument, o: PdfValidationOptions): Promise<PdfValidationReport> {
  const sigs = await findSignatures(doc);
  const integrity: ByteRangeFacts[] = [];
  for (const s of sigs) integrity.push(await checkByteRange(doc, doc.atRevision(s.seenInRevision), s.dict));
  const dss = await readDss(doc, doc.latest);
  const ctx: Context = {
    doc,
    o,
    sigs,
    integrity,
    analyzer: new ModificationAnalyzer(doc),
    structure: await structureFindings(doc),
    ...(dss ? { dss } : {}),
  };
  const partials: PartialReport[] = [];
  for (let i = 0; i < sigs.length; i++) partials.push(await validateOne(ctx, i));
  for (let i = 0; i < sigs.length; i++) finishLtv(ctx, partials, i);
  const signatures = partials.map((p) => p.report);
  return {
    file: { revisions: doc.revisions.length, encrypted: doc.encryption !== undefined },
    signatures,
    ok: signatures.length > 0 && signatures.every((s) => s.verdict === 'valid'),
  };
}

/** Errors that mean "this input cannot be judged", as opposed to bugs. */
function isInputError(e: unknown): e is Error {
  return (
    e instanceof PdfError ||
    e instanceof CmsSignedDataError ||
    e instanceof TspVerifyError ||
    e instanceof Asn1Error
  );
}

async function validateOne(ctx: Context, i: number): Promise<PartialReport> {
  const sig = ctx.sigs[i]!;
  const facts = ctx.integrity[i]!;
  const { doc } = ctx;
  const checks: SignatureCheckResult[] = [];
  const failures: string[] = [];
  const undecided: string[] = [];
  const last = doc.revisions.length - 1;
  const covered = facts.coveredRevision;
  const report: SignatureReport = {
    field: sig.field,
    kind: sig.kind,
    subFilter: sig.subFilter,
    revision: covered >= 0 ? covered + 1 : sig.seenInRevision + 1,
    verdict: 'indeterminate',
    reasons: [],
    checks,
    coverage: {
      coversWholeFile: covered === last && facts.coveredEnd >= doc.source.size - 2,
      coveredRevision: covered + 1,
      bytesAfter: Math.max(0, doc.source.size - facts.coveredEnd),
    },
    modifications: [],
    ltv: { level: 'B-B', dss: ctx.dss !== undefined, vri: false, revocationFromDss: false },
  };
  const signingTime = pdfDate(await doc.latest.resolve(sig.dict.get('M')));
  if (signingTime) report.signingTime = signingTime;

  checks.push({
    name: 'integrity',
    ok: facts.ok,
    detail: facts.ok
      ? `/ByteRange [${facts.ranges!.join(' ')}] signs every byte of revision ${covered + 1} except the /Contents value`
      : facts.problems.join('; '),
  });
  failures.push(...facts.problems);
  let timestampValid = false;
  try {
    let crypto: CryptoFacts | undefined;
    if (facts.ok && facts.ranges && facts.cms) {
      crypto = await checkSignatureCrypto(doc.source, facts.ranges, facts.cms, sig.subFilter);
      failures.push(...crypto.failures);
      undecided.push(...crypto.undecided);
      checks.push({
        name: 'cms-signature',
        ok: crypto.failures.length === 0 && crypto.undecided.length === 0,
        detail: [...crypto.failures, ...crypto.undecided, ...crypto.notes].join('; '),
      });
      if (crypto.profileProblems) {
        failures.push(...crypto.profileProblems);
        checks.push({
          name: 'pades-profile',
          ok: crypto.profileProblems.length === 0,
          detail:
            crypto.profileProblems.join('; ') || `${sig.subFilter} signed attributes as the profile requires`,
        });
      }
      if (crypto.signerCertificate) report.signer = signerOf(crypto.signerCertificate);
      let trust: TrustFacts | undefined;
      if (crypto.signerCertificate || crypto.docTimestamp) {
        trust = await checkTrust(crypto, ctx.dss, ctx.o);
        checks.push(...trust.checks);
        failures.push(...trust.failures);
        undecided.push(...trust.undecided);
        if (trust.timestamp) report.timestamp = trust.timestamp;
        timestampValid = trust.timestamp?.valid === true;
        report.ltv.revocationFromDss = trust.revocationFromDss;
      }
    }
    checks.push({
      name: 'coverage',
      ok: true,
      detail: report.coverage.coversWholeFile
        ? 'the signature covers the whole file'
        : covered >= 0
          ? `the signature covers revision ${covered + 1} of ${last + 1}; ${report.coverage.bytesAfter} bytes were appended after it`
          : 'the signed bytes do not end at a revision boundary',
    });
    const structural = ctx.structure.filter((f) => f.trailing || f.revision <= covered);
    checks.push({
      name: 'structure',
      ok: structural.length === 0,
      detail: structural.map((f) => f.text).join('; ') || 'no structural tricks found',
    });
    failures.push(...structural.map((f) => f.text));
    if (covered >= 0) {
      const mods = await modificationsAfter(ctx, i, covered);
      report.modifications = mods.revisions;
      const changeCount = mods.revisions.reduce((n, m) => n + m.changes.length, 0);
      const bad = mods.revisions.filter((m) => !m.allowed);
      const badTexts = mods.denied;
      failures.push(...badTexts);
      checks.push({
        name: 'modifications',
        ok: bad.length === 0,
        detail:
          report.modifications.length === 0
            ? 'no later revisions'
            : bad.length
              ? badTexts.join('; ')
              : `${report.modifications.length} later revision(s), ${changeCount} change(s), all allowed`,
      });
      if (sig.kind === 'certification')
        checks.push({
          name: 'docmdp',
          ok: bad.length === 0,
          detail: `certification signature with DocMDP P=${sig.docMdpP ?? 2} (${DOCMDP_TEXT[sig.docMdpP ?? 2]})`,
        });
    }
  } catch (e) {
    if (!isInputError(e)) throw e;
    undecided.push(`validation could not be completed: ${e.message}`);
  }
  report.reasons = [...new Set([...failures, ...undecided])];
  report.verdict = failures.length
    ? 'invalid'
    : undecided.length || checks.some((c) => !c.ok)
      ? 'indeterminate'
      : 'valid';
  if (report.verdict === 'indeterminate' && report.reasons.length === 0)
    report.reasons = checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
  return { report, timestampValid };
}

const DOCMDP_TEXT: Record<number, string> = {
  1: 'no changes allowed except validation data and document timestamps',
  2: 'form filling and signing allowed',
  3: 'form filling, signing and annotations allowed',
};

/** Every later revision's changes, and the texts of those not allowed. */
async function modificationsAfter(
  ctx: Context,
  i: number,
  covered: number,
): Promise<{ revisions: RevisionModifications[]; denied: string[] }> {
  const { doc, sigs, integrity, analyzer } = ctx;
  const sig = sigs[i]!;
  const certIndex = sigs.findIndex((s) => s.kind === 'certification');
  const cert =
    certIndex >= 0
      ? { p: sigs[certIndex]!.docMdpP ?? 2, rev: integrity[certIndex]!.coveredRevision }
      : undefined;
  const own = new Set<number>(
    [sig.fieldRef?.num, sig.sigRef?.num, ...sig.widgetRefs.map((w) => w.num)].filter(
      (n): n is number => n !== undefined,
    ),
  );
  const signedRoles = await analyzer.rolesAt(covered);
  const lockedBy = (field: string, revision: number): string | undefined => {
    for (let k = 0; k < sigs.length; k++) {
      const s = sigs[k]!;
      const rev = integrity[k]!.coveredRevision;
      if (s.lock && rev >= 0 && rev < revision && s.field !== field && lockCovers(s.lock, field))
        return s.field;
    }
    return undefined;
  };
  const out: RevisionModifications[] = [];
  const denied: string[] = [];
  for (let r = covered + 1; r < doc.revisions.length; r++) {
    const perms: Permissions = {
      ...(cert && cert.rev >= 0 && cert.rev < r ? { docMdp: cert.p } : {}),
      lockedBy,
      ownObjects: own,
      signedEnd: integrity[i]!.coveredEnd,
      signedRoles,
    };
    const changes: string[] = [];
    let allowed = true;
    for (const c of await analyzer.changesIn(r)) {
      const j = await judgeChange(doc, c, perms);
      if (!j) continue;
      changes.push(j.allowed ? j.text : `NOT ALLOWED: ${j.text}`);
      if (!j.allowed) {
        allowed = false;
        denied.push(j.text);
      }
    }
    for (const f of ctx.structure.filter((s) => s.revision === r && !s.trailing)) {
      changes.push(`NOT ALLOWED: ${f.text}`);
      denied.push(f.text);
      allowed = false;
    }
    out.push({ revision: r + 1, allowed, changes });
  }
  return { revisions: out, denied };
}

function finishLtv(ctx: Context, partials: PartialReport[], i: number): void {
  const { report } = partials[i]!;
  const facts = ctx.integrity[i]!;
  const dss = ctx.dss;
  if (dss && facts.contents)
    report.ltv.vri = vriKeysFor(facts.contents, facts.cms).some((k) => dss.vriKeys.has(k));
  const docTimestampsAfter = partials.filter(
    (p, k) =>
      k !== i &&
      p.report.kind === 'document-timestamp' &&
      p.report.verdict === 'valid' &&
      p.report.coverage.coveredRevision > report.coverage.coveredRevision - 1,
  );
  let level: LtvLevel = 'B-B';
  if (partials[i]!.timestampValid || docTimestampsAfter.length) level = 'B-T';
  if (level === 'B-T' && dss && report.ltv.revocationFromDss) level = 'B-LT';
  if (
    level === 'B-LT' &&
    dss &&
    docTimestampsAfter.some((p) => p.report.coverage.coveredRevision - 1 >= dss.revision)
  )
    level = 'B-LTA';
  report.ltv.level = level;
}

function signerOf(der: Buffer): SignatureReport['signer'] {
  try {
    const c = parseCertificate(der);
    const email = c.emails[0] ?? /(?:^|,)\s*(?:E|emailAddress)=([^,]+)/.exec(c.subjectString)?.[1];
    return { subject: c.subjectString, ...(email ? { email } : {}), serial: c.serialHex };
  } catch {
    return undefined;
  }
}

/** A PDF date string (§7.9.4): D:YYYYMMDDHHmmSSOHH'mm. */
function pdfDate(o: PdfObject | undefined): Date | undefined {
  if (o?.kind !== 'string') return undefined;
  const m = /^(?:D:)?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?([Zz+-])?(\d{2})?'?(\d{2})?/.exec(
    o.toText(),
  );
  if (!m) return undefined;
  const [, y, mo = '01', d = '01', h = '00', mi = '00', s = '00', tz, th = '00', tm = '00'] = m;
  const sign = tz === '-' ? -1 : tz === '+' ? 1 : 0;
  const utc = Date.UTC(+y!, +mo - 1, +d, +h, +mi, +s) - sign * (+th * 60 + +tm) * 60_000;
  return Number.isFinite(utc) ? new Date(utc) : undefined;
}
