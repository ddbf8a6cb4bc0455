/**
 * Real `rkt run --stage1-from-dir=stage1-nspawn.aci` (stage1-flavors/nspawn, the host's
 * systemd-nspawn): exit status and a multi-app pod with a read-only host volume, the contained
 * `default` network (stage0's CNI netns, joined with --network-namespace-path), enter into a
 * running app with its user and capabilities, stop, and kill -9 of the whole rkt process group
 * followed by gc, which must leave no mounts, processes, cgroups or nspawn machine directories,
 * and the packager story: stage1.d selecting nspawn as the default, --stage1-name per pod.
 * Skipped where systemd-nspawn is missing.
 */
import { stage1Image } from '../lib/images.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, statSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, rktBin, rktDirs, run } from '../lib/cli.js';
import { buildAppAci, type DetachedPod, startDetachedPod, tearDownPodTests, waitForExitedState } from './pods-lib.js';

const hasNspawn = ['/usr/bin/systemd-nspawn', '/bin/systemd-nspawn'].some((p) => existsSync(p));
const dirs = rktDirs('rkt-nspawn-');
const s1dir = join(dirs.base, 'stage1-images');
const img = (n: string) => join(dirs.base, `${n}.aci`);
const hostVol = join(dirs.base, 'hostvol');
const bg: ChildProcess[] = [];

before(() => {
  if (!hasNspawn) return;
  mkdirSync(s1dir, { recursive: true });
  stage1Image('nspawn', s1dir);
  mkdirSync(join(dirs.local, 'paths.d'), { recursive: true });
  writeFileSync(join(dirs.local, 'paths.d', 'paths.json'), JSON.stringify({ rktKind: 'paths', rktVersion: 'v1', 'stage1-images': s1dir }));
  mkdirSync(hostVol, { recursive: true });
  writeFileSync(join(hostVol, 'greeting'), 'hello from the host\n');
  buildAppAci(img('reader'), {
    name: 'example.com/reader',
    exec: ['/bin/busybox', 'sh', '-c', 'cat /host/greeting; echo x > /host/w 2>/dev/null && echo writable || echo read-only; exit 0'],
  });
  buildAppAci(img('ip'), { name: 'example.com/ip', exec: ['/bin/busybox', 'sh', '-c', '/bin/busybox ip -4 addr show eth0; /bin/busybox hostname'] });
  buildAppAci(img('failer'), { name: 'example.com/failer', exec: ['/bin/busybox', 'sh', '-c', '/bin/busybox sleep 0.3; exit 5'] });
  buildAppAci(img('sleeper'), {
    name: 'example.com/sleeper',
    exec: ['/bin/busybox', 'sleep', '600'],
    files: { 'etc/passwd': 'root:x:0:0::/:/bin/sh\nuser1:x:1000:1000::/:/bin/sh\n', 'etc/group': 'root:x:0:\nuser1:x:1000:\n' },
  });
});

after(() => tearDownPodTests(dirs, bg.map((c) => c.pid), { gc: Boolean(hasNspawn) }));

const rkt = (cmd: string, ...args: string[]) => run(rktBin, [cmd, ...dirs.args(), '--insecure-options=image', ...args], { env: dirs.env() });
const S1 = '--stage1-from-dir=stage1-nspawn.aci';

/** Everything a pod can leave on the host: mounts, processes, cgroups, nspawn's machine dirs. */
function leftovers(uuid: string): string[] {
  const out = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(uuid)).map((l) => `mount ${l.split(' ')[4]}`);
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes(uuid)) out.push(`process ${p} ${cmd.replace(/\0/g, ' ')}`);
    } catch {
      // gone
    }
  }
  for (const h of readdirSync('/sys/fs/cgroup')) if (existsSync(join('/sys/fs/cgroup', h, 'rkt', uuid))) out.push(`cgroup ${h}/rkt/${uuid}`);
  if (existsSync(`/var/run/netns/rkt-${uuid}`)) out.push('netns');
  for (const d of ['propagate', 'unix-export']) if (existsSync(join('/run/systemd/nspawn', d, `rkt-${uuid}`))) out.push(`nspawn ${d}`);
  return out;
}

