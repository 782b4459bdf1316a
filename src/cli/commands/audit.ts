import type { Command } from 'commander';
import { CliError, globals, output, withSealpost } from '../common.js';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('read and verify the tamper-evident audit log');

  audit
    .command('verify')
    .description('check the hash chain: exit 0 only when no record was edited, removed or reordered')
    .option(
      '--expected-head <seq:hash>',
      'a head recorded earlier (from `audit head`): also detects a truncated tail',
    )
    .action(async (o: { expectedHead?: string }, cmd: Command) => {
      const g = globals(cmd);
      let expectedHead: { seq: bigint; hash: string } | undefined;
      if (o.expectedHead) {
        const m = /^(\d+):([0-9a-f]{64})$/.exec(o.expectedHead);
        if (!m) throw new CliError('--expected-head must look like 1234:<64 hex digits>');
        expectedHead = { seq: BigInt(m[1] ?? '0'), hash: m[2] ?? '' };
      }
      await withSealpost(g, async (ctx) => {
        const progress =
          process.stderr.isTTY && !g.json
            ? (n: number) => process.stderr.write(`\rverified ${n} records…`)
            : undefined;
        const result = await ctx.audit.verify({
          ...(progress ? { onProgress: progress } : {}),
          ...(expectedHead ? { expectedHead } : {}),
        });
        if (progress) process.stderr.write('\n');
        output(g, result, () =>
          result.ok
            ? `Audit log intact: ${result.count} records, head ${result.headSeq ?? '0'}:${result.head ?? '(empty)'}`
            : [
                `Audit log TAMPERED: ${result.problems.length} problem(s) in ${result.count} records`,
                ...result.problems.map((p) => `  seq ${p.seq}: ${p.kind} — ${p.message}`),
              ].join('\n'),
        );
        if (!result.ok)
          throw new CliError(
            `audit log verification failed: ${result.problems[0]?.kind ?? 'problem'} at seq ${result.problems[0]?.seq ?? '?'}`,
            1,
          );
      });
    });

  audit
    .command('head')
    .description('print the current head (seq:hash) to record elsewhere as an anchor')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      await withSealpost(g, async (ctx) => {
        const head = await ctx.audit.headAnchor();
        output(g, head ? { seq: head.seq.toString(), hash: head.hash } : null, () =>
          head ? `${head.seq}:${head.hash}` : '(empty log)',
        );
      });
    });

  audit
    .command('list')
    .description('print audit records in order')
    .option('--after <seq>', 'only records after this sequence number')
    .option('--action <action>', 'only this action, e.g. certificate.issue')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o: { after?: string; action?: string; limit: string }, cmd: Command) => {
      const g = globals(cmd);
      if (o.after && !/^\d+$/.test(o.after)) throw new CliError('--after must be a sequence number');
      await withSealpost(g, async (ctx) => {
        const records = await ctx.audit.list({
          ...(o.after ? { afterSeq: BigInt(o.after) } : {}),
          ...(o.action ? { action: o.action } : {}),
          limit: Number(o.limit) || 100,
        });
        output(
          g,
          { records },
          () =>
            records
              .map(
                (r) =>
                  `${r.seq.toString().padStart(6)} ${r.at} ${r.actor.padEnd(20)} ${r.action.padEnd(20)} ${r.target ?? ''}`,
              )
              .join('\n') || 'No records.',
        );
      });
    });
}
