/**
 * `sealpost pdf verify --in signed.pdf --trust chain.pem [--json]`: validate every signature of a PDF like
 * an auditor (src/pdf/validate). Exit status 0 only when every signature is valid; 1 when one is not.
 * Registered on the `pdf` command group by src/cli/commands/pdf.ts: `registerPdfVerify(pdf)`.
 */
import type { Command } from 'commander';
import { formatReport, validatePdf } from '../../pdf/validate/index.js';
import { CliError, globals, output } from '../common.js';
import { loadCertificates, revocationOption, REVOCATION_MODES } from '../inputs.js';

interface VerifyOptions {
  in: string;
  trust: string[];
  revocation?: string;
  fetch: boolean;
  password?: string;
  at?: string;
}

export function registerPdfVerify(pdf: Command): void {
  pdf
    .command('verify')
    .description(
      'validate every signature: integrity, CMS, chain, revocation, timestamps, later changes; exit 0 only when all are valid',
    )
    .requiredOption('--in <file>', 'the signed PDF')
    .option(
      '--trust <file>',
      'trusted root certificate(s), PEM or DER; repeatable',
      (v: string, prev: string[] = []) => [...prev, v],
      [],
    )
    .option(
      '--revocation <mode>',
      `${REVOCATION_MODES.join(' | ')} (default if-available: the DSS first, then online)`,
    )
    .option('--no-fetch', 'use only the revocation data in the document (DSS); never go online')
    .option('--password <password>', 'password of an encrypted PDF')
    .option('--at <iso-date>', 'validation time for signatures without a valid timestamp (default now)')
    .action(async (o: VerifyOptions, cmd: Command) => {
      if (o.trust.length === 0) throw new CliError('give the trusted root certificate(s) with --trust');
      const at = o.at === undefined ? undefined : new Date(o.at);
      if (at && Number.isNaN(at.getTime())) throw new CliError(`--at ${o.at} is not a date (use ISO 8601)`);
      const report = await validatePdf(o.in, {
        trustAnchors: await loadCertificates(o.trust),
        revocation: revocationOption(o.revocation, { fetch: o.fetch }),
        ...(at ? { at } : {}),
        ...(o.password !== undefined ? { password: o.password } : {}),
      });
      output(globals(cmd), report, () => formatReport(report));
      // The report is printed; an empty message tells main() not to print an error line on top.
      if (!report.ok) throw new CliError('', 1);
    });
}
