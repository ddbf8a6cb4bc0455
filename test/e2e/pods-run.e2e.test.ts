/**
 * rkt run / prepare / run-prepared / stop / rm / gc / enter / export against a test stage1 (see
 * pods-lib.ts) and busybox app images: the stage0 side of the stage1 contract, exit codes,
 * environment precedence, overlay and copy layouts, races, kill -9, and bad input leaving nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rktBin, rktDirs, run } from '../lib/cli.js';
import { buildAppAci, buildFakeStage1Aci, tearDownPodTests } from './pods-lib.js';

const dirs = rktDirs('rkt-podrun-');
const s1dir = join(dirs.base, 'stage1-images');
const img = (n: string) => join(dirs.base, `${n}.aci`);
const bg: ChildProcess[] = [];

before(() => {
  mkdirSync(s1dir, { recursive: true });
  buildFakeStage1Aci(join(s1dir, 'stage1-test.aci'));
  buildFakeStage1Aci(join(s1dir, 'stage1-old.aci'), { name: 'example.com/stage1-old', interfaceVersion: '' });
  mkdirSync(join(dirs.local, 'paths.d'), { recursive: true });
  mkdirSync(join(dirs.local, 'stage1.d'), { recursive: true });
  writeFileSync(join(dirs.local, 'paths.d', 'paths.json'), JSON.stringify({ rktKind: 'paths', rktVersion: 'v1', 'stage1-images': s1dir }));
  writeFileSync(join(dirs.local, 'stage1.d', 'stage1.json'), JSON.stringify({ rktKind: 'stage1', rktVersion: 'v1', name: 'coreos.com/rkt/stage1-test', version: '1.30.0' }));
  buildAppAci(img('env'), {
    name: 'example.com/env',
    version: '1.0',
    exec: ['/bin/busybox', 'sh', '-c', 'echo "IMG=$IMG FILE=$FILE SET=$SET APP=$APP INH=$INH NAME=$AC_APP_NAME PWD=$(pwd)"; exit 3'],
    env: { IMG: 'image', FILE: 'image', SET: 'image', APP: 'image' },
    workingDirectory: '/tmp',
  });
  buildAppAci(img('sleeper'), { name: 'example.com/sleeper', exec: ['/bin/busybox', 'sleep', '600'] });
  buildAppAci(img('noapp'), { name: 'example.com/noapp', noApp: true });
  buildAppAci(img('noarch'), { name: 'example.com/noarch', labels: { os: 'linux' } });
});

after(() => tearDownPodTests(dirs, bg.map((c) => c.pid), { gc: false }));

const G = () => [...dirs.args(), '--insecure-options=image'];
const rkt = (cmd: string, ...args: string[]) => run(rktBin, [cmd, ...G(), ...args], { env: dirs.env({ INH: 'inherited', IMG: 'inherited' }) });
/** run and run-prepared default to --net=host here (the test stage1 does not join a pod netns). */
const rktRun = (cmd: 'run' | 'run-prepared', ...args: string[]) => rkt(cmd, ...(args.some((a) => a.startsWith('--net')) ? [] : ['--net=host']), ...args);
const pods = (state: string) => {
  try {
    return readdirSync(join(dirs.data, 'pods', state));
  } catch {
    return [];
  }
};
const mountsUnder = (p: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => (l.split(' ')[4] ?? '').startsWith(p)).length;

