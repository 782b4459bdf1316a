import type { Command } from 'commander';
import { readFile, stat } from 'node:fs/promises';
import { writeFile } from 'node:fs/promises';
import type { ContentCipher } from '../../pkix/cms/enveloped-data.js';
import { pemOrDer } from '../../pkix/pem.js';
import {
  credentialFromFile,
  decryptMessage,
  decryptMessageFile,
  IN_MEMORY_LIMIT,
  encryptMessageFile,
  openMessage,
  openMessageFile,
  sendReadyFile,
  signMessageFile,
  type AlgorithmChoice,
  type EncryptionTarget,
  type SmimeCredential,
  type SmimeVerification,
} from '../../smime/index.js';
import { CliError, globals, output, readPassword } from '../common.js';
import { collect, loadCertificates, revocationOption, REVOCATION_MODES } from '../inputs.js';

const CIPHERS: ContentCipher[] = ['aes-256-cbc', 'aes-128-cbc', 'aes-256-gcm', 'aes-128-gcm'];

interface PasswordOptions {
  password?: string;
  passwordFile?: string;
}

async function loadCredential(file: string, o: PasswordOptions): Promise<SmimeCredential> {
  const bytes = await readFile(file);
  // PEM key files need no password; only ask for one when the file is PKCS#12.
  const isPem = bytes
    .subarray(0, 64 * 1024)
    .toString('latin1')
    .includes('-----BEGIN ');
  const password = isPem
    ? undefined
    : await readPassword({
        ...(o.password !== undefined ? { password: o.password } : {}),
        ...(o.passwordFile ? { passwordFile: o.passwordFile } : {}),
        prompt: `password for ${file}: `,
      });
  return credentialFromFile(bytes, password, file);
}

async function loadCertificate(file: string): Promise<Buffer> {
  try {
    return pemOrDer(await readFile(file), 'CERTIFICATE');
  } catch (e) {
    throw new CliError(`${file}: not a certificate (${(e as Error).message})`);
  }
}

function cipherOption(value: string | undefined): ContentCipher | undefined {
  if (value === undefined) return undefined;
  if (!CIPHERS.includes(value as ContentCipher))
    throw new CliError(`--cipher must be one of ${CIPHERS.join(', ')}`);
  return value as ContentCipher;
}

async function recipientsOf(files: string[]): Promise<EncryptionTarget[]> {
  if (files.length === 0) throw new CliError('give at least one recipient certificate with --to');
  return Promise.all(files.map(async (f) => ({ certificate: await loadCertificate(f) })));
}

function describeVerification(v: SmimeVerification): string {
  const lines = [`${v.verdict.toUpperCase()}: ${v.summary}`];
  if (v.signer?.subject)
    lines.push(
      `signer: ${v.signer.subject}${v.signer.addresses.length ? ` <${v.signer.addresses.join(', ')}>` : ''}`,
    );
  if (v.from) lines.push(`from:   ${v.from}`);
  if (v.signer?.signingTime) lines.push(`signed: ${v.signer.signingTime.toISOString()}`);
  if (v.signer?.timestampTime) lines.push(`timestamp: ${v.signer.timestampTime.toISOString()} (TSA)`);
  lines.push('checks:');
  for (const c of v.checks) lines.push(`  ${c.ok ? (c.warning ? '!' : '✓') : '✗'} ${c.name}: ${c.detail}`);
  return lines.join('\n');
}

const choiceLines = (choice: AlgorithmChoice | undefined): string =>
  choice ? choice.reasons.map((r) => `  ${r}`).join('\n') : '';

