/**
 * Native-flavor behaviour beyond the conformance suite: capabilities, memory limits, seccomp,
 * namespaces shared by several apps, enter's isolation, /proc masking, networking modes, crash
 * recovery (kill -9 of the supervisor, then gc).
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
import { ALL_CAPS, DEFAULT_CAPS } from '../src/common/caps.js';
import { hostHierarchies } from '../src/common/cgroups.js';
import { nativeLeftovers } from './helpers.js';

const sh = (script: string, extra: Partial<App> = {}): App => ({ exec: ['/bin/sh', '-c', script], user: '0', group: '0', ...extra });

function capMask(caps: readonly string[]): bigint {
  return caps.reduce((m, c) => m | (1n << BigInt(ALL_CAPS.indexOf(c))), 0n);
}
function statusField(text: string, k: string): string {
  return (new RegExp(`^${k}:[ \\t]*([^\\n]*)$`, 'm').exec(text)?.[1] ?? '').trim();
}
const hostBnd = BigInt('0x' + statusField(fs.readFileSync('/proc/self/status', 'utf8'), 'CapBnd'));

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

  it('applies the default capability set, retain and remove sets, and --disable-capabilities-restriction', async () => {
    const show = sh('grep -E "^Cap(Bnd|Eff)" /proc/self/status');
    const cases: [App, string[], bigint][] = [
      [show, [], capMask(DEFAULT_CAPS)],
      [{ ...show, isolators: [{ name: 'os/linux/capabilities-retain-set', value: { set: ['CAP_NET_ADMIN', 'CAP_KILL'] } }] }, [], capMask(['CAP_NET_ADMIN', 'CAP_KILL'])],
      [{ ...show, isolators: [{ name: 'os/linux/capabilities-remove-set', value: { set: ['CAP_MKNOD', 'CAP_NET_RAW'] } }] }, [], capMask(DEFAULT_CAPS.filter((c) => c !== 'CAP_MKNOD' && c !== 'CAP_NET_RAW'))],
      [show, ['--disable-capabilities-restriction'], hostBnd],
    ];
    for (const [app, flags, want] of cases) {
      const r = await one(app).run(['--net=host', ...flags]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(BigInt('0x' + statusField(r.stdout, 'CapBnd')), want, r.stdout);
      assert.equal(BigInt('0x' + statusField(r.stdout, 'CapEff')), want, 'root keeps its set effective');
    }
    const r = await one({ ...show, user: 'user1', group: 'grp1' }).run(['--net=host']);
    assert.equal(BigInt('0x' + statusField(r.stdout, 'CapEff')), 0n, 'a non-root user has no effective capabilities');
  });

  it('kills an app that allocates past its memory limit, and keeps one under it', async () => {
    const mem = [{ name: 'resource/memory', value: { limit: '64Mi' } }];
    const big = await one(sh('dd if=/dev/zero of=/dev/null bs=200M count=1 && echo survived', { isolators: mem })).run(['--net=host']);
    assert.equal(big.code, 137, big.stdout + big.stderr);
    assert.doesNotMatch(big.stdout, /survived/);
    const small = await one(sh('dd if=/dev/zero of=/dev/null bs=16M count=1 2>/dev/null && echo survived', { isolators: mem })).run(['--net=host']);
    assert.equal(small.code, 0, small.stderr);
    assert.match(small.stdout, /survived/);
  });

  it('blocks removed syscalls, filters by default, and --disable-seccomp turns filtering off', async () => {
    const removed = sh('mkdir /tmp/d 2>&1; echo "rc=$?"; test -d /tmp/d && echo CREATED; true', {
      isolators: [{ name: 'os/linux/seccomp-remove-set', value: { set: ['mkdir', 'mkdirat'], errno: 'ENOTSUP' } }],
    });
    const r = await one(removed).run(['--net=host']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /not supported/i);
    assert.match(r.stdout, /rc=1/);
    assert.doesNotMatch(r.stdout, /CREATED/);
    const killed = await one(sh('uname -s', { isolators: [{ name: 'os/linux/seccomp-remove-set', value: { set: ['uname'] } }] })).run(['--net=host']);
    assert.equal(killed.code, 128 + 31, 'an empty errno kills with SIGSYS');
    const show = sh('grep ^Seccomp: /proc/self/status; uname -s; unshare -m true 2>&1; echo "unshare=$?"');
    const def = await one(show).run(['--net=host']);
    assert.match(def.stdout, /^Seccomp:\s+2$/m);
    assert.match(def.stdout, /^Linux$/m);
    assert.match(def.stdout, /unshare=[1-9]/, 'unshare is outside the default whitelist');
    const off = await one(show).run(['--net=host', '--disable-seccomp']);
    assert.match(off.stdout, /^Seccomp:\s+0$/m);
    const retain = await one(sh('grep ^Seccomp: /proc/self/status; uname -s', {
      isolators: [{ name: 'os/linux/seccomp-retain-set', value: { set: ['@rkt/default-whitelist'], errno: 'EPERM' } }],
    })).run(['--net=host']);
    assert.equal(retain.code, 0, retain.stderr);
    assert.match(retain.stdout, /^Linux$/m);
  });

  it('sets no_new_privs, oom_score_adj, and masks /proc paths unless --disable-paths', async () => {
    const app = sh('grep ^NoNewPrivs: /proc/self/status; cat /proc/self/oom_score_adj; grep -E " /proc/(timer_list|sys) " /proc/self/mounts', {
      isolators: [
        { name: 'os/linux/no-new-privileges', value: true },
        { name: 'os/linux/oom-score-adj', value: 345 },
      ],
    });
    const r = await one(app).run(['--net=host']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NoNewPrivs:\s+1$/m);
    assert.match(r.stdout, /^345$/m);
    assert.match(r.stdout, / \/proc\/timer_list /, '/proc/timer_list is masked');
    assert.match(r.stdout, / \/proc\/sys \w+ ro,/, '/proc/sys is read-only');
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

  it('enter gets the same namespaces, capabilities, seccomp, cgroup and uid as the app', async () => {
    const host = fs.mkdtempSync(path.join(work, 'enter-'));
    fs.chmodSync(host, 0o777);
    const probe = 'grep -E "^(Uid|Gid|Groups|CapBnd|CapEff|CapPrm|NoNewPrivs|Seccomp):" /proc/self/status; for n in pid mnt net ipc uts; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup | grep -v "^0::" | sort';
    const app = sh(`(${probe}) > /v/app; echo up; exec sleep 600`, {
      user: 'user1',
      group: 'grp1',
      supplementaryGIDs: [3000],
      mountPoints: [{ name: 'v', path: '/v' }],
      isolators: [
        { name: 'os/linux/capabilities-retain-set', value: { set: ['CAP_NET_BIND_SERVICE', 'CAP_CHOWN'] } },
        { name: 'os/linux/no-new-privileges', value: true },
      ],
    });
    const pod = newPod({ apps: [{ name: 'app', app }], volumes: [{ name: 'v', kind: 'host', source: host }] });
    const running = pod.start(['--net=none']);
    await waitFor(() => running.stdout().includes('up') || (running.child.exitCode !== null ? assert.fail(running.stderr()) : false), 20000, 'app start');
    const pid = await pod.enterPid();
    const e = await pod.entrypoint('enter', [`--pid=${pid}`, '--appname=app', '--', '/bin/sh', '-c', probe]);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.stdout, fs.readFileSync(path.join(host, 'app'), 'utf8'));
    assert.match(e.stdout, /^Uid:\s+1000\s/m);
    assert.match(e.stdout, /^Seccomp:\s+2$/m);
    await pod.stop();
    await withTimeout(running.done, 20000, 'pod exit');
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