test('rkt run: exit status of the app, environment precedence, the stage1 run contract, the pod layout', () => {
  const envFile = join(dirs.base, 'env.txt');
  writeFileSync(envFile, '# set by file\nFILE=file\nSET=file\n');
  const uuidFile = join(dirs.base, 'run.uuid');
  const r = rkt('run', '--net=none', `--uuid-file-save=${uuidFile}`, '--inherit-env', `--set-env-file=${envFile}`, '--set-env=SET=set', '--hostname=pod1', img('env'), '--environment=APP=app');
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stdout, 'IMG=image FILE=file SET=set APP=app INH=inherited NAME=env PWD=/tmp\n');
  const uuid = readFileSync(uuidFile, 'utf8');
  assert.match(uuid, /^[0-9a-f-]{36}$/, 'UUID saved without a newline');
  const pod = join(dirs.data, 'pods', 'run', uuid);
  const inv = JSON.parse(readFileSync(join(pod, 'stage1-invocation.json'), 'utf8'));
  assert.equal(inv.argv0, join(pod, 'stage1', 'rootfs', 's1-run'));
  assert.deepEqual(inv.args, ['--net=none', `--local-config=${dirs.local}`, '--hostname=pod1', uuid]);
  assert.equal(inv.cwd, pod);
  assert.equal(inv.lockFd, '3');
  assert.equal(inv.fdIsPod, true, 'fd 3 is the pod directory');
  assert.equal(inv.lockHeld, true, 'and holds the exclusive flock');
  for (const f of ['pod', 'pod-created', 'pod.lck', 'stage1TreeStoreID', 'overlay-prepared', 'appsinfo/env/manifest', 'appsinfo/env/treeStoreID', 'stage1/manifest', 'stage1/rootfs/opt/stage2/env/manifest'])
    assert.ok(existsSync(join(pod, f)), f);
  assert.equal(lstatSync(join(pod, 'pod')).mode & 0o777, 0o640);
  assert.equal(readlinkSync(join(pod, 'stage1/rootfs/opt/stage2/env/rootfs/etc/mtab')), '../proc/self/mounts');
  assert.equal(readFileSync(join(pod, 'stage1TreeStoreID'), 'utf8'), readdirSync(join(pod, 'overlay')).find((d) => existsSync(join(pod, 'overlay', d, 'upper', 'rkt')))!);
  assert.equal(mountsUnder(pod), 2, 'stage1 rootfs and the app rootfs are overlay mounts');
  const status = rkt('status', uuid);
  assert.match(status.stdout, /^state=exited\n[\s\S]*exited=true\napp-env=3\n$/);
  const list = rkt('list', '--no-legend');
  assert.match(list.stdout, new RegExp(`^${uuid.slice(0, 8)}\\tenv\\texample\\.com/env:1\\.0\\texited\\t`, 'm'));
  // rm --uuid-file: stage1 gc ran in the pod dir, mounts and dir gone
  const rm = rkt('rm', `--uuid-file=${uuidFile}`);
  assert.equal(rm.status, 0, rm.stderr);
  assert.equal(rm.stdout, `"${uuid}"\n`);
  assert.equal(mountsUnder(pod), 0);
  assert.ok(!existsSync(pod) && !existsSync(join(dirs.data, 'pods', 'exited-garbage', uuid)));
  const gcLog = readFileSync(join(dirs.data, 'stage1-gc.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(gcLog.at(-1), { args: ['--local-config', dirs.local, uuid], cwd: join(dirs.data, 'pods', 'exited-garbage', uuid), uuid });
});

test('rkt run: per-app args after --, --exec, two apps, the first failing app decides, --no-overlay copies', () => {
  const r = rkt('run', '--no-overlay', '--net=host', img('env'), '--name=first', '--exec=/bin/busybox', '--', 'sh', '-c', 'echo one $AC_APP_NAME; exit 0', '---', img('env'), '--name=second', '--exec=/bin/busybox', '--', 'sh', '-c', 'echo two; exit 5');
  assert.equal(r.status, 5, r.stderr);
  assert.equal(r.stdout, 'one first\ntwo\n');
  const uuid = pods('run').find((u) => readFileSync(join(dirs.data, 'pods', 'run', u, 'pod'), 'utf8').includes('"second"'))!;
  const pod = join(dirs.data, 'pods', 'run', uuid);
  assert.ok(!existsSync(join(pod, 'overlay-prepared')));
  assert.ok(!existsSync(join(pod, 'appsinfo', 'first', 'treeStoreID')));
  assert.ok(existsSync(join(pod, 'stage1/rootfs/opt/stage2/first/rootfs/bin/busybox')), 'the app tree is a copy');
  assert.ok(existsSync(join(pod, 'stage1/rootfs/s1-run')), 'the stage1 tree is a copy');
  assert.equal(mountsUnder(pod), 0);
  assert.match(rkt('status', uuid).stdout, /app-first=0\napp-second=5\n$/);
  const inv = JSON.parse(readFileSync(join(pod, 'stage1-invocation.json'), 'utf8'));
  assert.equal(inv.args[0], '--net=host');
});

test('bad input fails with exit 254 naming the flag and leaves no pod behind', () => {
  const before = ['prepare', 'prepared', 'run', 'garbage', 'embryo'].map((d) => pods(d).length);
  const uuidFile = join(dirs.base, 'bad.uuid');
  const cases: Array<[string[], RegExp]> = [
    [['--net=nosuchnet,othernet', img('env')], /networks not found: nosuchnet, othernet/],
    [['--volume=data,kind=host', img('env')], /invalid value in --volume flag "data,kind=host"/],
    [[img('env'), '--mount=volume=nope,target=/x'], /no --volume named "nope"/],
    [[img('noapp')], /has no app section and --exec argument is not provided/],
    [[img('noarch')], /missing arch label in the image manifest/],
    [[img('env'), img('env')], /multiple apps with name env/],
    [['--interactive', img('env'), img('sleeper')], /interactive option only supports one image/],
    [[join(dirs.base, 'missing.aci')], /missing\.aci/],
    [['--stage1-from-dir=stage1-test.aci', '--stage1-hash=sha512-00', img('env')], /mutually exclusive/],
    [['--stage1-from-dir=nope.aci', img('env')], /nope\.aci does not exist/],
    [['--mds-register', img('env')], /--mds-register: the metadata service is not reachable at .*rkt metadata-service/],
    [[img('env'), '--memory=1k'], /memory limit of 1000 bytes too low/],
    [[], /must provide at least one image or specify the pod manifest/],
    [['--net=default:IP', img('env')], /--net=default:IP: argument "IP" must be KEY=VALUE/],
  ];
  for (const [args, re] of cases) {
    const r = rktRun('run', `--uuid-file-save=${uuidFile}`, ...args);
    assert.equal(r.status, 254, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^run: /);
    assert.match(r.stderr, re, args.join(' '));
    assert.ok(!existsSync(uuidFile), `no uuid file after ${args.join(' ')}`);
  }
  assert.deepEqual(['prepare', 'prepared', 'run', 'garbage', 'embryo'].map((d) => pods(d).length), before);
});

test('rkt prepare prints the UUID; run-prepared runs it once; prepare has no --net', () => {
  const p = rkt('prepare', img('env'), '--exec=/bin/busybox', '--', 'sh', '-c', 'echo prepared; exit 4');
  assert.equal(p.status, 0, p.stderr);
  const uuid = p.stdout.trim();
  assert.match(p.stdout, /^[0-9a-f-]{36}\n$/);
  assert.match(rkt('status', uuid).stdout, /^state=prepared\ncreated=/);
  assert.equal(mountsUnder(join(dirs.data, 'pods', 'prepared', uuid)), 0, 'overlay is mounted only at run time');
  const r = rktRun('run-prepared', '--net=none', uuid.slice(0, 13));
  assert.equal(r.status, 4, r.stderr);
  assert.equal(r.stdout, 'prepared\n');
  const inv = JSON.parse(readFileSync(join(dirs.data, 'pods', 'run', uuid, 'stage1-invocation.json'), 'utf8'));
  assert.deepEqual(inv.args, ['--net=none', uuid], 'run-prepared does not pass --local-config, as rkt');
  const again = rktRun('run-prepared', uuid);
  assert.equal(again.status, 254);
  assert.equal(again.stderr, `run-prepared: pod "${uuid}" is not prepared\n`);
  assert.match(rkt('prepare', '--net=host', img('env')).stderr, /unknown flag: --net/);
});

test('stage1 selection: --stage1-from-dir, --stage1-hash, and the interface-version gates', () => {
  const r = rktRun('run', '--stage1-from-dir=stage1-old.aci', '--hostname=h', '--dns=8.8.8.8', img('env'), '--exec=/bin/busybox', '--', 'true');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /warning: --hostname option is not supported by stage1/);
  assert.match(r.stderr, /warning: --dns-conf-mode option not supported by stage1/);
  const uuid = pods('run').find((u) => readFileSync(join(dirs.data, 'pods', 'run', u, 'stage1', 'manifest'), 'utf8').includes('stage1-old'))!;
  const pod = join(dirs.data, 'pods', 'run', uuid);
  assert.deepEqual(JSON.parse(readFileSync(join(pod, 'stage1-invocation.json'), 'utf8')).args, ['--net=host', `--local-config=${dirs.local}`, uuid]);
  assert.equal(readFileSync(join(pod, 'stage1/rootfs/etc/rkt-resolv.conf'), 'utf8'), '# Generated by rkt run\nnameserver 8.8.8.8\n');
  const id = run(rktBin, ['image', 'list', ...G(), '--no-legend', '--full', '--fields=id,name'], { env: dirs.env() })
    .stdout.split('\n')
    .find((l) => l.includes('stage1-old'))!
    .split(/\s+/)[0]!;
  const byHash = rktRun('run', `--stage1-hash=${id.slice(0, 20)}`, img('env'), '--exec=/bin/busybox', '--', 'true');
  assert.equal(byHash.status, 0, byHash.stderr);
});

