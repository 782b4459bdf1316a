import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseCertificate } from '../../pkix/certificate.js';
import { fromPem } from '../../pkix/pem.js';
import {
  PADES_LEVELS,
  extendPdf,
  signPdf,
  signerFromPkcs12,
  timestampPdf,
  type DocMdpPermission,
  type PadesLevel,
  type TsaOptions,
  type VisibleSignature,
} from '../../pdf/sign/index.js';
import type { HashAlgorithm } from '../../crypto/key-handle.js';
import { CliError, configFor, globals, output, readPassword, type GlobalOptions } from '../common.js';
import { registerPdfVerify } from './pdf-verify.js';
import { registerPdfCrypt } from './pdf-crypt.js';

const HASHES: HashAlgorithm[] = ['sha256', 'sha384', 'sha512'];

/**
 * The TSA: --tsa, else SEALPOST_TSA_URL, else this installation's own (publicUrl + /tsa) when a data
 * directory exists here; undefined when none is configured.
 */
function tsaFor(g: GlobalOptions, flag: string | undefined): TsaOptions | undefined {
  const url = flag ?? process.env.SEALPOST_TSA_URL;
  if (url) return { url };
  try {
    const config = configFor(g);
    if (existsSync(config.dataDir)) return { url: `${config.publicUrl.replace(/\/+$/, '')}/tsa` };
  } catch {
    // No usable configuration: the caller reports that a TSA is needed.
  }
  return undefined;
}

function parseLevel(level: string): PadesLevel {
  if (!(PADES_LEVELS as readonly string[]).includes(level))
    throw new CliError(`--level must be one of ${PADES_LEVELS.join(', ')}`);
  return level as PadesLevel;
}

function parseVisible(spec: string): VisibleSignature {
  const n = spec.split(',').map((s) => Number(s.trim()));
  if (n.length !== 5 || n.some((v) => !Number.isFinite(v)) || !Number.isInteger(n[0]) || n[0]! < 1)
    throw new CliError(
      '--visible must be page,x,y,width,height (page from 1, the rest in points), e.g. 1,36,36,200,60',
    );
  const [page, x, y, width, height] = n as [number, number, number, number, number];
  return { page, x, y, width, height };
}

/** Trust anchors from a PEM/DER file: its self-signed certificates, or all of them when none is. */
async function readAnchors(file: string): Promise<Buffer[]> {
  const bytes = await readFile(file);
  const text = bytes.toString('latin1');
  const ders = text.includes('-----BEGIN') ? fromPem(text).map((b) => b.der) : [bytes];
  const roots = ders.filter((d) => {
    const c = parseCertificate(d);
    return c.subjectDer.equals(c.issuerDer);
  });
  return roots.length ? roots : ders;
}

