/**
 * Real `rkt run` on the fly, native and nspawn stage1 flavors (stage1-flavors/*), with busybox images:
 * exit codes, environment precedence, volumes, stop-then-rm, kill -9 of the pod's process tree
 * then gc. The stage1 images are built with each flavor's build-image script into a temp dir
 * named by paths.d `stage1-images`.
 */
import { stage1Image } from '../lib/images.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, rktBin, rktDirs, run } from '../lib/cli.js';
import { buildAppAci, type DetachedPod, startDetachedPod, tearDownPodTests, waitForExitedState } from './pods-lib.js';

const dirs = rktDirs('rkt-flavors-');
const s1dir = join(dirs.base, 'stage1-images');
const img = (n: string) => join(dirs.base, `${n}.aci`);
const hostVol = join(dirs.base, 'hostvol');
const bg: ChildProcess[] = [];
const strays: number[] = [];

before(() => {
  mkdirSync(s1dir, { recursive: true });
  for (const f of ['fly', 'native', 'nspawn']) stage1Image(f, s1dir);
  mkdirSync(join(dirs.local, 'paths.d'), { recursive: true });
  writeFileSync(join(dirs.local, 'paths.d', 'paths.json'), JSON.stringify({ rktKind: 'paths', rktVersion: 'v1', 'stage1-images': s1dir }));
  mkdirSync(hostVol, { recursive: true });
  writeFileSync(join(hostVol, 'greeting'), 'hello from the host\n');
  buildAppAci(img('app'), {
    name: 'example.com/app',
    version: '1.0',
    exec: ['/bin/busybox', 'sh', '-c', 'echo "IMG=$IMG FILE=$FILE SET=$SET APP=$APP NAME=$AC_APP_NAME PWD=$(pwd)"; cat /host/greeting; echo scratch > /scratch/f && cat /scratch/f; exit 3'],
    env: { IMG: 'image', FILE: 'image', SET: 'image', APP: 'image' },
    workingDirectory: '/tmp',
  });
  buildAppAci(img('sleeper'), { name: 'example.com/sleeper', exec: ['/bin/busybox', 'sleep', '600'] });
});

after(() => tearDownPodTests(dirs, [...bg.map((c) => c.pid), ...strays]));

const rkt = (cmd: string, ...args: string[]) => run(rktBin, [cmd, ...dirs.args(), '--insecure-options=image', ...args], { env: dirs.env() });
const mountsOf = (uuid: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(uuid)).length;

function startSleeper(flavor: string): Promise<DetachedPod> {
  const uuidFile = join(dirs.base, `${flavor}-${bg.length}.uuid`);
  return startDetachedPod({
    bin: rktBin,
    args: ['run', ...dirs.args(), '--insecure-options=image', `--stage1-from-dir=stage1-${flavor}.aci`, '--net=host', `--uuid-file-save=${uuidFile}`, img('sleeper')],
    env: dirs.env(),
    uuidFile,
    bg,
    ready: (uuid) =>
      rkt('status', uuid).stdout.startsWith('state=running') && (existsSync(join(dirs.data, 'pods', 'run', uuid, 'pid')) || existsSync(join(dirs.data, 'pods', 'run', uuid, 'ppid'))),
  });
}