function startSleeper(): Promise<DetachedPod> {
  const uuidFile = join(dirs.base, `sleeper-${bg.length}.uuid`);
  return startDetachedPod({
    bin: rktBin,
    args: ['run', ...dirs.args(), '--insecure-options=image', S1, '--net=host', `--uuid-file-save=${uuidFile}`, img('sleeper'), '--user=1000', '--group=1000'],
    env: dirs.env(),
    uuidFile,
    bg,
    // running once ppid is there and the supervisor has made rkt/supervisor-status -> ready
    ready: (uuid) => {
      const pod = join(dirs.data, 'pods', 'run', uuid);
      return existsSync(join(pod, 'ppid')) && lstatSync(join(pod, 'stage1', 'rootfs', 'rkt', 'supervisor-status'), { throwIfNoEntry: false })?.isSymbolicLink() === true;
    },
  });
}

test('nspawn: a multi-app pod exits with the first failing app status; read-only host volume; statuses recorded', { skip: !hasNspawn && 'systemd-nspawn is missing' }, () => {
  const uuidFile = join(dirs.base, 'multi.uuid');
  const r = rkt('run', S1, '--net=none', `--uuid-file-save=${uuidFile}`, `--volume=host,kind=host,source=${hostVol},readOnly=true`, img('reader'), '--mount=volume=host,target=/host', img('failer'));
  assert.equal(r.status, 5, r.stderr);
  assert.equal(r.stdout, 'hello from the host\nread-only\n');
  const uuid = readFileSync(uuidFile, 'utf8');
  const status = rkt('status', uuid);
  assert.match(status.stdout, /app-reader=0/);
  assert.match(status.stdout, /app-failer=5/);
  assert.ok(!existsSync(join(hostVol, 'w')));
});

test('nspawn: enter runs in the app (its user, its chroot, no extra capabilities); stop ends the pod; gc cleans up', { skip: !hasNspawn && 'systemd-nspawn is missing' }, async () => {
  const { uuid, exited } = await startSleeper();
  const e = rkt('enter', uuid, '/bin/busybox', 'sh', '-c', 'id -u; ls /; grep CapEff /proc/self/status');
  assert.equal(e.status, 0, e.stderr);
  const [id, ...rest] = e.stdout.trim().split('\n');
  assert.equal(id, '1000');
  assert.ok(rest.includes('bin') && !rest.includes('rkt-supervisor'), e.stdout);
  assert.match(e.stdout, /CapEff:\s*0000000000000000/);
  const stop = rkt('stop', uuid);
  assert.equal(stop.status, 0, stop.stderr);
  const x = await exited;
  assert.equal(x.code, 143);
  const gc = rkt('gc', '--grace-period=0s');
  assert.equal(gc.status, 0, gc.stderr);
  assert.deepEqual(leftovers(uuid), []);
});

test('nspawn: kill -9 of rkt run and nspawn: the pod turns exited and gc leaves no mounts, processes, cgroups or machine dirs', { skip: !hasNspawn && 'systemd-nspawn is missing' }, async () => {
  const { uuid, child, exited } = await startSleeper();
  process.kill(-child.pid!, 'SIGKILL');
  await exited;
  assert.match(await waitForExitedState(() => rkt('status', uuid).stdout), /^state=exited\n/);
  // The killed nspawn left its lock on the pod's rootfs; gc removes it.
  const st = statSync(join(dirs.data, 'pods', 'run', uuid, 'stage1', 'rootfs'));
  const lock = `/run/systemd/nspawn/locks/inode-${st.dev}:${st.ino}`;
  assert.ok(existsSync(lock), `the killed nspawn left ${lock}`);
  const gc = rkt('gc', '--grace-period=0s');
  assert.equal(gc.status, 0, gc.stderr);
  assert.match(gc.stdout, new RegExp(`Garbage collecting pod "${uuid}"`));
  assert.deepEqual(leftovers(uuid), []);
  assert.ok(!existsSync(lock), `${lock} is left`);
  assert.ok(!existsSync(join(dirs.data, 'pods', 'run', uuid)) && !existsSync(join(dirs.data, 'pods', 'exited-garbage', uuid)));
});

