import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { SoftwareKey } from '../src/crypto/software-key.js';
import { buildCsr } from '../src/pkix/csr.js';
import { toPem } from '../src/pkix/pem.js';
import { buildOcspRequest, parseOcspResponse } from '../src/pkix/ocsp.js';
import { buildTimeStampRequest, parseTimeStampResponse, verifyTimeStampToken } from '../src/pkix/tsp.js';
import { figure, report, type Figure } from './harness.js';

/**
 * PKI protocol throughput over HTTP (issue 2): TSA responses per second with the default ECDSA P-256 TSA key
 * (target ≥ 0.5 of a trivial Fastify endpoint) and pre-signed OCSP responses per second, POST and RFC 5019 GET
 * (target ≥ 0.7), with p50/p99 latency. The load generator (autocannon, in this process) and each server (a
 * child process, started one at a time with the same node flags) get one core each on a 2-core machine.
 *
 * Env: BENCH_SECONDS (default 5) per figure, BENCH_WARMUP_SECONDS (default 2) per endpoint before it,
 * BENCH_CONNECTIONS (default 16), BENCH_ROUNDS (default 3), BENCH_CPU_PROF=<dir> to write a V8 CPU profile of the Sealpost server.
 */
export async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const warmup = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
  const load = (o: LoadOptions) => measure({ ...o, seconds, warmup, connections });
  const cwd = process.cwd();
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-bench-http-'));
  const profDir = process.env.BENCH_CPU_PROF;
  const tsaReq = tsaRequest();
  let ocspPost: Buffer | undefined;
  const best = new Map<string, Load>();
  const keep = (key: string, l: Load) => {
    const prev = best.get(key);
    const errors = l.errors + (prev?.errors ?? 0);
    best.set(key, { ...(prev && prev.perSecond >= l.perSecond ? prev : l), errors });
  };
  try {
    // Other work on the machine only ever slows a run down: alternate baseline and Sealpost, keep the best of each.
    for (let round = 0; round < rounds; round++) {
      // --- baseline: the trivial Fastify endpoint, alone on its core
      const trivial = await startChild(cwd, ['bench/trivial-server.ts']);
      try {
        const url = `${trivial.url}/trivial`;
        const body = tsaReq; // a request body of the same size as the TSA's
        keep(
          'trivialPost',
          await load({ url, method: 'POST', contentType: 'application/octet-stream', body }),
        );
        keep('trivialGet', await load({ url, method: 'GET' }));
      } finally {
        await trivial.stop();
      }

      // --- Sealpost: `sealpost serve` from source; the first round initialises the data dir
      const data = join(dir, 'data');
      const serve = [
        'test/helpers/cli-entry.ts',
        '--data',
        data,
        '--json',
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
      ];
      const sealpost = await startChild(
        cwd,
        serve,
        profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
      );
      try {
        const base = sealpost.url;
        ocspPost ??= await ocspRequestFor(base, await readFile(join(data, 'admin-api-key'), 'utf8'));
        const ocspGetUrl = `${base}/ocsp/${encodeURIComponent(ocspPost.toString('base64'))}`;
        // The first sample also fills the pre-signed cache that the measured requests hit.
        await checkOcsp(await post(`${base}/ocsp`, 'application/ocsp-request', ocspPost));
        await checkOcsp(await fetch(ocspGetUrl));
        await checkTsa(await post(`${base}/tsa`, 'application/timestamp-query', tsaReq));
        keep(
          'tsa',
          await load({
            url: `${base}/tsa`,
            method: 'POST',
            contentType: 'application/timestamp-query',
            body: tsaReq,
          }),
        );
        keep(
          'ocsp',
          await load({
            url: `${base}/ocsp`,
            method: 'POST',
            contentType: 'application/ocsp-request',
            body: ocspPost,
          }),
        );
        keep('ocspGet', await load({ url: ocspGetUrl, method: 'GET' }));
      } finally {
        await sealpost.stop();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const get = (key: string): Load => best.get(key) as Load;
  const row = (
    name: string,
    key: string,
    baseline?: { key: string; name: string },
    target?: string,
  ): Figure =>
    figure({
      name,
      unit: 'req/s',
      value: get(key).perSecond,
      p50Ms: get(key).p50Ms,
      p99Ms: get(key).p99Ms,
      ...(baseline ? { baseline: get(baseline.key).perSecond, baselineName: baseline.name } : {}),
      ...(target ? { target } : {}),
    });
  const trivialPost = { key: 'trivialPost', name: 'trivial POST' };
  const trivialGet = { key: 'trivialGet', name: 'trivial GET' };
  await report(
    'pki-http',
    [
      row('trivial Fastify POST (baseline)', 'trivialPost'),
      row('trivial Fastify GET (baseline)', 'trivialGet'),
      row('TSA POST /tsa (ECDSA P-256, certReq)', 'tsa', trivialPost, '≥ 0.5'),
      row('OCSP POST /ocsp (cached, no nonce)', 'ocsp', trivialPost, '≥ 0.7'),
      row('OCSP GET /ocsp/<b64> (cached)', 'ocspGet', trivialGet, '≥ 0.7'),
    ],
    [
      `autocannon: ${connections} connections, pipelining 1, ${seconds} s per figure after a ${warmup} s warm-up; ` +
        `best of ${rounds} alternating rounds (baseline server, then Sealpost; one server at a time, both \`node --import tsx\` children); ` +
        'req/s counts 2xx only; p50/p99 from the best round',
      'errors over all rounds (non-2xx + socket errors + timeouts): ' +
        [...best].map(([k, v]) => `${k} ${v.errors}`).join(', '),
    ],
  );
}

// ------------------------------------------------------------------------------------------ load

interface LoadOptions {
  url: string;
  method: 'GET' | 'POST';
  contentType?: string;
  body?: Buffer;
}

interface Load {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

async function measure(
  o: LoadOptions & { seconds: number; warmup: number; connections: number },
): Promise<Load> {
  const options = (duration: number): autocannon.Options => ({
    url: o.url,
    method: o.method,
    connections: o.connections,
    pipelining: 1,
    duration,
    ...(o.body ? { body: o.body } : {}),
    ...(o.contentType ? { headers: { 'content-type': o.contentType } } : {}),
  });
  if (o.warmup > 0) await autocannon(options(o.warmup));
  // autocannon's own histogram has 1 ms resolution; collect the exact response times for the percentiles.
  const latencies: number[] = [];
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options(o.seconds), (err, result) =>
      err ? reject(err as Error) : resolve(result),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return {
    perSecond: r['2xx'] / r.duration,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    errors: r.non2xx + r.errors + r.timeouts,
  };
}

// ------------------------------------------------------------------------------------------ requests

function tsaRequest(): Buffer {
  const digest = createHash('sha256').update('sealpost pki-http benchmark').digest();
  return buildTimeStampRequest({ hash: 'sha256', digest, certReq: true });
}

/** Issue one certificate through the REST API and build a fixed no-nonce OCSP request for it. */
async function ocspRequestFor(base: string, adminKey: string): Promise<Buffer> {
  const key = await SoftwareKey.generate('ec-p256');
  const csr = await buildCsr(key, { commonName: 'bench@bank.example' }, ['bench@bank.example']);
  const res = await fetch(`${base}/v1/certificates`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey.trim()}` },
    body: JSON.stringify({
      email: 'bench@bank.example',
      usage: 'signing',
      csr: toPem(csr, 'CERTIFICATE REQUEST'),
    }),
  });
  if (res.status !== 201)
    throw new Error(`issuing the OCSP test certificate failed: ${res.status} ${await res.text()}`);
  const [cert] = ((await res.json()) as { certificates: { serial: string }[] }).certificates;
  if (!cert) throw new Error('the API returned no certificate');
  const issuer = Buffer.from(await (await fetch(`${base}/ca/issuing.crt`)).arrayBuffer());
  return buildOcspRequest({ issuerCertificate: issuer, serialHex: cert.serial });
}

const post = (url: string, contentType: string, body: Buffer) =>
  fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });

async function checkOcsp(res: Response): Promise<void> {
  const der = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`OCSP sample: HTTP ${res.status}`);
  const parsed = parseOcspResponse(der);
  const status = parsed.answers[0]?.status.status;
  if (parsed.status !== 'successful' || status !== 'good' || parsed.signatureValid !== true)
    throw new Error(
      `OCSP sample is not a valid "good" answer: ${parsed.status}, ${status}, signature ${parsed.signatureValid}`,
    );
  if (!res.headers.get('etag')) throw new Error('OCSP sample has no ETag: it was not served from the cache');
}

async function checkTsa(res: Response): Promise<void> {
  const der = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`TSA sample: HTTP ${res.status}`);
  const parsed = parseTimeStampResponse(der);
  if (parsed.status !== 0 || !parsed.token)
    throw new Error(
      `TSA sample not granted: ${parsed.status} ${parsed.statusString ?? ''} ${parsed.failInfo ?? ''}`,
    );
  const digest = createHash('sha256').update('sealpost pki-http benchmark').digest();
  verifyTimeStampToken(parsed.token.token, { digest });
}

// ------------------------------------------------------------------------------------------ child servers

interface Child {
  url: string;
  stop(): Promise<void>;
}

/** Start `node --import tsx <args>` and wait for the JSON line with its URL; other output is drained. */
async function startChild(cwd: string, args: string[], nodeFlags: string[] = []): Promise<Child> {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      try {
        const obj = JSON.parse(line) as { url?: unknown; msg?: unknown };
        if (typeof obj.url === 'string' && obj.msg === undefined) resolve(obj.url);
      } catch {
        // a log line that is not JSON
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`${args[0]} exited with ${code} before listening:\n${stderr}`)),
    );
  });
  return { url, stop: () => stopChild(child) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
