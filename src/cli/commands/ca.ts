import type { Command } from 'commander';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REVOCATION_REASONS, ISSUING_ID, type UserUsage } from '../../ca/ca-service.js';
import type { ValidationModel } from '../../ca/profiles.js';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../../crypto/key-handle.js';
import type { RevocationReason } from '../../pkix/crl.js';
import { toPem } from '../../pkix/pem.js';
import { certificateView } from '../../ca/certificate-view.js';
import { buildPkcs12 } from '../../pkix/pkcs12.js';
import { CliError, globals, output, readPassword, withSealpost } from '../common.js';

const USAGES: UserUsage[] = ['signing', 'encryption', 'both', 'multipurpose'];

export function registerCa(program: Command): void {
  const ca = program
    .command('ca')
    .description('issue, revoke and publish certificates of the organisation CA');

  ca.command('issue')
    .description('issue S/MIME certificates for a mailbox: server-generated keys as PKCS#12, or for a CSR')
    .requiredOption('--email <address>', 'the mailbox (rfc822Name)')
    .option('--name <full name>', "the person's name (sponsor-validated certificate)")
    .option('--csr <file>', 'PKCS#10 request (PEM or DER): certify its key instead of generating one')
    .option('--usage <usage>', `${USAGES.join(' | ')} (default: both without --csr, signing with --csr)`)
    .option('--key-algorithm <alg>', `for generated keys: ${KEY_ALGORITHMS.join(', ')}`, 'rsa-2048')
    .option('--validity-days <n>', 'certificate lifetime in days (≤ 825)')
    .option('--validation <model>', 'mailbox | sponsor (default: sponsor when --name is given)')
    .requiredOption('--out <dir>', 'directory for the certificate(s), chain and PKCS#12 files')
    .option('--password <password>', 'PKCS#12 password (prefer --password-file or the prompt)')
    .option('--password-file <file>', 'read the PKCS#12 password from a file')
    .option('--legacy', 'PKCS#12 with PBE-SHA1-3DES (for gpgsm and old clients) instead of AES-256')
    .action(
      async (
        o: {
          email: string;
          name?: string;
          csr?: string;
          usage?: string;
          keyAlgorithm: string;
          validityDays?: string;
          validation?: string;
          out: string;
          password?: string;
          passwordFile?: string;
          legacy?: boolean;
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        if (o.usage && !USAGES.includes(o.usage as UserUsage))
          throw new CliError(`--usage must be one of ${USAGES.join(', ')}`);
        if (!(KEY_ALGORITHMS as readonly string[]).includes(o.keyAlgorithm))
          throw new CliError(`--key-algorithm must be one of ${KEY_ALGORITHMS.join(', ')}`);
        if (o.validation && o.validation !== 'mailbox' && o.validation !== 'sponsor')
          throw new CliError('--validation must be mailbox or sponsor');
        const validityDays = o.validityDays ? Number(o.validityDays) : undefined;
        if (
          validityDays !== undefined &&
          (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > 825)
        )
          throw new CliError('--validity-days must be 1…825');
        const csr = o.csr ? await readFile(o.csr) : undefined;
        const password = csr
          ? undefined
          : await readPassword({
              ...(o.password !== undefined ? { password: o.password } : {}),
              ...(o.passwordFile ? { passwordFile: o.passwordFile } : {}),
              prompt: 'PKCS#12 password: ',
              confirm: true,
            });
        if (password !== undefined && password.length < 8)
          throw new CliError('the PKCS#12 password must have at least 8 characters');
        await withSealpost(g, async (ctx) => {
          const issued = await ctx.ca.issueUser({
            email: o.email,
            usage: (o.usage as UserUsage | undefined) ?? (csr ? 'signing' : 'both'),
            keyAlgorithm: o.keyAlgorithm as KeyAlgorithm,
            actor: 'cli',
            ...(o.name ? { name: o.name } : {}),
            ...(csr ? { csr } : {}),
            ...(validityDays ? { validityDays } : {}),
            ...(o.validation ? { validation: o.validation as ValidationModel } : {}),
          });
          await mkdir(o.out, { recursive: true, mode: 0o700 });
          const issuing = (await ctx.ca.authority(ISSUING_ID)).certificate.der;
          await writeFile(join(o.out, 'chain.pem'), await ctx.ca.chainPem());
          const files: { serial: string; profile: string; certificate: string; pkcs12?: string }[] = [];
          for (const i of issued) {
            const stem = i.profile.replace(/^smime-/, '');
            const certFile = join(o.out, `${stem}.pem`);
            await writeFile(certFile, toPem(i.certificate.der, 'CERTIFICATE'));
            const entry: (typeof files)[number] = {
              serial: i.serial,
              profile: i.profile,
              certificate: certFile,
            };
            if (i.generatedKey && password !== undefined) {
              const p12File = join(o.out, `${stem}.p12`);
              const p12 = buildPkcs12({
                privateKey: i.generatedKey.exportPkcs8(),
                certificate: i.certificate.der,
                chain: [issuing],
                password,
                legacy: o.legacy ?? false,
                friendlyName: `${o.email} (${stem})`,
              });
              await writeFile(p12File, p12, { mode: 0o600 });
              entry.pkcs12 = p12File;
            }
            files.push(entry);
          }
          output(
            g,
            { email: o.email.toLowerCase(), certificates: files, chain: join(o.out, 'chain.pem') },
            () =>
              [
                `Issued ${files.length} certificate(s) for ${o.email}:`,
                ...files.map(
                  (f) =>
                    `  ${f.profile.padEnd(20)} serial ${f.serial}\n    ${f.certificate}${f.pkcs12 ? `\n    ${f.pkcs12}` : ''}`,
                ),
                `  chain: ${join(o.out, 'chain.pem')}`,
              ].join('\n'),
          );
        });
      },
    );

  ca.command('revoke')
    .description('revoke a certificate (the CRL and OCSP answers follow)')
    .requiredOption('--serial <hex>', 'serial number in hex')
    .option('--reason <reason>', REVOCATION_REASONS.join(' | '), 'unspecified')
    .action(async (o: { serial: string; reason: string }, cmd: Command) => {
      const g = globals(cmd);
      if (!(REVOCATION_REASONS as readonly string[]).includes(o.reason))
        throw new CliError(`--reason must be one of ${REVOCATION_REASONS.join(', ')}`);
      await withSealpost(g, async (ctx) => {
        const record = await ctx.ca.revoke({
          serial: o.serial,
          reason: o.reason as RevocationReason,
          actor: 'cli',
        });
        output(
          g,
          certificateView(record),
          () =>
            `Revoked ${record.serial} (${record.subject}) at ${record.revokedAt}, reason ${record.revocationReason}`,
        );
      });
    });

  ca.command('crl')
    .description('sign a fresh CRL now and write it (DER)')
    .option('--authority <id>', 'root | issuing', ISSUING_ID)
    .option('--out <file>', 'where to write the CRL (default: stdout as PEM)')
    .action(async (o: { authority: string; out?: string }, cmd: Command) => {
      const g = globals(cmd);
      await withSealpost(g, async (ctx) => {
        const der = await ctx.ca.issueCrl(o.authority, {
          validityHours: ctx.config.crl.validityHours,
          actor: 'cli',
        });
        const latest = await ctx.ca.latestCrl(o.authority);
        if (o.out) await writeFile(o.out, der);
        else if (!g.json) process.stdout.write(toPem(der, 'X509 CRL'));
        output(
          g,
          {
            authority: o.authority,
            crlNumber: latest?.crlNumber.toString(),
            nextUpdate: latest?.nextUpdate.toISOString(),
            out: o.out ?? null,
            ...(o.out ? {} : { pem: toPem(der, 'X509 CRL') }),
          },
          () =>
            o.out
              ? `Wrote CRL #${latest?.crlNumber} for ${o.authority} to ${o.out} (next update ${latest?.nextUpdate.toISOString()})`
              : '',
        );
      });
    });

  ca.command('export')
    .description('write the CA chain (issuing CA, then root) as PEM')
    .option('--out <file>', 'output file (default: stdout)')
    .action(async (o: { out?: string }, cmd: Command) => {
      const g = globals(cmd);
      await withSealpost(g, async (ctx) => {
        const pem = await ctx.ca.chainPem();
        if (o.out) {
          await writeFile(o.out, pem);
          output(g, { out: o.out }, () => `Wrote the CA chain to ${o.out}`);
        } else if (g.json) output(g, { pem }, () => pem);
        else process.stdout.write(pem);
      });
    });

  ca.command('list')
    .description('list issued certificates, newest first')
    .option('--email <address>', 'only this mailbox')
    .option('--status <status>', 'valid | revoked')
    .option('--limit <n>', 'at most this many', '50')
    .action(async (o: { email?: string; status?: string; limit: string }, cmd: Command) => {
      const g = globals(cmd);
      if (o.status && o.status !== 'valid' && o.status !== 'revoked')
        throw new CliError('--status must be valid or revoked');
      await withSealpost(g, async (ctx) => {
        const records = await ctx.ca.list({
          ...(o.email ? { email: o.email } : {}),
          ...(o.status ? { status: o.status as 'valid' | 'revoked' } : {}),
          limit: Number(o.limit) || 50,
        });
        output(g, { certificates: records.map((r) => certificateView(r)) }, () =>
          records.length === 0
            ? 'No certificates.'
            : records
                .map(
                  (r) =>
                    `${r.serial}  ${r.status.padEnd(7)} ${r.profile.padEnd(18)} ${r.notAfter.slice(0, 10)}  ${r.subject}`,
                )
                .join('\n'),
        );
      });
    });

  ca.command('show')
    .description('show one certificate by serial')
    .requiredOption('--serial <hex>', 'serial number in hex')
    .action(async (o: { serial: string }, cmd: Command) => {
      const g = globals(cmd);
      await withSealpost(g, async (ctx) => {
        const r = await ctx.ca.get(o.serial);
        if (!r) throw new CliError(`no certificate with serial ${o.serial}`);
        output(g, { ...certificateView(r), pem: toPem(r.certificate, 'CERTIFICATE') }, () =>
          [
            `serial:   ${r.serial}`,
            `subject:  ${r.subject}`,
            `profile:  ${r.profile}`,
            `valid:    ${r.notBefore} … ${r.notAfter}`,
            `status:   ${r.status}${r.revokedAt ? ` since ${r.revokedAt} (${r.revocationReason})` : ''}`,
          ].join('\n'),
        );
      });
    });
}
