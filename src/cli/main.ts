import { Command, CommanderError } from 'commander';
import { registerInit } from './commands/init.js';
import { registerServe } from './commands/serve.js';
import { registerCa } from './commands/ca.js';
import { registerAudit } from './commands/audit.js';
import { registerApiKey } from './commands/apikey.js';
import { registerSmime } from './commands/smime.js';
import { registerPdf } from './commands/pdf.js';
import { CliError } from './common.js';

export function buildProgram(): Command {
  const program = new Command('sealpost')
    .description("Sealpost: the bank's own CA, OCSP, TSA and signing services")
    .version('0.1.0')
    .option('--data <dir>', 'data directory (env SEALPOST_DATA; default ./data)')
    .option('--config <file>', 'JSON configuration file (default <data>/sealpost.json if present)')
    .option('--json', 'machine-readable output')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerInit(program);
  registerServe(program);
  registerCa(program);
  registerAudit(program);
  registerApiKey(program);
  registerPdf(program);
  registerSmime(program);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  return program;
}

/** Run the CLI; resolves to the process exit status (0 only on success). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exitCode 0; usage errors were already printed by commander.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof CliError && err.message === '') return err.exitCode; // already reported (e.g. a verdict)
    const message = err instanceof Error ? err.message : String(err);
    const json = argv.includes('--json');
    if (json) process.stdout.write(JSON.stringify({ error: message }) + '\n');
    process.stderr.write(`sealpost: ${message.split('\n')[0]}\n`);
    if (process.env.SEALPOST_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}
