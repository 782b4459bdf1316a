import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes (DER, PDF, …), not decoded as text. */
  out: Buffer;
}

/** Run a program to completion; never throws for a non-zero exit (tests assert on `code`). */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const bytes = Buffer.concat(out);
      resolve({
        code: code ?? -1,
        stdout: bytes.toString(),
        stderr: Buffer.concat(err).toString(),
        out: bytes,
      });
    });
    // A program that exits without reading its input must not crash the test with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

const CLI_ENTRY = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));

/** The `sealpost` command, from source. */
export function sealpost(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<RunResult> {
  return run(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], {
    ...opts,
    env: { ...process.env, SEALPOST_LOG_LEVEL: 'warn', ...opts.env },
  });
}

export function sealpostCommand(): { cmd: string; args: string[] } {
  return { cmd: process.execPath, args: ['--import', 'tsx', CLI_ENTRY] };
}

/**
 * Is an oracle program installed? Under CI a missing oracle is a failure (INTEROP.md); locally the
 * caller skips with the printed reason.
 */
export function haveOracle(program: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
  if (!found && process.env.CI === 'true')
    throw new Error(`oracle "${program}" is not installed (see .ci/run)`);
  if (!found) console.warn(`skipping: oracle "${program}" is not installed`);
  return found;
}
