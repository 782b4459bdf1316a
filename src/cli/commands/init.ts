import type { Command } from 'commander';
import { initialise } from '../../app/init.js';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../../crypto/key-handle.js';
import { CliError, globals, output, readPassword, withSealpost } from '../common.js';
import { readFile } from 'node:fs/promises';
import type { ImportedCa } from '../../app/init.js';
import { SoftwareKey } from '../../crypto/software-key.js';
import { parsePkcs12 } from '../../pkix/pkcs12.js';
import { parseCertificate } from '../../pkix/certificate.js';
import { pemOrDer } from '../../pkix/pem.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description(
      'create the CA hierarchy, OCSP/TSA/seal certificates, master key and first admin API key (idempotent)',
    )
    .option('--org <name>', 'organisation name written into the CA certificates')
    .option('--country <CC>', 'two-letter country code for the CA subjects')
    .option('--key-backend <backend>', 'where CA, OCSP and TSA keys live: software | pkcs11')
    .option('--ca-key-algorithm <alg>', `CA key algorithm: ${KEY_ALGORITHMS.join(', ')}`)
    .option(
      '--import-ca <file.p12>',
      'take over an existing issuing CA: PKCS#12 with its certificate and private key',
    )
    .option(
      '--import-root <root.pem>',
      'the root certificate above the imported CA (default: the self-signed certificate in the PKCS#12)',
    )
    .option('--password <password>', 'password of the --import-ca PKCS#12')
    .option('--password-file <file>', 'read the --import-ca password from a file')
    .action(
      async (
        o: {
          org?: string;
          country?: string;
          keyBackend?: string;
          caKeyAlgorithm?: string;
          importCa?: string;
          importRoot?: string;
          password?: string;
          passwordFile?: string;
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        if (o.keyBackend && o.keyBackend !== 'software' && o.keyBackend !== 'pkcs11')
          throw new CliError('--key-backend must be software or pkcs11');
        if (o.caKeyAlgorithm && !(KEY_ALGORITHMS as readonly string[]).includes(o.caKeyAlgorithm))
          throw new CliError(`--ca-key-algorithm must be one of ${KEY_ALGORITHMS.join(', ')}`);
        if (o.country && !/^[A-Z]{2}$/.test(o.country))
          throw new CliError('--country must be a two-letter ISO 3166 code such as DE');
        const importCa = o.importCa ? await readImportedCa(o) : undefined;
        await withSealpost(
          g,
          async (ctx) => {
            const result = await initialise(ctx, {
              ...(o.org ? { orgName: o.org } : {}),
              ...(o.country ? { country: o.country } : {}),
              ...(importCa ? { importCa } : {}),
              actor: 'cli:init',
            });
            output(g, { ...result, dataDir: ctx.config.dataDir, database: ctx.store.url }, () =>
              result.created
                ? [
                    `Initialised "${result.orgName}" in ${ctx.config.dataDir}`,
                    `  database:      ${ctx.store.url}`,
                    `  admin API key: ${result.adminKeyFile} (keep it secret; create more with \`sealpost apikey create\`)`,
                    `  next:          sealpost serve   or   sealpost ca issue --email alice@example.com --out ./alice`,
                  ].join('\n')
                : `Already initialised ("${result.orgName}" in ${ctx.config.dataDir}); nothing changed`,
            );
          },
          {
            createMasterKey: true,
            overrides: {
              ...(o.keyBackend ? { caKeyBackend: o.keyBackend as 'software' | 'pkcs11' } : {}),
              ...(o.caKeyAlgorithm ? { ca: { keyAlgorithm: o.caKeyAlgorithm as KeyAlgorithm } } : {}),
            },
          },
        );
      },
    );
}

/** The issuing CA's certificate and key from a PKCS#12, and its root from --import-root or the PKCS#12's chain. */
async function readImportedCa(o: {
  importCa?: string;
  importRoot?: string;
  password?: string;
  passwordFile?: string;
}): Promise<ImportedCa> {
  const password = await readPassword({
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.passwordFile ? { passwordFile: o.passwordFile } : {}),
    prompt: 'PKCS#12 password of the CA to import: ',
  });
  const p12 = parsePkcs12(await readFile(o.importCa ?? ''), password);
  let rootCertificate: Buffer | undefined;
  if (o.importRoot) rootCertificate = pemOrDer(await readFile(o.importRoot, 'utf8'), 'CERTIFICATE');
  else {
    rootCertificate = p12.chain.find((der) => {
      const c = parseCertificate(der);
      return c.isCa && c.subjectDer.equals(c.issuerDer);
    });
  }
  if (!rootCertificate)
    throw new CliError('the PKCS#12 has no root certificate: give it with --import-root root.pem');
  return {
    issuingCertificate: p12.certificate,
    issuingKey: SoftwareKey.fromPkcs8(p12.privateKey),
    rootCertificate,
  };
}