export function registerPdf(program: Command): void {
  const pdf = program
    .command('pdf')
    .description('sign, verify, encrypt and decrypt PDFs (PAdES B-B … B-LTA, Adobe.PubSec)');
  registerPdfVerify(pdf);
  registerPdfCrypt(pdf);

  pdf
    .command('sign')
    .description('sign a PDF with a PKCS#12 key as an incremental update (PAdES baseline)')
    .requiredOption('--in <file>', 'the PDF to sign')
    .requiredOption('--out <file>', 'where to write the signed PDF')
    .requiredOption('--key <file>', 'PKCS#12 with the signing key, its certificate and chain')
    .option('--password <password>', 'PKCS#12 password (prefer --password-file or the prompt)')
    .option('--password-file <file>', 'read the PKCS#12 password from a file')
    .option('--level <level>', PADES_LEVELS.join(' | '), 'B-B')
    .option('--tsa <url>', 'RFC 3161 timestamp authority (default: SEALPOST_TSA_URL or this installation)')
    .option(
      '--trust <file>',
      'PEM certificates where the chains end (B-LT, B-LTA; default: the root in the PKCS#12)',
    )
    .option('--visible <page,x,y,w,h>', 'visible signature rectangle, e.g. 1,36,36,200,60')
    .option('--image <file>', 'PNG or JPEG drawn in the visible signature')
    .option('--certify <P>', 'certification signature with DocMDP permissions 1, 2 or 3')
    .option('--field <name>', 'existing empty signature field to sign, or the name of the new one')
    .option('--reason <text>')
    .option('--location <text>')
    .option('--contact <text>', 'contact information of the signer')
    .option('--hash <alg>', HASHES.join(' | '), 'sha256')
    .option('--pss', 'RSA keys: RSASSA-PSS instead of PKCS#1 v1.5')
    .option('--pdf-password <password>', 'password of an encrypted input PDF')
    .action(
      async (
        o: {
          in: string;
          out: string;
          key: string;
          password?: string;
          passwordFile?: string;
          level: string;
          tsa?: string;
          trust?: string;
          visible?: string;
          image?: string;
          certify?: string;
          field?: string;
          reason?: string;
          location?: string;
          contact?: string;
          hash: string;
          pss?: boolean;
          pdfPassword?: string;
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const level = parseLevel(o.level);
        if (!HASHES.includes(o.hash as HashAlgorithm))
          throw new CliError(`--hash must be one of ${HASHES.join(', ')}`);
        if (o.certify !== undefined && !['1', '2', '3'].includes(o.certify))
          throw new CliError('--certify must be 1, 2 or 3');
        if (o.image && !o.visible) throw new CliError('--image needs --visible page,x,y,w,h');
        const visible = o.visible ? parseVisible(o.visible) : undefined;
        if (visible && o.image) visible.image = await readFile(o.image);
        const password = await readPassword({
          ...(o.password !== undefined ? { password: o.password } : {}),
          ...(o.passwordFile ? { passwordFile: o.passwordFile } : {}),
          prompt: 'PKCS#12 password: ',
        });
        const signer = signerFromPkcs12(await readFile(o.key), password);
        const tsa = level === 'B-B' ? undefined : tsaFor(g, o.tsa);
        if (level !== 'B-B' && !tsa)
          throw new CliError(`${level} needs a timestamp authority: pass --tsa URL or set SEALPOST_TSA_URL`);
        const anchors = o.trust ? await readAnchors(o.trust) : signer.roots;
        const result = await signPdf({
          input: o.in,
          output: o.out,
          signer,
          level,
          hash: o.hash as HashAlgorithm,
          ...(o.pss ? { pss: true } : {}),
          ...(tsa ? { tsa } : {}),
          ...(level === 'B-LT' || level === 'B-LTA' ? { ltv: { trustAnchors: anchors } } : {}),
          ...(o.field ? { field: o.field } : {}),
          ...(visible ? { visible } : {}),
          ...(o.certify ? { certify: Number(o.certify) as DocMdpPermission } : {}),
          details: {
            ...(o.reason ? { reason: o.reason } : {}),
            ...(o.location ? { location: o.location } : {}),
            ...(o.contact ? { contactInfo: o.contact } : {}),
          },
          ...(o.pdfPassword !== undefined ? { open: { password: o.pdfPassword } } : {}),
        });
        output(g, result, () =>
          [
            `signed ${o.in} → ${result.output} (${result.level}, field ${result.field})`,
            result.signatureTimestamp
              ? `signature timestamp: ${result.signatureTimestamp.toISOString()}`
              : '',
            result.documentTimestamp ? `document timestamp: ${result.documentTimestamp.toISOString()}` : '',
          ]
            .filter(Boolean)
            .join('\n'),
        );
      },
    );

  pdf
    .command('extend')
    .description("raise a signed PDF's level: add validation data (B-LT) and a document timestamp (B-LTA)")
    .requiredOption('--in <file>', 'the signed PDF')
    .requiredOption('--out <file>', 'where to write the extended PDF')
    .option('--level <level>', 'B-LT | B-LTA', 'B-LTA')
    .option('--tsa <url>', 'RFC 3161 timestamp authority (default: SEALPOST_TSA_URL or this installation)')
    .requiredOption('--trust <file>', 'PEM certificates where the chains end')
    .option('--pdf-password <password>', 'password of an encrypted input PDF')
    .action(
      async (
        o: { in: string; out: string; level: string; tsa?: string; trust: string; pdfPassword?: string },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        if (o.level !== 'B-LT' && o.level !== 'B-LTA') throw new CliError('--level must be B-LT or B-LTA');
        const tsa = o.level === 'B-LTA' ? tsaFor(g, o.tsa) : undefined;
        if (o.level === 'B-LTA' && !tsa)
          throw new CliError('B-LTA needs a timestamp authority: pass --tsa URL or set SEALPOST_TSA_URL');
        const result = await extendPdf({
          input: o.in,
          output: o.out,
          level: o.level,
          ltv: { trustAnchors: await readAnchors(o.trust) },
          ...(tsa ? { tsa } : {}),
          ...(o.pdfPassword !== undefined ? { open: { password: o.pdfPassword } } : {}),
        });
        output(g, { ...result, level: o.level }, () => `extended ${o.in} → ${result.output} (${o.level})`);
      },
    );

  pdf
    .command('timestamp')
    .description('add a document timestamp (RFC 3161, /DocTimeStamp) covering the whole PDF')
    .requiredOption('--in <file>', 'the PDF')
    .requiredOption('--out <file>', 'where to write the timestamped PDF')
    .option('--tsa <url>', 'RFC 3161 timestamp authority (default: SEALPOST_TSA_URL or this installation)')
    .option('--pdf-password <password>', 'password of an encrypted input PDF')
    .action(async (o: { in: string; out: string; tsa?: string; pdfPassword?: string }, cmd: Command) => {
      const g = globals(cmd);
      const tsa = tsaFor(g, o.tsa);
      if (!tsa)
        throw new CliError(
          'a document timestamp needs a timestamp authority: pass --tsa URL or set SEALPOST_TSA_URL',
        );
      const result = await timestampPdf({
        input: o.in,
        output: o.out,
        tsa,
        ...(o.pdfPassword !== undefined ? { open: { password: o.pdfPassword } } : {}),
      });
      output(g, result, () => `timestamped ${o.in} → ${result.output} at ${result.genTime.toISOString()}`);
    });
}
