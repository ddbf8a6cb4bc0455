// Rendering a ~600 MB image of mixed files through the store (plugins/store-cas/bench/render-bench.mjs:
// `store.trees.render` vs `tar -xf` of the same tar, interleaved rounds), with the V8 settings of the
// rkt binary (bin/run.js). Goal (issue 4): ≤ 1.1× tar -xf.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, report } from './lib.mjs';

export default function renderBench({ rounds = 9 } = {}) {
  const script = join(repoRoot, 'plugins', 'store-cas', 'bench', 'render-bench.mjs');
  const r = spawnSync(process.execPath, ['--initial-old-space-size=64', script, `--rounds=${rounds}`, '--import-mb=16'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`render bench failed: ${r.stderr}`);
  const d = JSON.parse(r.stdout).render;
  const results = {
    'tar -xf': { median: d.medianTarMs, p90: d.p90TarMs },
    'rkt tree render': { median: d.medianRenderMs, p90: d.p90RenderMs },
  };
  return report('render', results, [
    `image: ${(d.imageBytes / 1e6).toFixed(0)} MB, ${d.files} files; ${d.rounds} interleaved rounds, medians of the per-round ratios`,
    `render / tar -xf: ${d.medianRatio.toFixed(2)}× (goal ≤ 1.1: ${d.medianRatio <= 1.1 ? 'met' : 'NOT met'})`,
    `durable render (syncfs before the tree is visible) / tar -xf followed by sync -f: ${d.medianRatioDurable.toFixed(2)}×`,
  ]);
}