test('the default stage1 file is re-imported when rebuilt, and only then (not a stale store copy of the same version)', () => {
  const stage1Ids = () =>
    run(rktBin, ['image', 'list', ...G(), '--no-legend', '--full', '--fields=id,name'], { env: dirs.env() })
      .stdout.split('\n')
      .filter((l) => l.includes('coreos.com/rkt/stage1-test'))
      .map((l) => l.split(/\s+/)[0]!)
      .sort();
  const podStage1 = (out: string) => readFileSync(join(dirs.data, 'pods', 'run', out, 'stage1', 'rootfs', 'build-marker'), 'utf8');
  const file = join(s1dir, 'stage1-test.aci');
  const original = readFileSync(file);
  try {
    const runOnce = () => {
      const uuidFile = join(dirs.base, `s1-rebuild-${Math.random().toString(36).slice(2)}.uuid`);
      const r = rktRun('run', `--uuid-file-save=${uuidFile}`, img('env'), '--exec=/bin/busybox', '--', 'true');
      assert.equal(r.status, 0, r.stderr);
      return readFileSync(uuidFile, 'utf8');
    };
    buildFakeStage1Aci(file, { marker: 'build one' });
    assert.equal(podStage1(runOnce()), 'build one');
    const afterFirst = stage1Ids();
    assert.equal(podStage1(runOnce()), 'build one');
    assert.deepEqual(stage1Ids(), afterFirst, 'an unchanged file is not imported again');
    buildFakeStage1Aci(file, { marker: 'build two' });
    assert.equal(podStage1(runOnce()), 'build two', 'the rebuilt stage1 runs, not the stored one of the same version');
    assert.equal(stage1Ids().length, afterFirst.length + 1);
  } finally {
    writeFileSync(file, original);
  }
});

