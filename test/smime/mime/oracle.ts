// Helpers for the MIME tests that talk to the OpenSSL CLI in a fresh temp dir.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ExecResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export function exec(cmd: string, args: string[], cwd: string): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr: stderr.toString() });
    });
  });
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-mime-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A throwaway self-signed RSA signer (cert c.pem, key k.pem) in `dir`. */
export async function makeSigner(dir: string): Promise<void> {
  const result = await exec(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'k.pem',
      '-out',
      'c.pem',
      '-days',
      '2',
      '-subj',
      '/CN=alice/emailAddress=alice@example.com',
    ],
    dir,
  );
  if (result.code !== 0) throw new Error(`openssl req failed: ${result.stderr}`);
}
