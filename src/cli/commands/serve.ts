import type { Command } from 'commander';
import { join } from 'node:path';
import { initialise, ADMIN_KEY_FILE } from '../../app/init.js';
import { openSealpost } from '../../app/context.js';
import { startServer } from '../../app/runtime.js';
import { freePort } from '../../app/free-port.js';
import type { Role } from '../../config/config.js';
import { createLogger } from '../../util/logger.js';
import { CliError, configFor, globals, parseList } from '../common.js';

const ROLES: Role[] = ['ca', 'ocsp', 'tsa', 'api'];

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the CA, OCSP, TSA and REST API over HTTP (initialises ./data on first run)')
    .option('--role <roles>', `comma-separated subset of ${ROLES.join(',')}`)
    .option('--host <host>', 'address to listen on')
    .option('--port <port>', 'TCP port (0 picks a free one)')
    .option('--public-url <url>', 'base URL written into certificates (AIA, CRL distribution points)')
    .action(async (o: { role?: string; host?: string; port?: string; publicUrl?: string }, cmd: Command) => {
      const g = globals(cmd);
      const roles = o.role ? parseList(o.role) : undefined;
      for (const r of roles ?? [])
        if (!ROLES.includes(r as Role)) throw new CliError(`unknown role "${r}"; use ${ROLES.join(', ')}`);
      const port = o.port === undefined ? undefined : Number(o.port);
      if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
        throw new CliError('--port must be 0…65535');
      const overrides = {
        ...(roles ? { roles: roles as Role[] } : {}),
        ...(o.host ? { host: o.host } : {}),
        ...(port !== undefined ? { port } : {}),
        ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
      };
      let config = configFor(g, overrides);
      // "Any port" is resolved now, so first-run certificates name the port actually served.
      if (config.port === 0) config = configFor(g, { ...overrides, port: await freePort(config.host) });
      const log = createLogger(config.logLevel);
      const ctx = await openSealpost(config, log, { createMasterKey: true });
      const init = await initialise(ctx, { actor: 'system:first-run' });
      const server = await startServer(ctx, { roles: config.roles, host: config.host, port: config.port });
      const base = server.url;
      const lines = [
        `Sealpost serving "${init.orgName}" on ${base} (roles: ${config.roles.join(', ')})`,
        `  API docs:  ${base}/docs        metrics: ${base}/metrics`,
        `  OCSP:      ${base}/ocsp         TSA:     ${base}/tsa`,
        `  CA:        ${base}/ca/issuing.crt  CRL: ${base}/crl/issuing.crl`,
        `  admin API key: ${init.adminKeyFile ?? join(config.dataDir, ADMIN_KEY_FILE) + ' (written at first run)'}`,
      ];
      if (g.json)
        process.stdout.write(
          JSON.stringify({
            url: base,
            roles: config.roles,
            dataDir: config.dataDir,
            adminKeyFile: join(config.dataDir, ADMIN_KEY_FILE),
          }) + '\n',
        );
      else process.stdout.write(lines.join('\n') + '\n');
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      log.info('shutting down');
      await server.close();
      await ctx.close();
    });
}
