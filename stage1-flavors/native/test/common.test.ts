/**
 * Unit tests of the shared stage1 library: cgroup layouts (v1, hybrid, and the pure-v2 code path
 * against a temporary directory laid out like a cgroup2 tree), in-rootfs path resolution and user
 * lookup, isolators, seccomp sets, capability sets, entrypoint arguments.
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  PodCgroups,
  cgroupMode,
  hierarchiesFrom,
  hybridUnifiedMount,
  sharesToWeight,
  type CgroupFs,
} from '../src/common/cgroups.js';
import { parseMountInfo } from '../src/common/mounts.js';
import { resolveInRoot, resolveUserGroup, mkdirInRoot, checkWorkingDir } from '../src/common/rootfs.js';
import { parseQuantity, runtimeSettings } from '../src/common/isolators.js';
import { ociSeccomp, DEFAULT_BLACKLIST, expandSet } from '../src/common/seccomp.js';
import { boundingSet, DEFAULT_CAPS, ALL_CAPS } from '../src/common/caps.js';
import { parseRunArgs, parseEnterArgs, parseGcArgs, parseStopArgs } from '../src/common/args.js';
import { appEnvironment } from '../src/common/env.js';
import { formatEnvFile, parseEnvFile } from '../src/common/pod.js';

const UUID = '0b4cb0a4-5d31-4a4e-9a6e-0123456789ab';

const HYBRID = `
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 25 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
27 26 0:25 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
28 26 0:26 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,name=systemd
31 26 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory
32 26 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
`;

/** cgroupfs semantics over a plain directory: rmdir ignores the interface files. */
function fakeCgroupFs(): CgroupFs {
  return {
    exists: (p) => fs.existsSync(p),
    mkdir: (p) => {
      fs.mkdirSync(p, { recursive: true });
      for (const f of ['cgroup.procs', 'cgroup.controllers', 'cgroup.subtree_control']) {
        const fp = path.join(p, f);
        if (!fs.existsSync(fp)) fs.writeFileSync(fp, f === 'cgroup.controllers' ? 'cpu memory pids\n' : '');
      }
    },
    read: (p) => fs.readFileSync(p, 'utf8'),
    write: (p, d) => {
      if (path.basename(p) === 'cgroup.subtree_control') {
        const cur = new Set(fs.readFileSync(p, 'utf8').split(/\s+/).filter(Boolean));
        for (const t of d.split(/\s+/)) if (t.startsWith('+')) cur.add(t.slice(1));
        fs.writeFileSync(p, [...cur].join(' ') + '\n');
      } else fs.writeFileSync(p, d);
    },
    rmdir: (p) => {
      const entries = fs.readdirSync(p, { withFileTypes: true });
      if (entries.some((e) => e.isDirectory())) throw Object.assign(new Error('busy'), { code: 'EBUSY' });
      if (fs.readFileSync(path.join(p, 'cgroup.procs'), 'utf8').trim() !== '') throw Object.assign(new Error('busy'), { code: 'EBUSY' });
      fs.rmSync(p, { recursive: true });
    },
    listDirs: (p) => fs.readdirSync(p, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name),
  };
}

