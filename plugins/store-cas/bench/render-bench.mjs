#!/usr/bin/env node
// Store benchmarks (not part of the test command). Build first: `npx tsc -b` at the repo root.
//
//   node plugins/store-cas/bench/render-bench.mjs [--rounds=5] [--render-mb=600] [--import-mb=1024] [--keep]
//
// 1. render: a ~600 MB image of mixed files, `store.trees.render` vs `tar -xf` of the same tar,
//    interleaved rounds, median ratio (goal <= 1.1). Measured twice: without the final syncfs
//    (vs tar -xf) and with it (vs tar -xf followed by sync -f).
// 2. import: a ~1 GiB uncompressed ACI, `store.images.importAci` (in a child process, to read
//    its peak RSS) vs `openssl dgst -sha512` of the same file: throughput ratio (goal >= 0.8),
//    peak RSS (goal <= 150 MB).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')).map(([k, v]) => [k, v ?? 'true']));
const ROUNDS = Number(args.rounds ?? 5);
const RENDER_MB = Number(args['render-mb'] ?? 600);
const IMPORT_MB = Number(args['import-mb'] ?? 1024);
const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist', 'index.js');
const { CasStore } = await import(dist);

const work = fs.mkdtempSync(path.join(args.dir ?? os.tmpdir(), 'rkt-store-bench-'));
const pool = randomBytes(32 << 20);
let poolOff = 0;
function bytes(n) {
  // Slices of a random pool at moving offsets: incompressible, cheap to produce.
  if (poolOff + n > pool.length) poolOff = 0;
  const b = pool.subarray(poolOff, poolOff + n);
  poolOff += (n % 4093) + 1;
  return b;
}
function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: ${r.stderr}`);
  return r.stdout.toString();
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))];
const now = () => Number(process.hrtime.bigint()) / 1e6;
const manifest = (name) => JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name, labels: [{ name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }] });

/** A rootfs of mixed files: many small, some medium, a few large; dirs, symlinks, hard links. */
function makeMixedImage(dir, targetBytes) {
  const rootfs = path.join(dir, 'rootfs');
  fs.mkdirSync(rootfs, { recursive: true });
  let total = 0;
  let n = 0;
  const sizes = () => {
    const r = n % 100;
    if (r < 80) return 512 + ((n * 7919) % 16384); // small: 0.5-16 KiB
    if (r < 97) return 64 * 1024 + ((n * 104729) % (1 << 20)); // medium: 64 KiB-1 MiB
    return (8 << 20) + ((n * 13) % (8 << 20)); // large: 8-16 MiB
  };
  while (total < targetBytes) {
    const d = path.join(rootfs, `usr/lib/pkg${n % 37}/sub${n % 11}`);
    fs.mkdirSync(d, { recursive: true });
    const size = sizes();
    const f = path.join(d, `file${n}`);
    fs.writeFileSync(f, bytes(size));
    if (n % 50 === 0) fs.symlinkSync(`file${n}`, path.join(d, `link${n}`));
    if (n % 97 === 0) fs.linkSync(f, path.join(d, `hard${n}`));
    total += size;
    n++;
  }
  fs.writeFileSync(path.join(dir, 'manifest'), manifest('bench.example.com/mixed'));
  const aci = path.join(work, `${path.basename(dir)}.aci`);
  run('tar', ['-C', dir, '-cf', aci, 'manifest', 'rootfs']);
  fs.rmSync(dir, { recursive: true, force: true });
  return { aci, files: n };
}

function makeBigImage(dir, targetBytes) {
  const rootfs = path.join(dir, 'rootfs');
  fs.mkdirSync(rootfs, { recursive: true });
  let total = 0;
  for (let i = 0; total < targetBytes; i++) {
    const fd = fs.openSync(path.join(rootfs, `blob${i}`), 'w');
    for (let j = 0; j < 16; j++) fs.writeSync(fd, bytes(1 << 20));
    fs.closeSync(fd);
    total += 16 << 20;
  }
  fs.writeFileSync(path.join(dir, 'manifest'), manifest('bench.example.com/big'));
  const aci = path.join(work, `${path.basename(dir)}.aci`);
  run('tar', ['-C', dir, '-cf', aci, 'manifest', 'rootfs']);
  fs.rmSync(dir, { recursive: true, force: true });
  return aci;
}

const results = {};
try {
  // ------------------------------------------------------------------ render
  console.error(`generating a ~${RENDER_MB} MB mixed image…`);
  const { aci: mixed, files } = makeMixedImage(path.join(work, 'mixed'), RENDER_MB * 1e6);
  const mixedSize = fs.statSync(mixed).size;
  const dataDir = path.join(work, 'data');
  const fast = new CasStore(dataDir, { durable: false });
  const durable = new CasStore(dataDir, { durable: true });
  const { id } = await fast.images.importAci(fs.createReadStream(mixed));
  const rows = [];
  for (let round = 0; round < ROUNDS; round++) {
    const dest = path.join(work, `tarx-${round}`);
    fs.mkdirSync(dest);
    let t = now();
    run('tar', ['-C', dest, '-xf', mixed]);
    const tarMs = now() - t;
    run('sync', ['-f', dest]);
    fs.rmSync(dest, { recursive: true, force: true });
    run('sync', ['-f', work]);

    t = now();
    const tree = await fast.trees.render(id);
    const renderMs = now() - t;
    await fast.trees.remove(tree.id);
    run('sync', ['-f', work]);

    const dest2 = path.join(work, `tarxs-${round}`);
    fs.mkdirSync(dest2);
    t = now();
    run('tar', ['-C', dest2, '-xf', mixed]);
    run('sync', ['-f', dest2]);
    const tarSyncMs = now() - t;
    fs.rmSync(dest2, { recursive: true, force: true });
    run('sync', ['-f', work]);

    t = now();
    const tree2 = await durable.trees.render(id);
    const renderDurableMs = now() - t;
    await durable.trees.remove(tree2.id);
    run('sync', ['-f', work]);
    rows.push({ tarMs, renderMs, ratio: renderMs / tarMs, tarSyncMs, renderDurableMs, ratioDurable: renderDurableMs / tarSyncMs });
    console.error(`render round ${round + 1}: tar -xf ${tarMs.toFixed(0)} ms, render ${renderMs.toFixed(0)} ms (×${(renderMs / tarMs).toFixed(3)}); ` +
      `tar -xf + sync ${tarSyncMs.toFixed(0)} ms, durable render ${renderDurableMs.toFixed(0)} ms (×${(renderDurableMs / tarSyncMs).toFixed(3)})`);
  }
  fast.close();
  durable.close();
  results.render = {
    imageBytes: mixedSize,
    files,
    rounds: ROUNDS,
    medianTarMs: median(rows.map((r) => r.tarMs)),
    medianRenderMs: median(rows.map((r) => r.renderMs)),
    p90TarMs: p90(rows.map((r) => r.tarMs)),
    p90RenderMs: p90(rows.map((r) => r.renderMs)),
    medianRatio: median(rows.map((r) => r.ratio)),
    medianRatioDurable: median(rows.map((r) => r.ratioDurable)),
  };
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(mixed, { force: true });

  // ------------------------------------------------------------------ import
  console.error(`generating a ~${IMPORT_MB} MiB image…`);
  const big = makeBigImage(path.join(work, 'big'), IMPORT_MB * (1 << 20));
  const bigSize = fs.statSync(big).size;
  const child = `
    const { CasStore } = await import(${JSON.stringify(dist)});
    const fs = await import('node:fs');
    const s = new CasStore(process.argv[1]);
    const t = performance.now();
    const info = await s.images.importAci(fs.createReadStream(process.argv[2], { highWaterMark: 1 << 20 }));
    const ms = performance.now() - t;
    s.close();
    process.stdout.write(JSON.stringify({ ms, id: info.id, maxRssKb: process.resourceUsage().maxRSS }));
  `;
  const irows = [];
  for (let round = 0; round < Math.max(3, Math.min(ROUNDS, 5)); round++) {
    let t = now();
    run('openssl', ['dgst', '-sha512', big]);
    const sslMs = now() - t;
    const dd = path.join(work, `idata-${round}`);
    const out = JSON.parse(run(process.execPath, ['--input-type=module', '-e', child, dd, big]));
    fs.rmSync(dd, { recursive: true, force: true });
    run('sync', ['-f', work]);
    irows.push({ sslMs, importMs: out.ms, ratio: sslMs / out.ms, rssMb: out.maxRssKb / 1024 });
    console.error(`import round ${round + 1}: openssl ${sslMs.toFixed(0)} ms, import ${out.ms.toFixed(0)} ms (throughput ×${(sslMs / out.ms).toFixed(3)}), peak RSS ${(out.maxRssKb / 1024).toFixed(0)} MB`);
  }
  results.import = {
    imageBytes: bigSize,
    medianOpensslMs: median(irows.map((r) => r.sslMs)),
    medianImportMs: median(irows.map((r) => r.importMs)),
    medianThroughputRatio: median(irows.map((r) => r.ratio)),
    maxPeakRssMb: Math.max(...irows.map((r) => r.rssMb)),
  };
  console.log(JSON.stringify(results, null, 2));
} finally {
  if (args.keep !== 'true') fs.rmSync(work, { recursive: true, force: true });
}
