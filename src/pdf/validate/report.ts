/** The readable form of a validation report: one block per signature, verdict first, then the reasons. */
import type { PdfValidationReport, SignatureReport } from './types.js';

const VERDICT: Record<SignatureReport['verdict'], string> = {
  valid: 'VALID',
  invalid: 'INVALID',
  indeterminate: 'INDETERMINATE',
};

export function formatReport(r: PdfValidationReport): string {
  const lines: string[] = [];
  const enc = r.file.encrypted ? ', encrypted' : '';
  lines.push(
    `${r.file.revisions} revision${r.file.revisions === 1 ? '' : 's'}${enc}, ${r.signatures.length} signature${r.signatures.length === 1 ? '' : 's'}`,
  );
  if (r.signatures.length === 0) lines.push('no signatures found');
  r.signatures.forEach((s, i) => {
    lines.push('');
    lines.push(`Signature ${i + 1}: field "${s.field}" — ${VERDICT[s.verdict]}`);
    lines.push(`  kind: ${s.kind} (${s.subFilter || 'no SubFilter'}), revision ${s.revision}`);
    if (s.signer)
      lines.push(
        `  signer: ${s.signer.subject}${s.signer.email ? ` <${s.signer.email}>` : ''}, serial ${s.signer.serial}`,
      );
    if (s.signingTime) lines.push(`  claimed signing time (/M): ${s.signingTime.toISOString()}`);
    if (s.timestamp)
      lines.push(
        `  timestamp: ${s.timestamp.genTime.toISOString()} (${s.timestamp.valid ? 'valid' : 'NOT valid'})`,
      );
    const c = s.coverage;
    lines.push(
      c.coversWholeFile
        ? '  coverage: the whole file'
        : `  coverage: revision ${c.coveredRevision}; ${c.bytesAfter} bytes were added after signing`,
    );
    lines.push(
      `  long-term validation: PAdES ${s.ltv.level}${s.ltv.dss ? ', DSS' : ''}${s.ltv.vri ? ', VRI' : ''}${s.ltv.revocationFromDss ? ', revocation data from the DSS' : ''}`,
    );
    for (const reason of s.reasons) lines.push(`  ! ${reason}`);
    for (const m of s.modifications) {
      lines.push(`  revision ${m.revision}: ${m.allowed ? 'allowed changes' : 'CHANGES NOT ALLOWED'}`);
      for (const ch of m.changes.slice(0, 20)) lines.push(`    - ${ch}`);
      if (m.changes.length > 20) lines.push(`    … and ${m.changes.length - 20} more`);
    }
    for (const ch of s.checks) lines.push(`  [${ch.ok ? 'ok' : 'FAIL'}] ${ch.name}: ${ch.detail}`);
  });
  lines.push('');
  lines.push(r.ok ? 'Result: every signature is valid.' : 'Result: NOT every signature is valid.');
  return lines.join('\n');
}
