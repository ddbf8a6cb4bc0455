// Benchmark harness: runs our command and its peers side by side, interleaved round by round
// (so machine noise hits every variant alike), and reports medians and ratios. Benchmarks are
// never part of the test command: this machine is shared and noisy.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

export const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
export const appcArch = { x64: 'amd64', arm64: 'aarch64' }[process.arch] ?? process.arch;

/** The mount point of a hybrid host's cgroup2 tree (none on pure v1 or v2 hosts). */
export function hybridUnified() {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const v1 = lines.some((l) => / - cgroup /.test(l));
  const v2 = lines.find((l) => / - cgroup2 /.test(l));
  return v1 && v2 ? v2.split(' ')[4] : undefined;
}

/**
 * The busybox image every pod benchmark runs (app /bin/true), built under `work`: its rootfs (with
 * /usr, so that systemd-nspawn takes it for an OS tree), the ACI, and the image name.
 */
export function busyboxBenchImage(work) {
  const layout = join(work, 'layout');
  const rootfs = join(layout, 'rootfs');
  for (const d of ['bin', 'usr', 'etc', 'proc', 'sys', 'dev', 'tmp']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  symlinkSync('busybox', join(rootfs, 'bin', 'true'));
  writeFileSync(
    join(layout, 'manifest'),
    JSON.stringify({
      acKind: 'ImageManifest',
      acVersion: '0.8.11',
      name: 'example.com/bench-busybox',
      labels: [{ name: 'version', value: '1.0' }, { name: 'os', value: 'linux' }, { name: 'arch', value: appcArch }],
      app: { exec: ['/bin/true'], user: '0', group: '0' },
    }),
  );
  const aci = join(work, 'busybox.aci');
  execFileSync('tar', ['-C', layout, '-cf', aci, 'manifest', 'rootfs']);
  return { rootfs, aci, image: 'example.com/bench-busybox:1.0' };
}

/** An OCI bundle in `<work>/bundle` over `rootfs` (runc's default spec, no terminal, /bin/true). */
export function runcBundle(work, rootfs) {
  const bundle = join(work, 'bundle');
  mkdirSync(bundle);
  execFileSync('runc', ['spec', '--bundle', bundle]);
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = ['/bin/true'];
  spec.root = { path: rootfs, readonly: false };
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  return bundle;
}

/**
 * Where rkt's time goes: run `argv` `runs` times with RKT_TIMING=1 (core/cli/src/runtime/timing.ts)
 * and return, per phase [label, from mark, to mark], the median ms between its two marks. `after`
 * runs after each run (e.g. to remove the pod), outside the measurement.
 */
export function timePhases(argv, phases, runs, after) {
  const samples = phases.map(() => []);
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(argv[0], argv.slice(1), { env: { ...process.env, RKT_TIMING: '1' }, encoding: 'utf8' });
    const t = Object.fromEntries(
      r.stderr
        .split('\n')
        .filter((l) => l.startsWith('rkt-timing '))
        .map((l) => {
          const [, ms, , ...label] = l.split(' ');
          return [label.join(' '), Number(ms)];
        }),
    );
    phases.forEach(([, from, to], k) => samples[k].push(t[to] - t[from]));
    after?.();
  }
  return phases.map(([name], k) => [name, median(samples[k])]);
}

/** Unmount whatever is still mounted under `work` (deepest first), then remove it. */
export function removeWorkDir(work) {
  const left = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p) => p && p.startsWith(work))
    .reverse();
  for (const p of left) spawnSync('umount', ['-l', p]);
  rmSync(work, { recursive: true, force: true });
}
