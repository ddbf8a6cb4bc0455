// `rkt run --stage1-from-dir=stage1-nspawn.aci --net=none` of a busybox image already in the
// store (app /bin/true), against bare `systemd-nspawn --register=no --keep-unit --private-network
// -D rootfs /bin/true` on the same rootfs, with the node floor (`node -e 0`) alongside.
// Goal (issue 8): rkt ≤ (node -e 0) + 2× bare systemd-nspawn.
// Then, from RKT_TIMING=1 runs, where rkt's time goes.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxBenchImage, compare, has, removeWorkDir, repoRoot, report, rktBin, timePhases } from './lib.mjs';


export default function nspawnBench({ rounds = 10, timingRuns = 5 } = {}) {
  if (!has('systemd-nspawn')) {
    process.stdout.write('## nspawn\n\nskipped: systemd-nspawn is not installed\n');
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'rkt-bench-nspawn-'));
  const flags = [`--dir=${join(work, 'data')}`, `--local-config=${join(work, 'etc')}`, `--system-config=${join(work, 'sys')}`];
  const rkt = (...a) => execFileSync(rktBin, [...flags, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    // the flavor's image, built fresh into a stage1-images dir named by paths.d
    const s1dir = join(work, 'stage1-images');
    execFileSync(process.execPath, [join(repoRoot, 'stage1-flavors', 'nspawn', 'dist', 'build-image.js'), s1dir]);
    mkdirSync(join(work, 'etc', 'paths.d'), { recursive: true });
    writeFileSync(join(work, 'etc', 'paths.d', 'paths.json'), JSON.stringify({ rktKind: 'paths', rktVersion: 'v1', 'stage1-images': s1dir }));
    const { rootfs, aci, image } = busyboxBenchImage(work);
    rkt('--insecure-options=image', 'fetch', aci);
    const S1 = '--stage1-from-dir=stage1-nspawn.aci';
    // the stage1 image goes into the store on the first run: not part of what is timed
    rkt('run', S1, '--net=none', image);

    const uuidFile = join(work, 'uuid');
    const rmPod = () => {
      if (existsSync(uuidFile)) rkt('rm', `--uuid-file=${uuidFile}`);
      rmSync(uuidFile, { force: true });
    };
    const variants = [
      { name: 'node -e 0', argv: [process.execPath, '-e', '0'] },
      // removing each pod is outside the timed part, so mounts do not pile up
      { name: 'rkt run (nspawn)', argv: [rktBin, ...flags, 'run', S1, '--net=none', `--uuid-file-save=${uuidFile}`, image], after: rmPod },
      {
        name: 'systemd-nspawn',
        argv: ['systemd-nspawn', '--register=no', '--keep-unit', '--quiet', '--private-network', '-D', rootfs, '/bin/true'],
        env: { ...process.env, SYSTEMD_LOG_LEVEL: 'crit' },
      },
    ];
    const results = compare(variants, { rounds, warmup: 2 });

    const phases = [
      ['stage0 start-up (node, fast path, DI, flags)', 'stage0: process start', 'stage0: prepare'],
      ['prepare (image lookup, pod dir, manifest)', 'stage0: prepare', 'stage0: prepared'],
      ['set up for run (overlay mounts, DNS files)', 'stage0: prepared', 'stage0: set up for run'],
      ['stage1 preparation, in stage0 (plans, nspawn argv)', 'stage0: set up for run', 'stage0: stage1 prepared in-process'],
      ['runtime (entry script, systemd-nspawn, supervisor, rkt-appexec, app)', 'stage0: stage1 prepared in-process', 'stage0: stage1 exited'],
      ['stage0 exit', 'stage0: stage1 exited', 'stage0: exit'],
    ];
    const timed = timePhases([rktBin, ...flags, 'run', S1, '--net=none', `--uuid-file-save=${uuidFile}`, image], phases, timingRuns, rmPod);

    const m = (k) => results[k]?.median;
    const floor = m('node -e 0');
    const ours = m('rkt run (nspawn)');
    const bare = m('systemd-nspawn');
    const goal = floor + 2 * bare;
    const lines = [
      `rkt run (nspawn): ${(ours / bare).toFixed(2)}× bare systemd-nspawn; ${(ours / goal).toFixed(2)}× the goal`,
      `goal rkt ≤ (node -e 0) + 2× systemd-nspawn = ${goal.toFixed(1)} ms: ${ours <= goal ? 'met' : 'NOT met'} (rkt ${ours.toFixed(1)} ms)`,
      '',
      `Where rkt run's time goes (RKT_TIMING=1, median of ${timingRuns} runs; NaN where a phase mark is missing):`,
      '',
      '| phase | median ms |',
      '|---|---|',
      ...timed.map(([name, ms]) => `| ${name} | ${ms.toFixed(1)} |`),
    ];
    return report('nspawn', results, lines);
  } finally {
    spawnSync(rktBin, [...flags, 'gc', '--grace-period=0s'], { stdio: 'ignore' });
    removeWorkDir(work);
  }
}