test('nspawn: --net=default joins the netns stage0 set up (eth0 with an address, hostname rkt-<uuid>); gc removes it', { skip: !hasNspawn && 'systemd-nspawn is missing' }, () => {
  // The host side of the pod network (veth, routes, masquerade rules) lives in a network
  // namespace this test makes, never in the machine's own.
  const hostNs = `rkt-test-nspawn-${process.pid}`;
  execFileSync('ip', ['netns', 'add', hostNs]);
  try {
    execFileSync('ip', ['-n', hostNs, 'link', 'set', 'lo', 'up']);
    const inHost = (cmd: string, ...args: string[]) =>
      run('nsenter', [`--net=/var/run/netns/${hostNs}`, rktBin, cmd, ...dirs.args(), '--insecure-options=image', ...args], { env: dirs.env() });
    const uuidFile = join(dirs.base, 'net.uuid');
    const r = inHost('run', S1, '--net=default', `--uuid-file-save=${uuidFile}`, img('ip'));
    assert.equal(r.status, 0, r.stderr);
    const uuid = readFileSync(uuidFile, 'utf8');
    assert.match(r.stdout, /inet \d+\.\d+\.\d+\.\d+\/\d+ .*eth0/);
    assert.match(r.stdout, new RegExp(`^rkt-${uuid}$`, 'm'));
    const gc = inHost('gc', '--grace-period=0s');
    assert.equal(gc.status, 0, gc.stderr);
    assert.deepEqual(leftovers(uuid), []);
    assert.deepEqual(execFileSync('ip', ['-n', hostNs, '-o', 'link'], { encoding: 'utf8' }).trim().split('\n').length, 1, 'only lo is left in the host netns');
  } finally {
    execFileSync('ip', ['netns', 'del', hostNs]);
  }
});

test('packagers: stage1.d makes nspawn the default flavor; --stage1-name then picks it per pod from the store', { skip: !hasNspawn && 'systemd-nspawn is missing' }, () => {
  const sys = join(dirs.base, 'system-nspawn-default');
  mkdirSync(join(sys, 'stage1.d'), { recursive: true });
  writeFileSync(
    join(sys, 'stage1.d', 'stage1.json'),
    JSON.stringify({ rktKind: 'stage1', rktVersion: 'v1', name: 'coreos.com/rkt/stage1-nspawn', version: '1.30.0', location: join(s1dir, 'stage1-nspawn.aci') }),
  );
  const args = [`--dir=${dirs.data}`, `--system-config=${sys}`, `--local-config=${dirs.local}`, '--insecure-options=image'];
  const pid1 = ['--exec=/bin/busybox', '--', 'sh', '-c', 'cat /proc/1/cmdline; echo'];
  const byDefault = run(rktBin, ['run', ...args, '--net=host', img('ip'), ...pid1], { env: dirs.env() });
  assert.equal(byDefault.status, 0, byDefault.stderr);
  assert.match(byDefault.stdout, /^\/rkt-supervisor\0run\0/);
  const byName = rkt('run', '--stage1-name=coreos.com/rkt/stage1-nspawn:1.30.0', '--net=host', img('ip'), ...pid1);
  assert.equal(byName.status, 0, byName.stderr);
  assert.match(byName.stdout, /^\/rkt-supervisor\0run\0/);
});

test('nspawn: --interactive passes stdin through to the app (a pipe here, so no terminal)', { skip: !hasNspawn && 'systemd-nspawn is missing' }, () => {
  const r = run(rktBin, ['run', ...dirs.args(), '--insecure-options=image', S1, '--net=host', '--interactive', img('ip'), '--exec=/bin/busybox', '--', 'sh', '-c', 'cat; tty || true'], {
    env: dirs.env(),
    input: 'hello through stdin\n',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'hello through stdin\nnot a tty\n');
});