describe('cgroups', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-cg-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('recognises hybrid, v1 and v2 layouts from mountinfo', () => {
    const h = hierarchiesFrom(parseMountInfo(HYBRID));
    assert.equal(cgroupMode(h), 'hybrid');
    assert.equal(hybridUnifiedMount(h), '/sys/fs/cgroup/unified');
    assert.deepEqual(h.find((x) => x.mountPoint === '/sys/fs/cgroup/cpu,cpuacct')?.controllers, ['cpu', 'cpuacct']);
    const v2 = hierarchiesFrom(parseMountInfo('27 26 0:25 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n'));
    assert.equal(cgroupMode(v2), 'v2');
    assert.equal(hybridUnifiedMount(v2), undefined);
    const v1 = hierarchiesFrom(parseMountInfo(HYBRID.split('\n').filter((l) => !l.includes('cgroup2')).join('\n')));
    assert.equal(cgroupMode(v1), 'v1');
  });

  it('lists each hierarchy once: later mounts of it (the recursive /sys bind of a fly pod) are copies', () => {
    const copies = HYBRID.split('\n')
      .filter((l) => / - cgroup2? /.test(l))
      .map((l) => l.replace(' /sys/fs/cgroup', ' /var/lib/rkt/pods/run/x/stage1/rootfs/opt/stage2/a/rootfs/sys/fs/cgroup'))
      .join('\n');
    const h = hierarchiesFrom(parseMountInfo(HYBRID + '\n' + copies + '\n'));
    assert.deepEqual(h, hierarchiesFrom(parseMountInfo(HYBRID)));
    assert.ok(h.every((x) => x.mountPoint.startsWith('/sys/fs/cgroup')));
  });

  it('pure v2: enables controllers down the path, writes memory.max, cpu.max and cpu.weight, then cleans up', async () => {
    const cfs = fakeCgroupFs();
    const root = path.join(tmp, 'cgroup');
    cfs.mkdir(root);
    const h = [{ mountPoint: root, version: 2 as const, controllers: [] }];
    const cg = new PodCgroups(h, `/rkt/${UUID}`, cfs);
    assert.equal(cg.mode, 'v2');
    const written = cg.applyPodLimits({ memoryLimitBytes: 64 * 2 ** 20, cpuMilli: 250, cpuShares: 1024 });
    const pod = path.join(root, 'rkt', UUID);
    assert.equal(fs.readFileSync(path.join(pod, 'memory.max'), 'utf8'), String(64 * 2 ** 20));
    assert.equal(fs.readFileSync(path.join(pod, 'cpu.max'), 'utf8'), '25000 100000');
    assert.equal(fs.readFileSync(path.join(pod, 'cpu.weight'), 'utf8'), String(sharesToWeight(1024)));
    assert.deepEqual(fs.readFileSync(path.join(root, 'cgroup.subtree_control'), 'utf8').trim().split(' ').sort(), ['cpu', 'memory']);
    assert.deepEqual(fs.readFileSync(path.join(root, 'rkt', 'cgroup.subtree_control'), 'utf8').trim().split(' ').sort(), ['cpu', 'memory']);
    assert.ok(written.includes(path.join(pod, 'memory.max')));
    // An app cgroup below the pod with a process in it: cleanup kills, then removes deepest first.
    cfs.mkdir(path.join(pod, '0-app'));
    fs.writeFileSync(path.join(pod, '0-app', 'cgroup.procs'), '424242\n');
    const killed: number[] = [];
    const left = await cg.cleanup({
      kill: (p) => {
        killed.push(p);
        fs.writeFileSync(path.join(pod, '0-app', 'cgroup.procs'), '');
      },
      timeoutMs: 2000,
    });
    assert.deepEqual(left, []);
    assert.deepEqual(killed, [424242]);
    assert.equal(fs.existsSync(pod), false);
    assert.equal(fs.existsSync(path.join(root, 'rkt')), true, 'the shared /rkt parent stays');
  });

  it('pure v2: refuses a limit whose controller the hierarchy lacks', () => {
    const cfs = fakeCgroupFs();
    const root = path.join(tmp, 'cgroup');
    cfs.mkdir(root);
    fs.writeFileSync(path.join(root, 'cgroup.controllers'), 'pids\n');
    const cg = new PodCgroups([{ mountPoint: root, version: 2, controllers: [] }], `/rkt/${UUID}`, cfs);
    assert.throws(() => cg.applyPodLimits({ memoryLimitBytes: 1 << 20 }), /memory/);
  });

  it('v1/hybrid: writes the limits into the memory and cpu hierarchies only', () => {
    const cfs = fakeCgroupFs();
    const mem = path.join(tmp, 'memory');
    const cpu = path.join(tmp, 'cpu');
    const uni = path.join(tmp, 'unified');
    const h = [
      { mountPoint: mem, version: 1 as const, controllers: ['memory'] },
      { mountPoint: cpu, version: 1 as const, controllers: ['cpu', 'cpuacct'] },
      { mountPoint: uni, version: 2 as const, controllers: [] },
    ];
    const cg = new PodCgroups(h, `/rkt/${UUID}`, cfs);
    assert.equal(cg.mode, 'hybrid');
    cg.applyPodLimits({ memoryLimitBytes: 1 << 24, cpuMilli: 1500 });
    assert.equal(fs.readFileSync(path.join(mem, 'rkt', UUID, 'memory.limit_in_bytes'), 'utf8'), String(1 << 24));
    assert.equal(fs.readFileSync(path.join(cpu, 'rkt', UUID, 'cpu.cfs_quota_us'), 'utf8'), '150000');
    assert.equal(fs.existsSync(path.join(uni, 'rkt')), false);
    assert.deepEqual(cg.dirs(), [mem, cpu, uni].map((d) => path.join(d, 'rkt', UUID)));
  });

  it('refuses a cgroup path that could leave the hierarchy', () => {
    assert.throws(() => new PodCgroups([], '/rkt/../../etc'));
  });
});