for (const flavor of ['fly', 'native', 'nspawn']) {
  test(`${flavor}: rkt run exits with the app status; env precedence; host and empty volumes`, () => {
    const envFile = join(dirs.base, 'env.txt');
    writeFileSync(envFile, 'FILE=file\nSET=file\n');
    const r = rkt(
      'run',
      `--stage1-from-dir=stage1-${flavor}.aci`,
      '--net=host',
      `--set-env-file=${envFile}`,
      '--set-env=SET=set',
      `--volume=host,kind=host,source=${hostVol},readOnly=true`,
      '--volume=scratch,kind=empty',
      img('app'),
      '--environment=APP=app',
      '--mount=volume=host,target=/host',
      '--mount=volume=scratch,target=/scratch',
    );
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stdout, 'IMG=image FILE=file SET=set APP=app NAME=app PWD=/tmp\nhello from the host\nscratch\n');
  });

  test(`${flavor}: stop then rm right away succeed (no race, rkt #3449)`, async () => {
    const { uuid, exited } = await startSleeper(flavor);
    const stop = rkt('stop', uuid);
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal(stop.stdout, `"${uuid}"\n`);
    const rm = rkt('rm', uuid);
    assert.equal(rm.status, 0, rm.stderr);
    assert.equal(rm.stdout, `"${uuid}"\n`);
    await exited;
    assert.equal(mountsOf(uuid), 0);
    assert.ok(!existsSync(join(dirs.data, 'pods', 'run', uuid)) && !existsSync(join(dirs.data, 'pods', 'exited-garbage', uuid)));
  });

  test(`${flavor}: kill -9 of rkt run and its stage1: the pod turns exited and gc removes it and its mounts`, async () => {
    const { uuid, child, exited } = await startSleeper(flavor);
    const pod = join(dirs.data, 'pods', 'run', uuid);
    // fly runs the app in its own process group (pgid file); remember it to clean up
    if (existsSync(join(pod, 'pgid'))) strays.push(Number(readFileSync(join(pod, 'pgid'), 'utf8')));
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    assert.match(await waitForExitedState(() => rkt('status', uuid).stdout), /^state=exited\n/);
    const gc = rkt('gc', '--grace-period=0s');
    assert.equal(gc.status, 0, gc.stderr);
    assert.match(gc.stdout, new RegExp(`Garbage collecting pod "${uuid}"`));
    assert.equal(mountsOf(uuid), 0);
    assert.ok(!existsSync(pod) && !existsSync(join(dirs.data, 'pods', 'exited-garbage', uuid)));
  });
}

test('without --stage1-* and without stage1.d, the default flavor is native (stage1-native.aci)', () => {
  const r = rkt('run', '--net=none', img('app'), '--exec=/bin/busybox', '--', 'cat', '/proc/1/comm');
  assert.equal(r.status, 0, r.stderr);
  const list = rkt('list', '--no-legend', '--full');
  assert.ok(list.stdout.length > 0);
  const images = run(rktBin, ['image', 'list', ...dirs.args(), '--no-legend', '--fields=name'], { env: dirs.env() }).stdout;
  assert.match(images, /coreos\.com\/rkt\/stage1-native:1\.30\.0/);
});

test('fly: a contained --net is not set up (rkt fly runs in the host network): a warning, no netns, no CNI', () => {
  // Run inside a network namespace made by the test, so that a regression could never touch the
  // machine's own network.
  const hostNs = `rkt-test-fly-${process.pid}`;
  execFileSync('ip', ['netns', 'add', hostNs]);
  try {
    execFileSync('ip', ['-n', hostNs, 'link', 'set', 'lo', 'up']);
    const uuidFile = join(dirs.base, 'fly-net.uuid');
    const r = run(
      'nsenter',
      [`--net=/var/run/netns/${hostNs}`, rktBin, 'run', ...dirs.args(), '--insecure-options=image', '--stage1-from-dir=stage1-fly.aci', '--net=default', `--uuid-file-save=${uuidFile}`, img('app'), '--exec=/bin/busybox', '--', 'ip', '-o', 'link'],
      { env: dirs.env() },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /the coreos\.com\/rkt\/stage1-fly stage1 runs pods in the host's network: --net=default is not set up/);
    const uuid = readFileSync(uuidFile, 'utf8');
    assert.ok(!existsSync(join(dirs.data, 'pods', 'run', uuid, 'netns')), 'no pod netns recorded');
    assert.ok(!existsSync(`/var/run/netns/rkt-${uuid}`), 'no pod netns made');
    assert.equal(r.stdout.trim().split('\n').length, 1, `the app sees the (test's) host network with only lo: ${r.stdout}`);
    assert.equal(execFileSync('ip', ['-n', hostNs, '-o', 'link'], { encoding: 'utf8' }).trim().split('\n').length, 1, 'no veth was made');
  } finally {
    execFileSync('ip', ['netns', 'del', hostNs]);
  }
});
