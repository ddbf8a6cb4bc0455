// `rkt run --net=none` of a busybox image already in the store (app /bin/true) on the native
// stage1, against the OCI runtimes and container managers running the same rootfs:
//   crun run (in a private mount namespace with /sys/fs/cgroup/unified unmounted: crun refuses
//   hybrid cgroups), runc run, systemd-nspawn --register=no --keep-unit, podman run --rm
//   --network none --rootfs.
// Goals (issue 5): rkt ≤ (node -e 0) + 2× crun, and rkt ≤ 0.5× podman.
// Then, from RKT_TIMING=1 runs (core/cli/src/runtime/timing.ts), where rkt's time goes.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxBenchImage, compare, has, hybridUnified, removeWorkDir, report, rktBin, timePhases, runcBundle } from './lib.mjs';


export default function runBench({ rounds = 12, timingRuns = 5 } = {}) {
  const work = mkdtempSync(join(tmpdir(), 'rkt-bench-run-'));
  const flags = [`--dir=${join(work, 'data')}`, `--local-config=${join(work, 'etc')}`, `--system-config=${join(work, 'sys')}`];
  const rkt = (...a) => execFileSync(rktBin, [...flags, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const { rootfs, aci, image } = busyboxBenchImage(work);
    rkt('--insecure-options=image', 'fetch', aci);
    // the stage1 image goes into the store on the first run: not part of what is timed
    rkt('run', '--net=none', image);

    // an OCI bundle over the same rootfs (runc's default spec, no terminal, /bin/true)
    const bundle = runcBundle(work, rootfs);

    const unified = hybridUnified();
    const uuidFile = join(work, 'uuid');
    const variants = [
      { name: 'node -e 0', argv: [process.execPath, '-e', '0'] },
      {
        name: 'rkt run (native)',
        argv: [rktBin, ...flags, 'run', '--net=none', `--uuid-file-save=${uuidFile}`, image],
        // remove each pod outside the timed part, so mounts do not pile up
        after: () => {
          if (existsSync(uuidFile)) rkt('rm', `--uuid-file=${uuidFile}`);
          rmSync(uuidFile, { force: true });
        },
      },
      {
        name: 'crun run',
        argv: unified
          ? ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `umount ${unified} && exec crun run --bundle ${bundle} bench-crun`]
          : ['crun', 'run', '--bundle', bundle, 'bench-crun'],
      },
      { name: 'runc run', argv: ['runc', 'run', '--bundle', bundle, 'bench-runc'] },
    ];
    if (has('systemd-nspawn'))
      variants.push({ name: 'systemd-nspawn', argv: ['systemd-nspawn', '--register=no', '--keep-unit', '--quiet', '--private-network', '-D', rootfs, '/bin/true'] });
    if (has('podman'))
      variants.push({
        name: 'podman run',
        // podman's default runtime is crun, which refuses hybrid cgroups; the rlimits podman
        // would raise need CAP_SYS_RESOURCE, which a sandboxed root may lack: lower them instead
        argv: ['podman', ...(unified ? ['--runtime', 'runc'] : []), 'run', '--rm', '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096', '--rootfs', rootfs, '/bin/true'],
      });
    const results = compare(variants, { rounds, warmup: 2 });

    // where the time goes: phases from RKT_TIMING lines, medians over a few runs
    const phases = [
      ['stage0 start-up: node, CLI entry (fast path, no oclif)', 'stage0: process start', 'stage0: command'],
      ['stage0 argv and flag checks', 'stage0: command', 'stage0: flags checked'],
      ['stage0 engine boot (DI container, plugins)', 'stage0: flags checked', 'stage0: engine booted'],
      ['stage0 networks, metadata service checks', 'stage0: engine booted', 'stage0: prepare'],
      ['prepare (image lookup, pod dir, manifest)', 'stage0: prepare', 'stage0: prepared'],
      ['set up for run (overlay mounts, DNS files)', 'stage0: prepared', 'stage0: set up for run'],
      ['stage1 preparation, in stage0 (OCI bundles, supervisor plan)', 'stage0: set up for run', 'stage0: stage1 prepared in-process'],
      ['runtime (entry script, unshare, supervisor, OCI runtime, app)', 'stage0: stage1 prepared in-process', 'stage0: stage1 exited'],
      ['stage0 exit', 'stage0: stage1 exited', 'stage0: exit'],
    ];
    const timed = timePhases([rktBin, ...flags, 'run', '--net=none', `--uuid-file-save=${uuidFile}`, image], phases, timingRuns, () => {
      if (existsSync(uuidFile)) rkt('rm', `--uuid-file=${uuidFile}`);
      rmSync(uuidFile, { force: true });
    });

    const m = (k) => results[k]?.median;
    const floor = m('node -e 0');
    const ours = m('rkt run (native)');
    const lines = [
      `rkt run: ${(ours / m('crun run')).toFixed(2)}× crun, ${(ours / m('runc run')).toFixed(2)}× runc` +
        (m('systemd-nspawn') ? `, ${(ours / m('systemd-nspawn')).toFixed(2)}× systemd-nspawn` : '') +
        (m('podman run') ? `, ${(ours / m('podman run')).toFixed(2)}× podman` : ''),
      `goal rkt ≤ (node -e 0) + 2× crun = ${(floor + 2 * m('crun run')).toFixed(1)} ms: ${ours <= floor + 2 * m('crun run') ? 'met' : 'NOT met'} (rkt ${ours.toFixed(1)} ms)`,
      m('podman run') ? `goal rkt ≤ 0.5× podman = ${(0.5 * m('podman run')).toFixed(1)} ms: ${ours <= 0.5 * m('podman run') ? 'met' : 'NOT met'}` : 'podman not installed: no podman goal',
      '',
      `Where rkt run's time goes (RKT_TIMING=1, median of ${timingRuns} runs):`,
      '',
      '| phase | median ms |',
      '|---|---|',
      ...timed.map(([name, ms]) => `| ${name} | ${ms.toFixed(1)} |`),
    ];
    return report('run', results, lines);
  } finally {
    spawnSync(rktBin, [...flags, 'gc', '--grace-period=0s'], { stdio: 'ignore' });
    for (const id of ['bench-runc']) spawnSync('runc', ['delete', '--force', id], { stdio: 'ignore' });
    removeWorkDir(work);
  }
}
