/** Run test/store/fixtures/store-worker.ts in a separate Node process (see that file for commands). */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const WORKER = fileURLToPath(new URL('../store/fixtures/store-worker.ts', import.meta.url));
const run = promisify(execFile);

/** Run a worker command to completion and return its stdout. */
export async function runStoreWorker(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', WORKER, ...args], { timeout: 60_000 });
  return stdout;
}

/** Start a long-running worker; resolves with the process and its first line of output. */
export function startStoreWorker(args: string[]): Promise<{ child: ChildProcess; firstLine: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ child, firstLine: out.slice(0, nl) });
    });
    child.on('exit', (code) => reject(new Error(`worker exited with ${code}: ${err}`)));
    child.on('error', reject);
  });
}
