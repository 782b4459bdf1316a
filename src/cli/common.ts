import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { loadConfig, type ConfigOverrides, type SealpostConfig } from '../config/config.js';
import { createLogger } from '../util/logger.js';
import { openSealpost, type Sealpost } from '../app/context.js';

/** Options every command accepts. */
export interface GlobalOptions {
  data?: string;
  config?: string;
  json?: boolean;
}

/** A failure the user can act on: printed as one line, exit status 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

export function configFor(opts: GlobalOptions, overrides: ConfigOverrides = {}): SealpostConfig {
  return loadConfig({
    ...(opts.data ? { dataDir: opts.data } : {}),
    ...(opts.config ? { configFile: opts.config } : {}),
    env: process.env,
    overrides,
  });
}

/** Open the installation for a one-shot command; logs go to stderr so stdout stays parseable. */
export async function withSealpost<T>(
  opts: GlobalOptions,
  fn: (ctx: Sealpost) => Promise<T>,
  o: { createMasterKey?: boolean; overrides?: ConfigOverrides } = {},
): Promise<T> {
  const config = configFor(opts, o.overrides);
  const log = createLogger(process.env.SEALPOST_LOG_LEVEL ?? 'warn', { destination: 2 });
  const ctx = await openSealpost(config, log, { createMasterKey: o.createMasterKey ?? false });
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

/** Print a result: JSON for scripts with --json, readable lines otherwise. */
export function output(opts: GlobalOptions, value: unknown, human: () => string): void {
  if (opts.json) process.stdout.write(JSON.stringify(value, jsonReplacer, 2) + '\n');
  else process.stdout.write(human().replace(/\n?$/, '\n'));
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  return value;
}

/** A secret from --password, --password-file or an interactive prompt (never from a plain argument in scripts you share). */
export async function readPassword(p: {
  password?: string;
  passwordFile?: string;
  prompt: string;
  confirm?: boolean;
}): Promise<string> {
  if (p.password !== undefined) return p.password;
  if (p.passwordFile) return (await readFile(p.passwordFile, 'utf8')).replace(/\r?\n$/, '');
  if (!process.stdin.isTTY)
    throw new CliError(
      'no password given: use --password, --password-file, or run in a terminal to be prompted',
    );
  const first = await promptHidden(p.prompt);
  if (p.confirm && (await promptHidden('Repeat: ')) !== first)
    throw new CliError('the passwords do not match');
  return first;
}

function promptHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const write = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput;
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
      if (s.includes(question)) write.call(rl, s);
    };
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}

export function parseList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
