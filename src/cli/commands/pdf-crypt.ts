/**
 * `sealpost pdf encrypt | decrypt | protect`: public-key PDF encryption (Adobe.PubSec) for certificate
 * holders, decrypted copies, and encrypt-then-sign. Hooked under the `pdf` command group:
 * registerPdfCrypt(pdfCommand).
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { parsePkcs12 } from '../../pkix/pkcs12.js';
import { createPrivateKey } from 'node:crypto';
import { ALL_PDF_PERMISSIONS, permissionNames, type PdfPermission } from '../../pdf/crypt/pubsec.js';
import { encryptPdfFile } from '../../pdf/encrypt/index.js';
import { decryptPdfFile } from '../../pdf/decrypt/index.js';
import { protectPdf } from '../../pdf/encrypt/protect.js';
import { PADES_LEVELS, signerFromPkcs12, type PadesLevel } from '../../pdf/sign/index.js';
import type { DecryptionKey, Recipient } from '../../pkix/cms/enveloped-data.js';
import { Pkcs11Decryptor } from '../../crypto/pkcs11-decrypt.js';
import { CliError, globals, output, parseList, readPassword } from '../common.js';
import { collect, loadCertificates } from '../inputs.js';

/** Every certificate in the --to files (PEM with one or more certificates, or one DER). */
async function readRecipients(files: string[]): Promise<Recipient[]> {
  if (files.length === 0) throw new CliError('give at least one recipient certificate with --to');
  return (await loadCertificates(files)).map((certificate) => ({ certificate }));
}

function parseAes(value: string): 256 | 128 {
  if (value !== '256' && value !== '128') throw new CliError('--aes must be 256 or 128');
  return Number(value) as 256 | 128;
}

function parsePermissions(value: string | undefined): PdfPermission[] {
  if (value === undefined || value === 'all') return [...ALL_PDF_PERMISSIONS];
  if (value === 'none') return [];
  const names = parseList(value);
  const unknown = names.filter((n) => !(ALL_PDF_PERMISSIONS as string[]).includes(n));
  if (unknown.length)
    throw new CliError(
      `unknown permission ${unknown.join(', ')}; use all, none or a list of ${ALL_PDF_PERMISSIONS.join(', ')}`,
    );
  return names as PdfPermission[];
}

function parseLevel(level: string): PadesLevel {
  if (!(PADES_LEVELS as readonly string[]).includes(level))
    throw new CliError(`--level must be one of ${PADES_LEVELS.join(', ')}`);
  return level as PadesLevel;
}

interface EncryptFlags {
  in: string;
  out: string;
  to: string[];
  aes: string;
  permissions?: string;
  encryptMetadata: boolean;
}

function withEncryptOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--in <file>', 'the PDF (unsigned)')
    .requiredOption('--out <file>', 'where to write the result')
    .option('--to <cert>', 'recipient certificate, PEM or DER (repeat for several)', collect, [])
    .option('--aes <bits>', 'AES key size: 256 (PDF 2.0 / Acrobat X+) or 128', '256')
    .option('--permissions <list>', `all, none, or a comma list of ${ALL_PDF_PERMISSIONS.join(', ')}`)
    .option('--no-encrypt-metadata', 'leave the XMP metadata readable');
}

async function encryptOptions(o: EncryptFlags) {
  return {
    recipients: await readRecipients(o.to),
    aes: parseAes(o.aes),
    permissions: parsePermissions(o.permissions),
    encryptMetadata: o.encryptMetadata,
  };
}

