/**
 * "Thunderbird's NSS" oracle (INTEROP.md): the NSS libraries shipped inside Debian's thunderbird package, loaded by
 * the system `cmsutil`/`certutil`/`pk12util` through LD_LIBRARY_PATH. It tells us what Thunderbird itself can read
 * (OAEP and ECDH, which the system NSS 3.87 cannot). test/tools/thunderbird-nss.sh fetches and caches the libraries;
 * this module provisions them once per test process and proves the tools really run on them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveOracle, run, type RunResult } from './run.js';

export interface NssRunOptions {
  cwd?: string;
  input?: string | Buffer;
}

export interface ThunderbirdNss {
  /** Directory holding Thunderbird's libnss3.so, libsoftokn3.so, libfreeblpriv3.so, … */
  libDir: string;
  /** The NSS version of the libnss3.so the tools load, e.g. "3.125.1". */
  version: string;
  /** process.env plus LD_LIBRARY_PATH=libDir: run any NSS tool with it. */
  env: NodeJS.ProcessEnv;
  cmsutil(args: string[], opts?: NssRunOptions): Promise<RunResult>;
  certutil(args: string[], opts?: NssRunOptions): Promise<RunResult>;
  pk12util(args: string[], opts?: NssRunOptions): Promise<RunResult>;
}

const FETCH_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'tools', 'thunderbird-nss.sh');
/** The NSS libraries that must come from Thunderbird: the API, the softoken and its crypto (both dlopened). */
const MUST_LOAD = ['libnss3.so', 'libsoftokn3.so', 'libfreeblpriv3.so'];

let memo: { nss?: ThunderbirdNss; reason?: string } | undefined;

/**
 * Thunderbird's NSS, ready to run; undefined (with a printed reason) when it cannot be provisioned locally.
 * Under CI=true a failure to provision throws: the interop rows it proves must not silently disappear.
 */
export function thunderbirdNss(): ThunderbirdNss | undefined {
  memo ??= provision();
  if (memo.reason && process.env.CI === 'true')
    throw new Error(`Thunderbird's NSS is required under CI: ${memo.reason}`);
  if (memo.reason) console.warn(`skipping Thunderbird NSS tests: ${memo.reason}`);
  return memo.nss;
}

function provision(): { nss?: ThunderbirdNss; reason?: string } {
  for (const tool of ['cmsutil', 'certutil', 'pk12util', 'apt-get', 'dpkg-deb']) {
    if (!haveOracle(tool)) return { reason: `${tool} is not installed` };
  }
  // Fast (a file check) once cached; the first run downloads the ~80 MB .deb.
  const fetched = spawnSync('bash', [FETCH_SCRIPT], { encoding: 'utf8', timeout: 600_000 });
  if (fetched.status !== 0)
    return { reason: `${FETCH_SCRIPT} failed (${fetched.status}): ${fetched.stderr.trim()}` };
  const libDir = fetched.stdout.trim().split('\n').at(-1) ?? '';
  const env = { ...process.env, LD_LIBRARY_PATH: libDir };
  const loaded = loadedNssLibraries(env);
  if (typeof loaded === 'string') return { reason: loaded };
  const wrong = MUST_LOAD.filter((lib) => loaded.get(lib) !== join(libDir, lib));
  if (wrong.length > 0) {
    const seen = wrong.map((lib) => `${lib} from ${loaded.get(lib) ?? 'nowhere'}`).join(', ');
    return { reason: `the NSS tools did not load Thunderbird's libraries from ${libDir}: ${seen}` };
  }
  const version = /Version: NSS (\d+\.\d+(?:\.\d+)?)/.exec(
    readFileSync(join(libDir, 'libnss3.so')).toString('latin1'),
  )?.[1];
  if (!version) return { reason: `no NSS version string in ${join(libDir, 'libnss3.so')}` };
  console.log(`Thunderbird NSS: cmsutil loads ${join(libDir, 'libnss3.so')} (NSS ${version})`);
  const tool =
    (cmd: string) =>
    (args: string[], opts: NssRunOptions = {}): Promise<RunResult> =>
      run(cmd, args, { ...opts, env });
  return {
    nss: {
      libDir,
      version,
      env,
      cmsutil: tool('cmsutil'),
      certutil: tool('certutil'),
      pk12util: tool('pk12util'),
    },
  };
}

/**
 * Which file each shared library came from when `cmsutil` decodes a message against a database (the softoken and
 * freebl are dlopened only then): reads the loader's LD_DEBUG=libs trace. The empty input makes cmsutil fail
 * after NSS is initialised, which is all the probe needs.
 */
function loadedNssLibraries(env: NodeJS.ProcessEnv): Map<string, string> | string {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-tbnss-probe-'));
  try {
    const db = `sql:${dir}`;
    const init = spawnSync('certutil', ['-N', '-d', db, '--empty-password'], { env, encoding: 'utf8' });
    if (init.status !== 0) return `certutil -N with Thunderbird's NSS failed: ${init.stderr.trim()}`;
    const probe = spawnSync('cmsutil', ['-D', '-i', '/dev/null', '-d', db], {
      env: { ...env, LD_DEBUG: 'libs' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    const loaded = new Map<string, string>();
    for (const m of probe.stderr.matchAll(/calling init: (\S+)/g)) {
      const path = m[1] as string;
      loaded.set(path.slice(path.lastIndexOf('/') + 1), path);
    }
    return loaded;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
