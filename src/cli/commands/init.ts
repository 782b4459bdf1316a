import type { Command } from 'commander';
import { initialise } from '../../app/init.js';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../../crypto/key-handle.js';
import { CliError, globals, output, withSealpost } from '../common.js';

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
    .action(
      async (
        o: { org?: string; country?: string; keyBackend?: string; caKeyAlgorithm?: string },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        if (o.keyBackend && o.keyBackend !== 'software' && o.keyBackend !== 'pkcs11')
          throw new CliError('--key-backend must be software or pkcs11');
        if (o.caKeyAlgorithm && !(KEY_ALGORITHMS as readonly string[]).includes(o.caKeyAlgorithm))
          throw new CliError(`--ca-key-algorithm must be one of ${KEY_ALGORITHMS.join(', ')}`);
        if (o.country && !/^[A-Z]{2}$/.test(o.country))
          throw new CliError('--country must be a two-letter ISO 3166 code such as DE');
        await withSealpost(
          g,
          async (ctx) => {
            const result = await initialise(ctx, {
              ...(o.org ? { orgName: o.org } : {}),
              ...(o.country ? { country: o.country } : {}),
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
