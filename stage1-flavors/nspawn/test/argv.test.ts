/**
 * The nspawn flavor's pure parts: systemd-nspawn's command line on both registration paths
 * (systemd as PID 1 with machined, and this CI host's --register=no --keep-unit), its
 * environment, the container's capability set, bind-path escaping, the helper's plan and seccomp
 * tokens, the syscall table header, and the contribution's skip reasons.
 */
import { systemServiceOf, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as api from '@rkt/api';
import type { ActivationContext } from '@rkt/api';
import { PodDir, ociSeccomp, type PreparedApp } from '@rkt/stage1-native/common';
import contribution from '../src/contribution.js';
import { HELPER_CAPS, NSPAWN_DEFAULT_CAPS, containerCaps, escapeBindPath, nspawnArgv, nspawnEnv, systemServiceOf, type NspawnArgvInput } from '../src/nspawn/argv.js';
import { podNetwork } from '../src/nspawn/network.js';
import { planTokens, seccompTokens } from '../src/nspawn/plan.js';
import { syscallTableHeader } from '../src/stage1.js';

const UUID = '6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const base = (over: Partial<NspawnArgvInput> = {}): NspawnArgvInput => ({
  nspawn: '/usr/bin/systemd-nspawn',
  uuid: UUID,
  stage1Rootfs: '/var/lib/rkt/pods/run/x/stage1/rootfs',
  systemdBooted: false,
  network: { mode: 'host' },
  hostname: `rkt-${UUID}`,
  capabilities: { add: [], drop: [] },
  syscallAllow: [],
  binds: [],
  hostJournald: false,
  interactive: false,
  debug: false,
  command: ['/rkt-supervisor', 'run', '/rkt/flavor-state/supervisor.conf'],
  ...over,
});