describe('rootfs resolution', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-rootfs-'));
    fs.mkdirSync(path.join(root, 'etc'));
    fs.mkdirSync(path.join(root, 'data'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('keeps absolute and .. symlinks inside the rootfs', () => {
    fs.symlinkSync('/etc', path.join(root, 'abs'));
    fs.symlinkSync('../../../../etc', path.join(root, 'data', 'up'));
    assert.equal(resolveInRoot(root, '/abs/x').hostPath, path.join(root, 'etc', 'x'));
    assert.equal(resolveInRoot(root, '/data/up').hostPath, path.join(root, 'etc'));
    assert.equal(resolveInRoot(root, '/../../etc').hostPath, path.join(root, 'etc'));
    fs.symlinkSync('loop', path.join(root, 'loop'));
    assert.throws(() => resolveInRoot(root, '/loop/x'), /symbolic links/);
  });

  it('creates mount targets through symlinks without leaving the rootfs', () => {
    fs.symlinkSync('/', path.join(root, 'escape'));
    const p = mkdirInRoot(root, '/escape/tmp/newdir');
    assert.equal(p, path.join(root, 'tmp', 'newdir'));
    assert.ok(fs.statSync(p).isDirectory());
  });

  it('resolves users and groups from the image files, numbers and file owners', () => {
    fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n1234:x:42:42::/:/bin/sh\nweb:x:33:33:w:/var/www:/bin/false\n');
    fs.writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\nwww:x:333:\n');
    fs.writeFileSync(path.join(root, 'owned'), '');
    fs.chownSync(path.join(root, 'owned'), 77, 88);
    assert.deepEqual(resolveUserGroup(root, 'web', 'www', 'a'), { uid: 33, gid: 333, home: '/var/www', userName: 'web' });
    assert.equal(resolveUserGroup(root, '1234', '5', 'a').uid, 42, 'a name made of digits wins over the number');
    assert.equal(resolveUserGroup(root, '999', '5', 'a').uid, 999);
    assert.deepEqual([resolveUserGroup(root, '/owned', '/owned', 'a').uid, resolveUserGroup(root, '/owned', '/owned', 'a').gid], [77, 88]);
    assert.throws(() => resolveUserGroup(root, 'nobody', '0', 'a'), /nobody/);
    assert.throws(() => resolveUserGroup(root, '/missing', '0', 'a'), /missing/);
    // /etc/passwd as a symlink to the host's file resolves inside the rootfs (and is absent there).
    fs.rmSync(path.join(root, 'etc', 'passwd'));
    fs.symlinkSync('/etc/shadow', path.join(root, 'etc', 'passwd'));
    assert.throws(() => resolveUserGroup(root, 'root', '0', 'a'), /root/);
  });

  it('checks working directories', () => {
    assert.doesNotThrow(() => checkWorkingDir(root, '/data', [], 'a'));
    assert.throws(() => checkWorkingDir(root, '/nope', [], 'a'), /does not exist/);
    assert.doesNotThrow(() => checkWorkingDir(root, '/vol/sub', ['/vol'], 'a'));
    assert.throws(() => checkWorkingDir(root, '/proc/self/fd/7', [], 'a'), /not allowed/);
    assert.throws(() => checkWorkingDir(root, 'rel', [], 'a'), /absolute/);
  });
});

describe('isolators, seccomp and capabilities', () => {
  it('parses resource quantities', () => {
    assert.equal(parseQuantity('128974848', 'x'), 128974848);
    assert.equal(parseQuantity('125952Ki', 'x'), 128974848);
    assert.equal(parseQuantity('123Mi', 'x'), 128974848);
    assert.equal(parseQuantity('300m', 'x'), 0.3);
    assert.equal(parseQuantity('1e3', 'x'), 1000);
    assert.throws(() => parseQuantity('1K', 'x'));
    assert.throws(() => parseQuantity(' 1', 'x'));
  });

  it('folds isolators into runtime settings and reports unknown ones', () => {
    const r = runtimeSettings([
      { name: 'resource/memory', value: { limit: '64Mi' } },
      { name: 'resource/cpu', value: { request: '250m', limit: '500m' } },
      { name: 'os/linux/cpu-shares', value: 512 },
      { name: 'os/linux/oom-score-adj', value: -100 },
      { name: 'os/linux/no-new-privileges', value: true },
      { name: 'os/linux/capabilities-remove-set', value: { set: ['CAP_MKNOD'] } },
      { name: 'os/linux/seccomp-retain-set', value: { set: ['@rkt/default-whitelist'], errno: 'EPERM' } },
      { name: 'example.com/unknown', value: {} },
    ]);
    assert.deepEqual(r.settings, {
      memoryLimitBytes: 64 * 2 ** 20,
      cpuMilli: 500,
      cpuShares: 512,
      oomScoreAdj: -100,
      noNewPrivileges: true,
      capabilities: { remove: ['CAP_MKNOD'] },
      seccomp: { mode: 'retain', set: ['@rkt/default-whitelist'], errno: 'EPERM' },
    });
    assert.deepEqual(r.ignored, ['example.com/unknown']);
    assert.throws(() => runtimeSettings([{ name: 'os/linux/oom-score-adj', value: 5000 }]), /oom-score-adj/);
    assert.throws(() => runtimeSettings([{ name: 'os/linux/no-new-privileges', value: 'true' }]));
    assert.throws(() => runtimeSettings([
      { name: 'os/linux/seccomp-retain-set', value: { set: ['read'] } },
      { name: 'os/linux/seccomp-remove-set', value: { set: ['write'] } },
    ]), /cannot be combined/);
    assert.throws(() => runtimeSettings([
      { name: 'os/linux/capabilities-retain-set', value: { set: ['CAP_KILL'] } },
      { name: 'os/linux/capabilities-remove-set', value: { set: ['CAP_KILL'] } },
    ]), /cannot be combined/);
  });

  it('builds OCI seccomp profiles', () => {
    const def = ociSeccomp(undefined, false)!;
    assert.equal(def.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(def.defaultErrnoRet, 1);
    const allowed = new Set(def.syscalls[0]!.names);
    assert.ok(allowed.has('read') && allowed.has('openat'));
    for (const s of ['mount', 'ptrace', 'kexec_load', 'init_module', 'bpf']) assert.equal(allowed.has(s), false, s);
    const rm = ociSeccomp({ mode: 'remove', set: ['uname'] }, false)!;
    assert.equal(rm.defaultAction, 'SCMP_ACT_ALLOW');
    assert.equal(rm.syscalls[0]!.action, 'SCMP_ACT_KILL_PROCESS');
    assert.ok(rm.syscalls[0]!.names.includes('uname') && rm.syscalls[0]!.names.includes('reboot'), 'remove set ∪ default blacklist');
    assert.equal(ociSeccomp({ mode: 'retain', set: ['@appc.io/all'] }, false), undefined);
    assert.equal(ociSeccomp(undefined, true), undefined);
    assert.deepEqual(expandSet(['@appc.io/empty']), []);
    assert.ok(expandSet(['@rkt/default-blacklist']).length === DEFAULT_BLACKLIST.length);
    assert.throws(() => expandSet(['@nope/set']), /unknown seccomp set/);
    assert.throws(() => ociSeccomp({ mode: 'remove', set: ['uname'], errno: 'EBOGUS' }, false), /errno/);
  });

  it('computes capability bounding sets', () => {
    const host = new Set(ALL_CAPS.filter((c) => c !== 'CAP_SYS_RESOURCE'));
    assert.deepEqual(boundingSet(undefined, false, host), [...DEFAULT_CAPS]);
    assert.deepEqual(boundingSet({ retain: ['net_admin', 'CAP_SYS_RESOURCE'] }, false, host), ['CAP_NET_ADMIN']);
    assert.equal(boundingSet({ remove: ['CAP_KILL'] }, false, host).includes('CAP_KILL'), false);
    assert.equal(boundingSet(undefined, true, host).length, host.size);
    assert.throws(() => boundingSet({ retain: ['CAP_BOGUS'] }, false, host), /unknown capability/);
  });
});

describe('entrypoint arguments and environment', () => {
  it('parses the run flags stage0 passes', () => {
    const a = parseRunArgs(['--debug', '--net=host', '--local-config=/etc/rkt', '--hostname=h', '--dns-conf-mode=resolv=host,hosts=stage0', '--disable-seccomp', '--ipc=parent', UUID]);
    assert.equal(a.debug, true);
    assert.deepEqual(a.net, ['host']);
    assert.equal(a.localConfig, '/etc/rkt');
    assert.equal(a.hostname, 'h');
    assert.equal(a.resolvConfMode, 'host');
    assert.equal(a.hostsMode, 'stage0');
    assert.equal(a.disableSeccomp, true);
    assert.equal(a.disablePaths, false);
    assert.equal(a.ipc, 'parent');
    assert.deepEqual(parseRunArgs(['--net=default', UUID]).net, ['default']);
    assert.throws(() => parseRunArgs(['--bogus', UUID]), /not defined/);
    assert.throws(() => parseRunArgs(['--net=host']), /UUID/);
    assert.throws(() => parseRunArgs(['--dns-conf-mode=hosts=none', UUID]), /dns-conf-mode/);
    assert.throws(() => parseRunArgs(['../../etc']), /UUID/);
  });

  it('parses enter, gc and stop', () => {
    assert.deepEqual(parseEnterArgs(['--pid=42', '--appname=a', '--', '/bin/sh', '-c', 'x']), { pid: 42, appName: 'a', command: ['/bin/sh', '-c', 'x'], debug: false });
    assert.throws(() => parseEnterArgs(['--appname=a', '--', 'x']), /--pid/);
    assert.deepEqual(parseGcArgs(['--debug', '--local-config', '/x', UUID]), { debug: true, localConfig: '/x', uuid: UUID });
    assert.deepEqual(parseStopArgs(['--force', UUID]), { force: true, uuid: UUID });
  });

  it('orders the environment: defaults, app env, AC_APP_NAME; env files round-trip', () => {
    const env = appEnvironment('web', { exec: ['/x'], user: '0', group: '0', environment: [{ name: 'HOME', value: '/srv' }, { name: 'AC_APP_NAME', value: 'spoof' }, { name: 'Q', value: 'a "b"\n$c' }] });
    const m = new Map(env);
    assert.equal(m.get('HOME'), '/srv');
    assert.equal(m.get('AC_APP_NAME'), 'web');
    assert.equal(m.get('PATH'), '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    assert.deepEqual(parseEnvFile(formatEnvFile(env)), env);
  });
});
