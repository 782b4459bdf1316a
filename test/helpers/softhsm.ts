/**
 * SoftHSM2 tokens for tests.
 *
 * SoftHSM2 reads SOFTHSM2_CONF once, at C_Initialize, and from then on only sees the tokens that existed
 * at that moment. So the design is one configuration per test process (vitest runs each test file in
 * its own forked process): the first call creates a temp directory with a softhsm2.conf and points
 * SOFTHSM2_CONF at it; every call initialises a fresh token with a unique label in that directory.
 * Create the tokens a file needs (beforeAll) before opening any of them: Pkcs11Token finalises the
 * module when its last user closes, and only then does a re-open see tokens created later.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Pkcs11Config } from '../../src/crypto/pkcs11.js';

const execFileAsync = promisify(execFile);

export const SOFTHSM_USER_PIN = '1234';
export const SOFTHSM_SO_PIN = '5678';

const MODULE_CANDIDATES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
];

export function softHsmModulePath(): string | undefined {
  return MODULE_CANDIDATES.find((path) => existsSync(path));
}

/**
 * Why SoftHSM2 tests cannot run here, or undefined when they can. Under CI=true a missing SoftHSM2 is
 * a failure, so this throws instead of returning a reason.
 */
export function softHsmSkipReason(): string | undefined {
  const reason = !softHsmModulePath()
    ? `libsofthsm2.so not found in ${MODULE_CANDIDATES.join(' or ')} (apt-get install softhsm2)`
    : !['/usr/bin/softhsm2-util', '/usr/local/bin/softhsm2-util'].some((p) => existsSync(p))
      ? 'softhsm2-util not found (apt-get install softhsm2)'
      : undefined;
  if (reason && process.env.CI === 'true') throw new Error(`SoftHSM2 is required under CI: ${reason}`);
  if (reason) console.warn(`skipping SoftHSM2 tests: ${reason}`);
  return reason;
}

export interface SoftHsmToken {
  config: Pkcs11Config;
  /** The per-process SoftHSM2 directory (softhsm2.conf and tokens/). */
  dir: string;
  cleanup(): Promise<void>;
}

let processDir: Promise<string> | undefined;
let liveTokens = 0;
let tokenCounter = 0;

async function processConfigDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-softhsm-'));
  const conf = join(dir, 'softhsm2.conf');
  await mkdir(join(dir, 'tokens'), { mode: 0o700 });
  await writeFile(
    conf,
    [
      `directories.tokendir = ${join(dir, 'tokens')}`,
      'objectstore.backend = file',
      'log.level = ERROR',
      '',
    ].join('\n'),
  );
  process.env.SOFTHSM2_CONF = conf;
  return dir;
}

export async function createSoftHsmToken(label?: string): Promise<SoftHsmToken> {
  const module = softHsmModulePath();
  if (!module) throw new Error('SoftHSM2 is not installed (apt-get install softhsm2)');
  processDir ??= processConfigDir();
  const dir = await processDir;
  const tokenLabel = label ?? `sealpost-test-${process.pid}-${++tokenCounter}`;
  await execFileAsync('softhsm2-util', [
    '--init-token',
    '--free',
    '--label',
    tokenLabel,
    '--pin',
    SOFTHSM_USER_PIN,
    '--so-pin',
    SOFTHSM_SO_PIN,
  ]);
  liveTokens++;
  let cleaned = false;
  return {
    config: { module, tokenLabel, pin: SOFTHSM_USER_PIN },
    dir,
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      await execFileAsync('softhsm2-util', ['--delete-token', '--token', tokenLabel]).catch(() => undefined);
      if (--liveTokens === 0) {
        processDir = undefined;
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