export function registerPdfCrypt(pdf: Command): void {
  withEncryptOptions(
    pdf
      .command('encrypt')
      .description('encrypt a PDF for certificate holders (Adobe.PubSec), e.g. customer + archive'),
  )
    .option('--pdf-password <password>', 'password of an input that is itself password-encrypted')
    .action(async (o: EncryptFlags & { pdfPassword?: string }, cmd: Command) => {
      const g = globals(cmd);
      const opts = await encryptOptions(o);
      const result = await encryptPdfFile(o.in, o.out, {
        ...opts,
        ...(o.pdfPassword !== undefined ? { open: { password: o.pdfPassword } } : {}),
      });
      const { encryption, ...written } = result;
      output(
        g,
        {
          ...written,
          aes: encryption.keyBits,
          recipients: opts.recipients.length,
          permissions: opts.permissions,
        },
        () =>
          `encrypted ${o.in} → ${o.out} (AES-${encryption.keyBits}, ${opts.recipients.length} recipient(s), ` +
          `permissions: ${opts.permissions.join(', ') || 'none'})`,
      );
    });

  pdf
    .command('decrypt')
    .description('write a decrypted copy of an encrypted PDF (certificate or password encryption)')
    .requiredOption('--in <file>', 'the encrypted PDF')
    .requiredOption('--out <file>', 'where to write the decrypted copy')
    .option('--key <file>', 'PKCS#12 with the recipient key and certificate')
    .option('--password <password>', 'PKCS#12 password (prefer --password-file or the prompt)')
    .option('--password-file <file>', 'read the PKCS#12 password from a file')
    .option('--pkcs11-module <path>', 'PKCS#11 module holding the recipient key')
    .option('--token <label>', 'PKCS#11 token label')
    .option('--pin <pin>', 'PKCS#11 user PIN (or SEALPOST_PKCS11_PIN)')
    .option('--key-label <label>', 'label of the private key on the token')
    .option('--cert <file>', 'recipient certificate (PEM/DER) of the token key')
    .option('--pdf-password <password>', 'password of a password-encrypted PDF')
    .action(
      async (
        o: {
          in: string;
          out: string;
          key?: string;
          password?: string;
          passwordFile?: string;
          pkcs11Module?: string;
          token?: string;
          pin?: string;
          keyLabel?: string;
          cert?: string;
          pdfPassword?: string;
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const keys: DecryptionKey[] = [];
        let decryptor: Pkcs11Decryptor | undefined;
        try {
          if (o.key) {
            const password = await readPassword({
              ...(o.password !== undefined ? { password: o.password } : {}),
              ...(o.passwordFile ? { passwordFile: o.passwordFile } : {}),
              prompt: 'PKCS#12 password: ',
            });
            const p12 = parsePkcs12(await readFile(o.key), password);
            keys.push({
              privateKey: createPrivateKey({ key: p12.privateKey, format: 'der', type: 'pkcs8' }),
              certificate: p12.certificate,
            });
          }
          if (o.pkcs11Module) {
            const pin = o.pin ?? process.env.SEALPOST_PKCS11_PIN;
            if (!o.token || !o.keyLabel || !o.cert || pin === undefined)
              throw new CliError(
                'a token key needs --token, --key-label, --cert and --pin (or SEALPOST_PKCS11_PIN)',
              );
            const [cert] = await readRecipients([o.cert]);
            decryptor = Pkcs11Decryptor.open(
              { module: o.pkcs11Module, tokenLabel: o.token, pin },
              o.keyLabel,
            );
            keys.push({ privateKey: decryptor, certificate: cert!.certificate });
          }
          if (keys.length === 0 && o.pdfPassword === undefined)
            throw new CliError('give the recipient key (--key, or --pkcs11-module …) or --pdf-password');
          const result = await decryptPdfFile(o.in, o.out, {
            keys,
            ...(o.pdfPassword !== undefined ? { password: o.pdfPassword } : {}),
          });
          output(
            g,
            { ...result, permissionNames: permissionNames(result.permissions) },
            () =>
              `decrypted ${o.in} → ${o.out} (${result.filter}; permissions: ${permissionNames(result.permissions).join(', ') || 'none'})`,
          );
        } finally {
          decryptor?.close();
        }
      },
    );

  withEncryptOptions(
    pdf.command('protect').description('encrypt for the recipients, then sign (PAdES) — both stay valid'),
  )
    .requiredOption('--key <file>', 'PKCS#12 with the signing (seal) key, its certificate and chain')
    .option('--password <password>', 'PKCS#12 password (prefer --password-file or the prompt)')
    .option('--password-file <file>', 'read the PKCS#12 password from a file')
    .option('--level <level>', PADES_LEVELS.join(' | '), 'B-B')
    .option('--tsa <url>', 'RFC 3161 timestamp authority for B-T and above (default: SEALPOST_TSA_URL)')
    .action(
      async (
        o: EncryptFlags & {
          key: string;
          password?: string;
          passwordFile?: string;
          level: string;
          tsa?: string;
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const level = parseLevel(o.level);
        const opts = await encryptOptions(o);
        const password = await readPassword({
          ...(o.password !== undefined ? { password: o.password } : {}),
          ...(o.passwordFile ? { passwordFile: o.passwordFile } : {}),
          prompt: 'PKCS#12 password: ',
        });
        const signer = signerFromPkcs12(await readFile(o.key), password);
        const url = o.tsa ?? process.env.SEALPOST_TSA_URL;
        if (level !== 'B-B' && !url)
          throw new CliError(`${level} needs a timestamp authority: pass --tsa URL or set SEALPOST_TSA_URL`);
        const result = await protectPdf({
          input: o.in,
          output: o.out,
          ...opts,
          signer,
          level,
          ...(level !== 'B-B' && url ? { tsa: { url } } : {}),
          ...(level === 'B-LT' || level === 'B-LTA' ? { ltv: { trustAnchors: signer.roots } } : {}),
        });
        output(
          g,
          result,
          () =>
            `protected ${o.in} → ${o.out} (AES-${result.encryption.keyBits} for ${result.encryption.recipients} ` +
            `recipient(s), signed ${result.signature.level} in field ${result.signature.field})`,
        );
      },
    );
}