describe('nspawn argv', () => {
  it('without systemd as PID 1: --register=no --keep-unit, machine rkt-<uuid>, the stage1 rootfs, PID 1 after --', () => {
    const a = nspawnArgv(base());
    assert.equal(a[0], '/usr/bin/systemd-nspawn');
    for (const f of ['--quiet', `--machine=rkt-${UUID}`, `--uuid=${UUID}`, '--directory=/var/lib/rkt/pods/run/x/stage1/rootfs', '--register=no', '--keep-unit', '--link-journal=no', '--console=pipe', '--kill-signal=SIGTERM']) {
      assert.ok(a.includes(f), `missing ${f} in ${a.join(' ')}`);
    }
    assert.ok(!a.includes('--register=yes'));
    assert.ok(!a.includes('--private-network') && !a.some((x) => x.startsWith('--network-namespace-path')), 'host network: no network flag');
    assert.deepEqual(a.slice(a.indexOf('--')), ['--', '/rkt-supervisor', 'run', '/rkt/flavor-state/supervisor.conf']);
  });

  it('with systemd as PID 1: registers with machined, no --keep-unit; journald linking with try-guest', () => {
    const a = nspawnArgv(base({ systemdBooted: true, hostJournald: true }));
    assert.ok(a.includes('--register=yes'));
    assert.ok(!a.includes('--keep-unit') && !a.includes('--register=no'));
    assert.ok(a.includes('--link-journal=try-guest'));
  });

  it('started from a system service under systemd: --keep-unit too (the pod stays in the unit)', () => {
    const a = nspawnArgv(base({ systemdBooted: true, serviceUnit: 'web.service' }));
    assert.ok(a.includes('--register=yes') && a.includes('--keep-unit'));
  });

  it('the system service rkt runs in, from /proc/self/cgroup (hybrid: name=systemd; unified: the cgroup2 line)', () => {
    const hybrid = '12:pids:/system.slice/web.service\n1:name=systemd:/system.slice/web.service\n0::/system.slice/web.service\n';
    assert.deepEqual(systemServiceOf(hybrid, false), { unit: 'web.service', cgroup: '/system.slice/web.service' });
    // the kernel lists hierarchies that are not mounted: a unified tree reads the 0:: line only
    const unified = '9:name=systemd:/\n8:pids:/\n0::/system.slice/kernel-command-line.service\n';
    assert.deepEqual(systemServiceOf(unified, true), { unit: 'kernel-command-line.service', cgroup: '/system.slice/kernel-command-line.service' });
    assert.equal(systemServiceOf(unified, false), undefined);
    assert.equal(systemServiceOf('0::/user.slice/user-1000.slice/user@1000.service/app.slice/x.service\n', true), undefined, 'a user manager');
    assert.equal(systemServiceOf('0::/user.slice/user-1000.slice/session-3.scope\n', true), undefined, 'a login session');
    assert.equal(systemServiceOf('0::/system.slice/run-r1.scope\n', true), undefined, 'a scope (systemd-run --scope)');
    assert.equal(systemServiceOf('0::/\n', true), undefined);
  });

  it('network: --private-network for none, --network-namespace-path for a prepared netns', () => {
    assert.ok(nspawnArgv(base({ network: { mode: 'none' } })).includes('--private-network'));
    const a = nspawnArgv(base({ network: { mode: 'netns', path: `/var/run/netns/rkt-${UUID}` } }));
    assert.ok(a.includes(`--network-namespace-path=/var/run/netns/rkt-${UUID}`));
    assert.ok(!a.includes('--private-network'));
  });

  it('interactive pods get nspawn console, debug drops --quiet', () => {
    const a = nspawnArgv(base({ interactive: true, debug: true }));
    assert.ok(a.includes('--console=interactive'));
    assert.ok(!a.includes('--quiet'));
  });

  it('binds: read-only, non-recursive and escaped paths; capabilities and syscall filter', () => {
    const a = nspawnArgv(
      base({
        binds: [
          { source: '/data/a:b', target: '/opt/stage2/app/rootfs/mnt', readOnly: false, recursive: true },
          { source: '/etc/resolv.conf', target: '/opt/stage2/app/rootfs/etc/resolv.conf', readOnly: true, recursive: false },
        ],
        capabilities: { add: ['CAP_NET_ADMIN'], drop: ['CAP_SYS_BOOT'] },
        syscallAllow: ['swapon', 'reboot', 'swapon'],
      }),
    );
    assert.ok(a.includes('--bind=/data/a\\:b:/opt/stage2/app/rootfs/mnt'));
    assert.ok(a.includes('--bind-ro=/etc/resolv.conf:/opt/stage2/app/rootfs/etc/resolv.conf:norbind'));
    assert.ok(a.includes('--capability=CAP_NET_ADMIN'));
    assert.ok(a.includes('--drop-capability=CAP_SYS_BOOT'));
    assert.ok(a.includes('--system-call-filter=reboot swapon'));
    assert.ok(a.indexOf('--bind=/data/a\\:b:/opt/stage2/app/rootfs/mnt') < a.indexOf('--'));
    assert.equal(escapeBindPath('a\\b:c'), 'a\\\\b\\:c');
  });

  it('environment: quiet logging, shared IPC, writable API file systems, no nspawn seccomp on request', () => {
    assert.deepEqual(nspawnEnv({ ipcParent: false, disablePaths: false, disableSeccomp: false, debug: false }), [
      'SYSTEMD_NSPAWN_CONTAINER_SERVICE=rkt',
      'SYSTEMD_LOG_LEVEL=crit',
    ]);
    const e = nspawnEnv({ ipcParent: true, disablePaths: true, disableSeccomp: true, debug: true });
    for (const v of ['SYSTEMD_NSPAWN_SHARE_NS_IPC=true', 'SYSTEMD_NSPAWN_API_VFS_WRITABLE=yes', 'SYSTEMD_SECCOMP=0', 'SYSTEMD_LOG_LEVEL=info']) assert.ok(e.includes(v), v);
  });

  it('the container keeps the apps\' capabilities and the helper\'s, and drops the rest of nspawn\'s default', () => {
    const c = containerCaps([['CAP_NET_ADMIN', 'CAP_CHOWN'], ['CAP_SYS_TIME']]);
    assert.deepEqual(c.add, ['CAP_NET_ADMIN', 'CAP_SYS_TIME']);
    for (const h of HELPER_CAPS) assert.ok(!c.drop.includes(h), `${h} must stay`);
    assert.ok(c.drop.includes('CAP_SYS_BOOT') && c.drop.includes('CAP_SYS_PTRACE'));
    assert.ok(!c.drop.includes('CAP_CHOWN'));
    for (const d of c.drop) assert.ok(NSPAWN_DEFAULT_CAPS.includes(d));
  });
});

