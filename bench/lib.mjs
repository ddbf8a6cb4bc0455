// Benchmark harness: runs our command and its peers side by side, interleaved round by round
// (so machine noise hits every variant alike), and reports medians and ratios. Benchmarks are
// never part of the test command: this machine is shared and noisy.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));
export const rktBin = join(repoRoot, 'node_modules', '.bin', 'rkt');
export const actoolBin = join(repoRoot, 'node_modules', '.bin', 'actool');

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** Time one run of argv (ms, wall clock). Throws if the command fails. */
export function timeOnce(v) {
  v.before?.();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(v.argv[0], v.argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: v.env ?? process.env, cwd: v.cwd });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  v.after?.();
  if (r.status !== 0 && !v.allowFailure) throw new Error(`${v.name}: ${v.argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

/**
 * variants: [{ name, argv, env?, cwd?, before?, after? }]. Returns { name: { median, p90, n } }.
 */
export function compare(variants, { rounds = 15, warmup = 2 } = {}) {
  const samples = Object.fromEntries(variants.map((v) => [v.name, []]));
  for (let i = 0; i < warmup; i++) for (const v of variants) timeOnce(v);
  for (let i = 0; i < rounds; i++) {
    // rotate the order each round
    const order = variants.map((_, k) => variants[(k + i) % variants.length]);
    for (const v of order) samples[v.name].push(timeOnce(v));
  }
  return Object.fromEntries(
    Object.entries(samples).map(([k, xs]) => [k, { median: median(xs), p90: percentile(xs, 90), n: xs.length }]),
  );
}

export function report(title, results, lines) {
  const out = [`## ${title}`, '', '| variant | median ms | p90 ms |', '|---|---|---|'];
  for (const [k, r] of Object.entries(results)) out.push(`| ${k} | ${r.median.toFixed(1)} | ${r.p90.toFixed(1)} |`);
  out.push('', ...lines, '');
  const text = out.join('\n');
  process.stdout.write(text + '\n');
  mkdirSync(join(repoRoot, 'bench', 'results'), { recursive: true });
  writeFileSync(join(repoRoot, 'bench', 'results', `${title.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.md`), text);
  return text;
}
