import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cpus } from 'node:os';

/** One measured figure: our rate, the baseline measured in the same run, and their ratio. */
export interface Figure {
  name: string;
  unit: string;
  value: number;
  baselineName?: string;
  baseline?: number;
  ratio?: number;
  target?: string;
  p50Ms?: number;
  p99Ms?: number;
}

export interface BenchReport {
  bench: string;
  at: string;
  machine: { cpus: number; model: string; node: string };
  figures: Figure[];
  notes: string[];
}

export function figure(f: Omit<Figure, 'ratio'>): Figure {
  return { ...f, ...(f.baseline ? { ratio: f.value / f.baseline } : {}) };
}

/** Run `fn` repeatedly for about `ms` milliseconds (after a warm-up) and return operations per second. */
export async function rate(
  fn: () => Promise<unknown>,
  opts: { ms?: number; concurrency?: number; warmup?: number } = {},
): Promise<{ perSecond: number; p50Ms: number; p99Ms: number; count: number }> {
  const ms = opts.ms ?? 3000;
  const concurrency = opts.concurrency ?? 1;
  for (let i = 0; i < (opts.warmup ?? 20); i++) await fn();
  const latencies: number[] = [];
  const deadline = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        await fn();
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return {
    perSecond: latencies.length / elapsed,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    count: latencies.length,
  };
}

export async function report(bench: string, figures: Figure[], notes: string[] = []): Promise<BenchReport> {
  const r: BenchReport = {
    bench,
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
    figures,
    notes,
  };
  const rows = figures.map((f) => [
    f.name,
    `${fmt(f.value)} ${f.unit}`,
    f.baseline ? `${fmt(f.baseline)} ${f.unit} (${f.baselineName})` : '',
    f.ratio !== undefined ? f.ratio.toFixed(2) : '',
    f.target ?? '',
    f.p50Ms !== undefined ? `${f.p50Ms.toFixed(2)} / ${(f.p99Ms ?? 0).toFixed(2)}` : '',
  ]);
  const header = ['figure', 'ours', 'baseline (same run)', 'ratio', 'target', 'p50 / p99 ms'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  console.log(`\n## ${bench}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  for (const n of notes) console.log(`  note: ${n}`);
  const dir = join(process.cwd(), 'bench', 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${bench}.json`), JSON.stringify(r, null, 2) + '\n');
  return r;
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}