export function registerSmime(program: Command): void {
  const smime = program
    .command('smime')
    .description('sign, encrypt, decrypt and verify S/MIME mail (RFC 8551)');

  smime
    .command('sign')
    .description('sign a message: multipart/signed (default) or opaque; optional signature timestamp')
    .requiredOption('--in <file>', 'the message to sign (RFC 5322, .eml)')
    .requiredOption('--signer <file>', "the signer's PKCS#12 (or PEM with key and certificate)")
    .requiredOption('--out <file>', 'where to write the signed message')
    .option('--password <password>', 'PKCS#12 password (prefer --password-file or the prompt)')
    .option('--password-file <file>', 'read the PKCS#12 password from a file')
    .option('--tsa <url>', 'RFC 3161 timestamp authority: adds a signature timestamp (CAdES-T)')
    .option('--opaque', 'application/pkcs7-mime signed-data instead of multipart/signed')
    .option('--encryption-cert <file>', "the signer's encryption certificate, advertised to correspondents")
    .action(
      async (
        o: PasswordOptions & {
          in: string;
          signer: string;
          out: string;
          tsa?: string;
          opaque?: boolean;
          encryptionCert?: string;
        },
        cmd: Command,
      ) => {
        const signer = await loadCredential(o.signer, o);
        const encryptionCertificate = o.encryptionCert ? await loadCertificate(o.encryptionCert) : undefined;
        const format = o.opaque ? 'opaque' : 'multipart-signed';
        await signMessageFile(o.in, o.out, {
          signer,
          format,
          ...(o.tsa ? { timestamp: o.tsa } : {}),
          ...(encryptionCertificate ? { encryptionCertificate } : {}),
        });
        output(
          globals(cmd),
          { out: o.out, format, timestamped: Boolean(o.tsa) },
          () => `signed (${format}${o.tsa ? ', timestamped' : ''}) → ${o.out}`,
        );
      },
    );

  smime
    .command('encrypt')
    .description(
      'encrypt a message to recipient certificates (and to the sender, so the sent copy stays readable)',
    )
    .requiredOption('--in <file>', 'the message to encrypt')
    .requiredOption('--out <file>', 'where to write the encrypted message')
    .option('--to <file>', 'a recipient certificate (PEM or DER); repeat for several', collect, [])
    .option('--from-cert <file>', "the sender's own encryption certificate (added as a recipient)")
    .option('--no-self', 'do not add the sender as a recipient (the sent copy will not be readable)')
    .option(
      '--cipher <cipher>',
      `force a content cipher: ${CIPHERS.join(', ')} (default: strongest all can read)`,
    )
    .option('--protect-headers', 'RFC 9788 header protection: real headers inside, Subject "[...]" outside')
    .action(
      async (
        o: {
          in: string;
          out: string;
          to: string[];
          fromCert?: string;
          self: boolean;
          cipher?: string;
          protectHeaders?: boolean;
        },
        cmd: Command,
      ) => {
        if (o.self && !o.fromCert)
          throw new CliError(
            'give the sender certificate with --from-cert (or --no-self to leave the sender out)',
          );
        const cipher = cipherOption(o.cipher);
        let choice: AlgorithmChoice | undefined;
        await encryptMessageFile(o.in, o.out, {
          recipients: await recipientsOf(o.to),
          ...(o.fromCert ? { sender: { certificate: await loadCertificate(o.fromCert) } } : {}),
          includeSender: o.self,
          ...(cipher ? { cipher } : {}),
          ...(o.protectHeaders ? { protectHeaders: true } : {}),
          onChoice: (c) => (choice = c),
        });
        output(
          globals(cmd),
          { out: o.out, cipher: choice?.cipher, reasons: choice?.reasons },
          () => `encrypted (${choice?.cipher}) → ${o.out}\n${choiceLines(choice)}`,
        );
      },
    );

  smime
    .command('send-ready')
    .description('sign (with timestamp) then encrypt; --triple-wrap signs the encrypted message again')
    .requiredOption('--in <file>', 'the message')
    .requiredOption('--signer <file>', "the signer's PKCS#12 (or PEM with key and certificate)")
    .requiredOption('--out <file>', 'where to write the result')
    .option('--to <file>', 'a recipient certificate; repeat for several', collect, [])
    .option('--password <password>', 'PKCS#12 password')
    .option('--password-file <file>', 'read the PKCS#12 password from a file')
    .option('--tsa <url>', 'RFC 3161 timestamp authority for the signature timestamp')
    .option(
      '--encryption-cert <file>',
      "the sender's encryption certificate (advertised, and added as a recipient)",
    )
    .option('--no-self', 'do not add the sender as a recipient')
    .option('--cipher <cipher>', `force a content cipher: ${CIPHERS.join(', ')}`)
    .option('--triple-wrap', 'sign, encrypt, sign again (RFC 2634)')
    .option('--protect-headers', 'RFC 9788 header protection')
    .action(
      async (
        o: PasswordOptions & {
          in: string;
          signer: string;
          out: string;
          to: string[];
          tsa?: string;
          encryptionCert?: string;
          self: boolean;
          cipher?: string;
          tripleWrap?: boolean;
          protectHeaders?: boolean;
        },
        cmd: Command,
      ) => {
        const signer = await loadCredential(o.signer, o);
        const encryptionCertificate = o.encryptionCert ? await loadCertificate(o.encryptionCert) : undefined;
        const cipher = cipherOption(o.cipher);
        let choice: AlgorithmChoice | undefined;
        await sendReadyFile(o.in, o.out, {
          signer,
          recipients: await recipientsOf(o.to),
          includeSender: o.self,
          ...(encryptionCertificate ? { encryptionCertificate } : {}),
          ...(o.tsa ? { timestamp: o.tsa } : {}),
          ...(cipher ? { cipher } : {}),
          ...(o.tripleWrap ? { tripleWrap: true } : {}),
          ...(o.protectHeaders ? { protectHeaders: true } : {}),
          onChoice: (c) => (choice = c),
        });
        output(
          globals(cmd),
          {
            out: o.out,
            cipher: choice?.cipher,
            timestamped: Boolean(o.tsa),
            tripleWrap: Boolean(o.tripleWrap),
          },
          () =>
            `signed${o.tsa ? ' (timestamped)' : ''} and encrypted (${choice?.cipher})${o.tripleWrap ? ', signed again' : ''} → ${o.out}\n${choiceLines(choice)}`,
        );
      },
    );

  smime
    .command('decrypt')
    .description(
      "decrypt a message with the recipient's key(s); several --key files = current and historical keys",
    )
    .requiredOption('--in <file>', 'the encrypted message')
    .requiredOption('--out <file>', 'where to write the decrypted message')
    .option('--key <file>', 'PKCS#12 (or PEM key + certificate); repeat for historical keys', collect, [])
    .option('--password <password>', 'PKCS#12 password (the same for every --key)')
    .option('--password-file <file>', 'read the PKCS#12 password from a file')
    .action(async (o: PasswordOptions & { in: string; out: string; key: string[] }, cmd: Command) => {
      if (o.key.length === 0) throw new CliError('give the recipient key with --key');
      const keys = [];
      for (const file of o.key) keys.push(await loadCredential(file, o));
      // Small messages in memory; large ones streamed file to file (bounded memory, output only once checked).
      const d =
        (await stat(o.in)).size > IN_MEMORY_LIMIT
          ? await decryptMessageFile(o.in, o.out, keys)
          : await decryptMessage(await readFile(o.in), keys).then(async (m) => {
              await writeFile(o.out, m.message);
              return m;
            });
      output(
        globals(cmd),
        {
          out: o.out,
          cipher: d.cipher,
          authenticated: d.authenticated,
          keyTransport: d.recipient.keyTransport,
          protectedHeaders: d.headers.hp ?? null,
        },
        () =>
          `decrypted (${d.cipher}, ${d.recipient.keyTransport}${d.headers.hp ? ', protected headers restored' : ''}) → ${o.out}`,
      );
    });

  smime
    .command('verify')
    .description('verify a signed (or signed-then-encrypted) message; exit status 0 only when valid')
    .requiredOption('--in <file>', 'the signed message')
    .option('--trust <file>', 'trusted root certificate(s), PEM or DER; repeatable', collect, [])
    .option('--revocation <mode>', `${REVOCATION_MODES.join(' | ')} (default if-available)`)
    .option('--key <file>', 'decryption key for a signed-then-encrypted message; repeatable', collect, [])
    .option('--password <password>', 'PKCS#12 password for --key')
    .option('--password-file <file>', 'read the PKCS#12 password from a file')
    .option('--out <file>', 'write the verified content (signature removed) here')
    .action(
      async (
        o: PasswordOptions & {
          in: string;
          trust: string[];
          revocation?: string;
          key: string[];
          out?: string;
        },
        cmd: Command,
      ) => {
        if (o.trust.length === 0) throw new CliError('give the trusted root certificate(s) with --trust');
        const revocation = revocationOption(o.revocation);
        const keys = [];
        for (const file of o.key) keys.push(await loadCredential(file, o));
        const verifyOptions = {
          trustAnchors: await loadCertificates(o.trust),
          ...(revocation ? { revocation } : {}),
          keys,
        };
        const opened =
          (await stat(o.in)).size > IN_MEMORY_LIMIT
            ? await openMessageFile(o.in, { ...verifyOptions, ...(o.out ? { outPath: o.out } : {}) })
            : await openMessage(await readFile(o.in), verifyOptions).then(async (m) => {
                if (o.out) await writeFile(o.out, m.message);
                return m;
              });
        const v = opened.verification;
        const layers = opened.layers.map((l) =>
          l.type === 'encrypted' ? `encrypted (${l.cipher})` : `signed (${l.verification.verdict})`,
        );
        output(
          globals(cmd),
          {
            verdict: v.verdict,
            ok: v.ok,
            summary: v.summary,
            signer: v.signer
              ? {
                  subject: v.signer.subject,
                  addresses: v.signer.addresses,
                  signingTime: v.signer.signingTime,
                  timestampTime: v.signer.timestampTime,
                }
              : null,
            from: v.from ?? null,
            layers,
            checks: v.checks,
          },
          () => `${describeVerification(v)}${layers.length > 1 ? `\nlayers: ${layers.join(' → ')}` : ''}`,
        );
        // The result is printed; an empty message tells main() not to print an error line on top.
        if (!v.ok) throw new CliError('', 1);
      },
    );
}