describe('pod network', () => {
  it('host and none as asked; a contained net needs the netns stage0 recorded in $pod/netns', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-nspawn-net-'));
    try {
      const pod = new PodDir(dir);
      assert.deepEqual(podNetwork(pod, ['host']), { mode: 'host' });
      assert.deepEqual(podNetwork(pod, ['none']), { mode: 'none' });
      assert.throws(() => podNetwork(pod, ['default']), /failed to setup network: --net=default needs a network namespace prepared by stage0/);
      const ns = path.join(dir, 'fake-netns');
      fs.writeFileSync(ns, '');
      fs.writeFileSync(path.join(dir, 'netns'), ns + '\n');
      assert.deepEqual(podNetwork(pod, ['default', 'other']), { mode: 'netns', path: ns });
      fs.writeFileSync(path.join(dir, 'netns'), path.join(dir, 'gone') + '\n');
      assert.throws(() => podNetwork(pod, ['default']), /failed to setup network/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rkt-appexec plan', () => {
  const app = (over: Partial<PreparedApp> = {}): PreparedApp => ({
    name: 'web',
    rt: { name: 'web', image: { id: 'sha512-x' } } as PreparedApp['rt'],
    app: { exec: ['/bin/httpd', '-f'], user: '1000', group: '2000', supplementaryGIDs: [5, 6] },
    rootfs: '/pod/stage1/rootfs/opt/stage2/web/rootfs',
    user: { uid: 1000, gid: 2000 },
    env: [['PATH', '/bin'], ['AC_APP_NAME', 'web']],
    cwd: '/srv',
    mounts: [],
    fileBinds: [],
    settings: { noNewPrivileges: true, oomScoreAdj: 100 },
    capabilities: ['CAP_CHOWN', 'CAP_KILL'],
    seccomp: undefined,
    readOnlyRootfs: true,
    ...over,
  });

  it('lists root, cgroups, credentials, caps, nnp, oom, cwd, env and exec', () => {
    const t = planTokens(app(), { root: '/opt/stage2/web/rootfs', cgroupProcs: ['/rkt/cgroup/memory/0-web/cgroup.procs'] });
    assert.deepEqual(t, [
      'root', '/opt/stage2/web/rootfs', 'ro',
      'cgroup', '/rkt/cgroup/memory/0-web/cgroup.procs',
      'uid', '1000', 'gid', '2000', 'groups', '2', '5', '6',
      'caps', '2', 'CAP_CHOWN', 'CAP_KILL',
      'nnp',
      'oom', '100',
      'cwd', '/srv',
      'env', '2', 'PATH=/bin', 'AC_APP_NAME=web',
      'exec', '2', '/bin/httpd', '-f',
    ]);
  });

  it('lists the binds to remount right after the root', () => {
    const t = planTokens(app({ readOnlyRootfs: false }), {
      root: '/opt/stage2/web/rootfs',
      cgroupProcs: [],
      remounts: [
        { path: '/opt/stage2/web/rootfs/data', readOnly: false, noexec: false },
        { path: '/opt/stage2/web/rootfs/etc/hosts', readOnly: true, noexec: true },
      ],
    });
    assert.deepEqual(t.slice(0, 10), ['root', '/opt/stage2/web/rootfs', 'remount', '/opt/stage2/web/rootfs/data', 'rw', 'exec', 'remount', '/opt/stage2/web/rootfs/etc/hosts', 'ro', 'noexec']);
  });

  it('refuses NUL bytes', () => {
    assert.throws(() => planTokens(app({ env: [['X', 'a\0b']] }), { root: '/r', cgroupProcs: [] }), /NUL/);
  });

  it('seccomp: the default allow-list with EPERM, a remove set as a deny-list, kill without errno, nothing when disabled', () => {
    const allow = seccompTokens(ociSeccomp(undefined, false));
    assert.deepEqual(allow.slice(0, 3), ['seccomp', 'allow', '1']);
    assert.equal(Number(allow[3]), allow.length - 4);
    assert.ok(allow.includes('read') && !allow.includes('reboot'));
    const deny = seccompTokens(ociSeccomp({ mode: 'remove', set: ['chmod'], errno: 'EACCES' }, false));
    assert.deepEqual(deny.slice(0, 3), ['seccomp', 'deny', '13']);
    assert.ok(deny.includes('chmod') && deny.includes('reboot'));
    assert.deepEqual(seccompTokens(ociSeccomp({ mode: 'retain', set: ['@rkt/default-whitelist'] }, false)).slice(0, 3), ['seccomp', 'allow', '0']);
    assert.deepEqual(seccompTokens(ociSeccomp(undefined, true)), []);
  });

  it('the syscall table header guards every name with its SYS_ macro', () => {
    const h = syscallTableHeader(['read', 'open']);
    assert.match(h, /#ifdef SYS_read\n {2}\{ "read", SYS_read \},\n#endif/);
    assert.match(h, /#ifdef SYS_open\n/);
  });
});

describe('stage1-nspawn contribution', () => {
  const ctx = (which: (n: string) => string | undefined): ActivationContext => ({
    point: 'rkt.stage1.v1',
    id: 'nspawn',
    pluginName: '@rkt/stage1-nspawn',
    pluginRoot: '.',
    config: {},
    paths: { dataDir: '/var/lib/rkt', systemConfigDir: '/usr/lib/rkt', localConfigDir: '/etc/rkt', stage1ImagesDir: '/usr/lib/rkt/stage1-images' },
    debug: false,
    api,
    get: () => {
      throw new Error('no points');
    },
    which,
    log: () => undefined,
  });

  it('is declared in package.json on the Stage1 point', () => {
    const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const c = pkg.rkt.contributes[0];
    assert.equal(c.point, 'rkt.stage1.v1');
    assert.equal(c.id, 'nspawn');
    assert.ok(c.requires.binaries.includes('systemd-nspawn'));
    assert.equal(pkg.dependencies['@rkt/stage1-native'], '0.1.0');
  });

  it('is skipped, with the reason, where systemd-nspawn is missing', async () => {
    await assert.rejects(
      async () => contribution.init(ctx((n) => (n === 'systemd-nspawn' ? undefined : `/usr/bin/${n}`))),
      (e: unknown) => api.isSkipPlugin(e) && /systemd-nspawn/.test((e as Error).message),
    );
  });

  it('builds an NspawnStage1 where the tools are there', async () => {
    const s = (await contribution.init(ctx((n) => `/usr/bin/${n}`))) as api.Stage1;
    assert.equal(s.id, 'nspawn');
    assert.equal(s.imageFileName, 'stage1-nspawn.aci');
  });
});