function startSleeper(extra: string[] = []): { child: ChildProcess; uuidFile: string; exited: Promise<{ code: number | null; signal: string | null }> } {
  const uuidFile = join(dirs.base, `sleeper-${bg.length}.uuid`);
  const child = spawn(rktBin, ['run', ...G(), '--net=host', `--uuid-file-save=${uuidFile}`, ...extra, img('sleeper')], { env: dirs.env(), stdio: 'ignore', detached: true });
  bg.push(child);
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, uuidFile, exited };
}

async function waitRunning(uuidFile: string): Promise<string> {
  for (let i = 0; i < 300; i++) {
    if (existsSync(uuidFile)) {
      const uuid = readFileSync(uuidFile, 'utf8');
      if (existsSync(join(dirs.data, 'pods', 'run', uuid, 'pid'))) return uuid;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('pod did not start');
}

test('rkt stop then rkt rm at once does not race (rkt #3449); enter runs in a running pod', async () => {
  const { uuidFile, exited } = startSleeper();
  const uuid = await waitRunning(uuidFile);
  assert.match(rkt('status', uuid).stdout, /^state=running\n/);
  const enter = rkt('enter', uuid, '/bin/busybox', 'sh', '-c', 'echo entered $ENTERED_PID');
  assert.equal(enter.status, 0, enter.stderr);
  assert.match(enter.stdout, /^entered \d+\n$/);
  const rmRunning = rkt('rm', uuid);
  assert.equal(rmRunning.status, 254);
  assert.match(rmRunning.stderr, /is currently running/);
  const stop = rkt('stop', uuid);
  assert.equal(stop.status, 0, stop.stderr);
  assert.equal(stop.stdout, `"${uuid}"\n`);
  const rm = rkt('rm', uuid);
  assert.equal(rm.status, 0, rm.stderr);
  assert.equal(rm.stdout, `"${uuid}"\n`);
  assert.equal((await exited).code, 143, 'rkt run exits with the app status after SIGTERM');
  assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(uuid), false, 'no mount of the pod is left');
});

test('kill -9 of the stage1 process tree: the kernel drops the lock, the pod is exited, gc cleans up', async () => {
  const { uuidFile, exited } = startSleeper();
  const uuid = await waitRunning(uuidFile);
  const pod = join(dirs.data, 'pods', 'run', uuid);
  const stage1Pid = Number(readFileSync(join(pod, 'pid'), 'utf8'));
  const children = readFileSync(`/proc/${stage1Pid}/task/${stage1Pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  process.kill(stage1Pid, 'SIGKILL');
  for (const c of children) process.kill(c, 'SIGKILL');
  const e = await exited;
  assert.equal(e.signal, 'SIGKILL', 'rkt run dies like its stage1');
  assert.match(rkt('status', uuid).stdout, /^state=exited\n/);
  const gc = rkt('gc', '--grace-period=0s');
  assert.equal(gc.status, 0, gc.stderr);
  assert.match(gc.stdout, new RegExp(`Garbage collecting pod "${uuid}"`));
  assert.ok(!existsSync(pod) && !existsSync(join(dirs.data, 'pods', 'exited-garbage', uuid)));
  assert.equal(mountsUnder(join(dirs.data, 'pods')), 0);
});

test('rkt run --pod-manifest: conflicts, then a run from a saved manifest; rkt export of the exited app', () => {
  const p = rkt('prepare', img('env'), '--exec=/bin/busybox', '--', 'sh', '-c', 'echo from-manifest > /tmp/out.txt', '---');
  const uuid = p.stdout.trim();
  const manifestFile = join(dirs.base, 'pod.json');
  writeFileSync(manifestFile, rkt('cat-manifest', uuid).stdout);
  rkt('rm', uuid);
  const conflict = rktRun('run', `--pod-manifest=${manifestFile}`, '--set-env=A=b');
  assert.equal(conflict.status, 254);
  assert.match(conflict.stderr, /conflicting flags set with --pod-manifest \(--set-env\)/);
  const uuidFile = join(dirs.base, 'pm.uuid');
  const r = rktRun('run', `--pod-manifest=${manifestFile}`, `--uuid-file-save=${uuidFile}`);
  assert.equal(r.status, 0, r.stderr);
  const runUuid = readFileSync(uuidFile, 'utf8');
  const out = join(dirs.base, 'exported.aci');
  const ex = rkt('export', runUuid, out);
  assert.equal(ex.status, 0, ex.stderr);
  const listing = execFileSync('tar', ['-tzf', out], { encoding: 'utf8' }).split('\n');
  assert.ok(listing.includes('manifest') && listing.includes('rootfs/bin/busybox') && listing.includes('rootfs/tmp/out.txt'));
  assert.equal(execFileSync('tar', ['-xzOf', out, 'rootfs/tmp/out.txt'], { encoding: 'utf8' }), 'from-manifest\n');
  const again = rkt('export', runUuid, out);
  assert.equal(again.status, 254);
  assert.match(again.stderr, /exists \(try --overwrite\)/);
  assert.equal(rkt('export', '--overwrite', runUuid, out).status, 0);
  assert.match(rkt('export', runUuid, join(dirs.base, 'x.tar')).stderr, /extension must be \.aci/);
});
