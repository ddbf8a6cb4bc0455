/**
 * Native-flavor behaviour beyond the conformance suite (which covers capabilities, memory limits,
 * seccomp, no_new_privs and enter's isolation for native and nspawn alike): namespaces shared by
 * several apps, /proc masking, networking modes, crash recovery (kill -9 of the supervisor, then
 * gc), pod-level isolators.
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TestPod, childrenOf, extractAci, processesUnder, waitFor, withTimeout, type TestApp, type TestPodSpec } from '@rkt/testkit';
import type { App } from '@rkt/api';
import { NativeStage1 } from '../src/index.js';
import { hostHierarchies } from '../src/common/cgroups.js';
import { nativeLeftovers } from './helpers.js';

const sh = (script: string, extra: Partial<App> = {}): App => ({ exec: ['/bin/sh', '-c', script], user: '0', group: '0', ...extra });

describe('stage1 native', { concurrency: false }, () => {
  let work: string;
  let tree: string;
  const pods: TestPod[] = [];
  const newPod = (spec: TestPodSpec) => {
    const p = new TestPod(work, tree, spec);
    pods.push(p);
    return p;
  };
  const one = (app: App, extra: Partial<TestApp> = {}) => newPod({ apps: [{ name: 'app', app, ...extra }] });

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-native-'));
    const aci = await new NativeStage1({ runtime: 'runc' }).buildImage(work);
    tree = path.join(work, 'tree');
    extractAci(aci, tree);
  });
  afterEach(async () => {
    while (pods.length) await pods.pop()!.destroy();
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it('masks /proc and /sys paths unless --disable-paths', async () => {
    const r = await one(sh('grep -E " /proc/(timer_list|sys) " /proc/self/mounts')).run(['--net=host']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, / \/proc\/timer_list /, '/proc/timer_list is masked');
    const open = await one(sh('grep -E " /(proc/timer_list|proc/sys|sys) " /proc/self/mounts')).run(['--net=host', '--disable-paths']);
    assert.equal(open.code, 0, open.stderr);
    assert.doesNotMatch(open.stdout, /\/proc\/(timer_list|sys) /);
    assert.match(open.stdout, / \/sys sysfs rw,/);
  });

  it('runs several apps in shared pid/ipc/uts/net namespaces; the first failure decides the exit status', async () => {
    const host = fs.mkdtempSync(path.join(work, 'share-'));
    const mp = { mountPoints: [{ name: 'v', path: '/v' }] };
    const pod = newPod({
      apps: [
        { name: 'long', app: sh('for n in pid ipc uts net; do readlink /proc/self/ns/$n; done > /v/long; hostname > /v/long-host; exec sleep 600', mp) },
        {
          name: 'checker',
          app: sh('while [ ! -s /v/long-host ]; do sleep 0.1; done; for n in pid ipc uts net; do readlink /proc/self/ns/$n; done > /v/checker; hostname > /v/checker-host; ps -o comm | grep -c "^sleep$" > /v/seen; readlink /proc/self/ns/mnt > /v/checker-mnt; exit 3', mp),
        },
      ],
      volumes: [{ name: 'v', kind: 'host', source: host }],
    });
    const r = await pod.run(['--net=host', '--hostname=podhost']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(pod.status('checker'), '3');
    assert.equal(pod.status('long'), String(128 + 15), 'the other app is stopped with SIGTERM');
    assert.equal(fs.readFileSync(path.join(host, 'long'), 'utf8'), fs.readFileSync(path.join(host, 'checker'), 'utf8'));
    assert.equal(fs.readFileSync(path.join(host, 'checker-host'), 'utf8').trim(), 'podhost');
    assert.equal(fs.readFileSync(path.join(host, 'seen'), 'utf8').trim(), '1', "the sleeping app is visible in the checker's pid namespace");
    assert.notEqual(fs.readFileSync(path.join(host, 'checker-mnt'), 'utf8').trim(), fs.readlinkSync('/proc/self/ns/mnt'));
    const hostNet = fs.readlinkSync('/proc/self/ns/net');
    assert.ok(fs.readFileSync(path.join(host, 'long'), 'utf8').split('\n').length >= 4, fs.readFileSync(path.join(host, 'long'), 'utf8'));
    assert.ok(fs.readFileSync(path.join(host, 'long'), 'utf8').includes(hostNet), '--net=host shares the host network namespace');
    assert.notEqual(fs.readFileSync(path.join(host, 'long'), 'utf8').split('\n')[0], fs.readlinkSync('/proc/self/ns/pid'));
  });

  it('--net=none gives a namespace with only lo, up; a contained net joins the netns named by $pod/netns, and is refused clearly without it', async () => {
    const r = await one(sh('cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "; ip link show lo | head -1')).run(['--net=none']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], 'lo');
    assert.match(lines[1]!, /UP/);
    const d = await one(sh('true')).run(['--net=default']);
    assert.equal(d.code, 254);
    assert.match(d.stderr, /^stage1: failed to setup network: --net=default needs the pod's network namespace/m);
    // What stage0 leaves for a contained pod: a named netns (here a test-made one, marked by an
    // extra address on its lo) and its path in $pod/netns.
    const ns = `rkt-s1test-${process.pid}`;
    spawnSync('ip', ['netns', 'add', ns]);
    try {
      spawnSync('ip', ['-n', ns, 'addr', 'add', '127.9.9.9/8', 'dev', 'lo']);
      const pod = one(sh('cat /proc/net/fib_trie | grep -c 127.9.9.9 || true'));
      fs.writeFileSync(path.join(pod.dir, 'netns'), `/var/run/netns/${ns}\n`);
      const c = await pod.run(['--net=default']);
      assert.equal(c.code, 0, c.stderr);
      assert.notEqual(c.stdout.trim(), '0', 'the app runs in the pod netns');
    } finally {
      spawnSync('ip', ['netns', 'del', ns]);
    }
  });

  it('after kill -9 of the supervisor, the pod exits and gc cleans up everything', async () => {
    const pod = one(sh('echo up; exec sleep 600', { isolators: [{ name: 'resource/memory', value: { limit: '100Mi' } }] }));
    const running = pod.start(['--net=none']);
    await waitFor(() => running.stdout().includes('up') || (running.child.exitCode !== null ? assert.fail(running.stderr()) : false), 20000, 'app start');
    const ppid = pod.readPid('ppid')!;
    const [sup] = childrenOf(ppid);
    assert.ok(sup, 'the supervisor is the single child of ppid');
    assert.ok(fs.readFileSync(`/proc/${sup}/cmdline`, 'utf8').includes('rkt-supervisor'));
    assert.ok(nativeLeftovers(pod.uuid, pod.dir).length > 0, 'the pod has cgroups while running');
    process.kill(sup!, 'SIGKILL');
    const r = await withTimeout(running.done, 20000, 'pod exit');
    // util-linux 2.38 unshare cannot re-raise SIGKILL on itself and exits 1 instead of 137.
    assert.notEqual(r.code, 0);
    assert.equal(pod.locked(), false);
    const g = await pod.gc(true);
    assert.equal(g.code, 0, g.stderr);
    assert.deepEqual(nativeLeftovers(pod.uuid, pod.dir), []);
    assert.deepEqual(processesUnder(pod.dir), []);
  });

  it('SIGTERM to the run process (as stage0 relays it) stops the apps gracefully', async () => {
    const pod = one(sh('trap "echo got-term; exit 42" TERM; echo up; while true; do sleep 0.2; done'));
    const running = pod.start(['--net=host']);
    await waitFor(() => running.stdout().includes('up') || (running.child.exitCode !== null ? assert.fail(running.stderr()) : false), 20000, 'app start');
    running.child.kill('SIGTERM');
    const r = await withTimeout(running.done, 20000, 'pod exit');
    assert.match(r.stdout, /got-term/);
    assert.equal(r.code, 42, r.stderr);
    assert.equal(pod.status('app'), '42');
  });

  it('writes pod-level isolators on the pod cgroup', async () => {
    const mem = hostHierarchies().find((h) => h.version === 1 && h.controllers.includes('memory'));
    const pod = newPod({ apps: [{ name: 'app', app: sh('echo up; exec sleep 600') }], isolators: [{ name: 'resource/memory', value: { limit: '96Mi' } }] });
    const running = pod.start(['--net=host']);
    await waitFor(() => running.stdout().includes('up') || (running.child.exitCode !== null ? assert.fail(running.stderr()) : false), 20000, 'app start');
    if (mem) {
      assert.equal(fs.readFileSync(path.join(mem.mountPoint, 'rkt', pod.uuid, 'memory.limit_in_bytes'), 'utf8').trim(), String(96 * 2 ** 20));
    } else {
      const u = hostHierarchies().find((h) => h.version === 2)!;
      assert.equal(fs.readFileSync(path.join(u.mountPoint, 'rkt', pod.uuid, 'memory.max'), 'utf8').trim(), String(96 * 2 ** 20));
    }
    await pod.stop();
    await withTimeout(running.done, 20000, 'pod exit');
  });

  it('--debug traces with the stage1 prefix; enter refuses a pid that is not the pod supervisor', async () => {
    const r = await one(sh('true')).run(['--net=host', '--debug']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.ok(lines.length >= 2, r.stderr);
    for (const l of lines) assert.match(l, /^stage1: /);
    const pod = one(sh('echo up; exec sleep 600'));
    const running = pod.start(['--net=host']);
    await waitFor(() => running.stdout().includes('up') || (running.child.exitCode !== null ? assert.fail(running.stderr()) : false), 20000, 'app start');
    const e = await pod.entrypoint('enter', [`--pid=${process.pid}`, '--appname=app', '--', '/bin/true']);
    assert.equal(e.code, 254);
    assert.match(e.stderr, /not the supervisor of this pod/);
    await pod.stop();
    await withTimeout(running.done, 20000, 'pod exit');
  });

  it('refuses what it does not implement or cannot parse, with a stage1 error', async () => {
    for (const flags of [['--private-users=0:65536'], ['--private-users=65536'], ['--mutable'], ['--ipc=bogus']]) {
      const r = await one(sh('true')).run(['--net=host', ...flags]);
      assert.equal(r.code, 254, flags.join(' '));
      assert.match(r.stderr, /^stage1: /m);
    }
  });
});
