// `rkt run` with the default network (CNI ptp + host-local, masquerade; native stage1) of a
// busybox image already in the store (app /bin/true), against `podman run --rm` with podman's
// default network (its CNI/netavark bridge) over the same rootfs. Both run inside a network
// namespace made for the benchmark (`nsenter --net=…`), so their veths, bridges and iptables
// rules never touch the machine's own namespace. Goal (issue 6): rkt ≤ 0.5× podman.
// Then, from RKT_TIMING=1 runs, where rkt's time goes, and the CNI part measured on its own.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxBenchImage, compare, has, hybridUnified, removeWorkDir, report, rktBin, runcBundle } from './lib.mjs';


export default function netRunBench({ rounds = 10 } = {}) {
  const work = mkdtempSync(join(tmpdir(), 'rkt-bench-net-'));
  const ns = `rkt-bench-net-${process.pid}`;
  const inNs = (argv) => ['nsenter', `--net=/var/run/netns/${ns}`, ...argv];
  const flags = [`--dir=${join(work, 'data')}`, `--local-config=${join(work, 'etc')}`, `--system-config=${join(work, 'sys')}`];
  const rkt = (...a) => execFileSync(inNs([rktBin, ...flags, ...a])[0], inNs([rktBin, ...flags, ...a]).slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  try {
    const { rootfs, aci, image } = busyboxBenchImage(work);
    rkt('--insecure-options=image', 'fetch', aci);
    rkt('run', image); // stage1 into the store, first lease: not timed

    const unified = hybridUnified();
    const uuidFile = join(work, 'uuid');
    // The floor: what any runtime written in node that starts the app through an OCI runtime and
    // sets up this network with Debian's CNI plugins cannot go below. node's start, `runc run` of
    // the same rootfs, and the network part done by a shell with nothing else: ip netns add, the
    // ptp plugin's ADD and DEL with the default network's config, ip netns del.
    const bundle = runcBundle(work, rootfs);
    const cniConf = JSON.stringify({
      cniVersion: '1.0.0', name: 'bench-floor', type: 'ptp', ipMasq: true,
      ipam: { type: 'host-local', subnet: '172.16.28.0/24', dataDir: join(work, 'ipam'), routes: [{ dst: '0.0.0.0/0' }] },
    });
    const cniScript = join(work, 'cni-by-hand.sh');
    const pluginDir = ['/usr/lib/cni', '/opt/cni/bin'].find((d) => existsSync(join(d, 'ptp')));
    writeFileSync(
      cniScript,
      [
        'set -e',
        `c=floor-$$; n=rkt-bench-floor-$$`,
        'ip netns add $n',
        `echo '${cniConf}' | CNI_COMMAND=ADD CNI_CONTAINERID=$c CNI_NETNS=/var/run/netns/$n CNI_IFNAME=eth0 CNI_PATH=${pluginDir} ${pluginDir}/ptp >/dev/null`,
        `echo '${cniConf}' | CNI_COMMAND=DEL CNI_CONTAINERID=$c CNI_NETNS=/var/run/netns/$n CNI_IFNAME=eth0 CNI_PATH=${pluginDir} ${pluginDir}/ptp >/dev/null`,
        'ip netns del $n',
      ].join('\n'),
    );
    const variants = [
      { name: 'node -e 0', argv: [process.execPath, '-e', '0'] },
      { name: 'runc run', argv: ['runc', 'run', '--bundle', bundle, 'bench-net-runc'] },
      ...(pluginDir ? [{ name: 'CNI by hand (netns, ptp ADD + DEL)', argv: inNs(['bash', cniScript]) }] : []),
      {
        name: 'rkt run --net=default',
        argv: inNs([rktBin, ...flags, 'run', `--uuid-file-save=${uuidFile}`, image]),
        after: () => {
          if (existsSync(uuidFile)) rkt('rm', `--uuid-file=${uuidFile}`);
          rmSync(uuidFile, { force: true });
        },
      },
      {
        name: 'rkt run --net=none',
        argv: inNs([rktBin, ...flags, 'run', '--net=none', `--uuid-file-save=${uuidFile}`, image]),
        after: () => {
          if (existsSync(uuidFile)) rkt('rm', `--uuid-file=${uuidFile}`);
          rmSync(uuidFile, { force: true });
        },
      },
    ];
    const podman = has('podman');
    if (podman)
      variants.push({
        name: 'podman run --rm (default network)',
        argv: inNs(['podman', ...(unified ? ['--runtime', 'runc'] : []), 'run', '--rm', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096', '--rootfs', rootfs, '/bin/true']),
      });
    const results = compare(variants, { rounds, warmup: 2 });

    // CNI alone: ADD then DEL of the default network's ptp config on a fresh netns, by hand.
    const t = [];
    for (let i = 0; i < 5; i++) {
      const r = spawnSync(inNs([rktBin, ...flags, 'run', `--uuid-file-save=${uuidFile}`, image])[0], inNs([rktBin, ...flags, 'run', `--uuid-file-save=${uuidFile}`, image]).slice(1), {
        env: { ...process.env, RKT_TIMING: '1' },
        encoding: 'utf8',
      });
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('rkt-timing '));
      const at = (label) => Number((lines.find((l) => l.endsWith(label)) ?? '').split(' ')[1]);
      if (lines.length) t.push({ setup: at('stage0: set up for run') - at('stage0: prepared') });
      if (existsSync(uuidFile)) rkt('rm', `--uuid-file=${uuidFile}`);
      rmSync(uuidFile, { force: true });
    }
    const m = (k) => results[k]?.median;
    const ours = m('rkt run --net=default');
    const none = m('rkt run --net=none');
    const pm = m('podman run --rm (default network)');
    const floor = m('node -e 0') + m('runc run') + (m('CNI by hand (netns, ptp ADD + DEL)') ?? NaN);
    const setup = t.map((x) => x.setup).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    const lines = [
      `default network costs rkt +${(ours - none).toFixed(1)} ms over --net=none (netns, CNI ADD, teardown with DEL)`,
      setup.length ? `stage0 "set up for run" phase with the default network (mounts + netns + CNI ADD), median of ${setup.length}: ${setup[setup.length >> 1].toFixed(1)} ms` : '',
      pm
        ? `rkt run --net=default: ${(ours / pm).toFixed(2)}× podman run --rm; goal ≤ 0.5× podman = ${(0.5 * pm).toFixed(1)} ms: ${ours <= 0.5 * pm ? 'met' : 'NOT met'}`
        : 'podman not installed: no podman comparison',
      Number.isFinite(floor)
        ? `floor (node -e 0 + runc run + CNI by hand) = ${floor.toFixed(1)} ms = ${pm ? (floor / pm).toFixed(2) + '× podman' : 'n/a'}: ${pm && floor > 0.5 * pm ? 'the goal is below the floor' : 'the goal is above the floor'}`
        : '',
    ].filter(Boolean);
    return report('net-run', results, lines);
  } finally {
    const gc = inNs([rktBin, ...flags, 'gc', '--grace-period=0s']);
    spawnSync(gc[0], gc.slice(1), { stdio: 'ignore' });
    spawnSync('runc', ['delete', '--force', 'bench-net-runc'], { stdio: 'ignore' });
    spawnSync('ip', ['netns', 'del', ns]);
    removeWorkDir(work);
  }
}
