import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { SCOPES } from '../../api/api-keys.js';
import { globals, output, parseList, withSealpost } from '../common.js';

export function registerApiKey(program: Command): void {
  const apikey = program.command('apikey').description('manage API keys for the REST API');

  apikey
    .command('create')
    .description('create an API key; the secret is shown once')
    .requiredOption('--name <name>', 'who or what uses it')
    .option('--scopes <list>', `comma-separated: ${SCOPES.join(', ')}`, 'ca:read')
    .option('--out <file>', 'write the key to this file (mode 0600) instead of printing it')
    .action(async (o: { name: string; scopes: string; out?: string }, cmd: Command) => {
      const g = globals(cmd);
      await withSealpost(g, async (ctx) => {
        const { token, info } = await ctx.apiKeys.create({
          name: o.name,
          scopes: parseList(o.scopes),
          actor: 'cli',
        });
        if (o.out) await writeFile(o.out, token + '\n', { mode: 0o600, flag: 'wx' });
        output(g, { ...info, ...(o.out ? { file: o.out } : { token }) }, () =>
          o.out
            ? `Created API key ${info.id} (${info.scopes.join(' ')}), written to ${o.out}`
            : `Created API key ${info.id} (${info.scopes.join(' ')}):\n${token}\nStore it now: it cannot be shown again.`,
        );
      });
    });

  apikey
    .command('list')
    .description('list API keys (never their secrets)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      await withSealpost(g, async (ctx) => {
        const keys = await ctx.apiKeys.list();
        output(
          g,
          { keys },
          () =>
            keys
              .map(
                (k) =>
                  `${k.id}  ${(k.revokedAt ? 'revoked' : 'active').padEnd(8)} ${k.scopes.join(',').padEnd(24)} ${k.name}`,
              )
              .join('\n') || 'No API keys.',
        );
      });
    });

  apikey
    .command('revoke')
    .description('revoke an API key')
    .requiredOption('--id <id>', 'the key id (the part after sp_ and before the dot)')
    .action(async (o: { id: string }, cmd: Command) => {
      const g = globals(cmd);
      await withSealpost(g, async (ctx) => {
        await ctx.apiKeys.revoke({ id: o.id, actor: 'cli' });
        output(g, { id: o.id, revoked: true }, () => `Revoked API key ${o.id}`);
      });
    });
}
