import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageManifest } from '@rkt/api';
import { splitRunArgv, RUN_FLAGS, PREPARE_FLAGS } from '../src/runtime/pods/argv.js';
import { parseAppOptions, parseEnvFiles, parseMountFlag, parseNetFlags, parsePortFlag, parseSetEnv, parseVolumeFlag, parseDns, resolvConfText } from '../src/runtime/pods/options.js';
import { generatePodManifest, appNameFromImageName, mergeMounts, tabIndent, type PodSpec } from '../src/runtime/pods/manifest.js';
import { Pod, PodState, stateOf, walkPods } from '../src/runtime/pods/pod.js';
import { matchUuid, resolveUuid } from '../src/runtime/pods/uuid.js';
import { DirLock, LockTable, probeByFlock } from '../src/runtime/pods/lock.js';
import { runEntrypointArgs, type Stage1Manifest } from '../src/runtime/pods/stage1.js';
import { formatGoDuration } from '../src/runtime/pods/gc.js';
import { formatError } from '@rkt/api';

const tmp = mkdtempSync(join(tmpdir(), 'rkt-pods-unit-'));
const holders: ChildProcess[] = [];
after(() => {
  for (const h of holders) killGroup(h);
  rmSync(tmp, { recursive: true, force: true });
});

const msg = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return formatError(e);
  }
  assert.fail('expected an error');
};

/* ------------------------------------------------------------ argv splitting */

test('argv: images, per-app flags, -- args ---, pod flags anywhere, global --mount', () => {
  const s = splitRunArgv(
    ['--mount', 'volume=v,target=/g', '--net=host', 'a.aci', '--exec=/bin/sh', '--', '-c', '--exec=x', '---', '--interactive', 'b.aci', '--name', 'bee', '--set-env=K=V', '--', 'x', '--debug'],
    RUN_FLAGS,
  );
  assert.deepEqual(s.globalMounts, ['volume=v,target=/g']);
  assert.deepEqual(s.apps, [
    { image: 'a.aci', flags: [{ name: 'exec', value: '/bin/sh' }], args: ['-c', '--exec=x'] },
    { image: 'b.aci', flags: [{ name: 'name', value: 'bee' }], args: ['x', '--debug'] },
  ]);
  assert.deepEqual(s.podArgv, ['--net=host', '--set-env=K=V', '--interactive']);
});

test('argv: rkt errors for misplaced per-app flags and app arguments', () => {
  assert.equal(msg(() => splitRunArgv(['--exec=/bin/true', 'a.aci'], RUN_FLAGS)), '--exec must follow an image');
  assert.equal(msg(() => splitRunArgv(['--', 'x'], RUN_FLAGS)), 'an image is required before any app arguments');
  assert.equal(msg(() => splitRunArgv(['a', '--', 'x', '---', '--', 'y'], RUN_FLAGS)), 'only one set of app arguments allowed per image');
  assert.equal(msg(() => splitRunArgv(['a', '--bogus'], RUN_FLAGS)), 'unknown flag: --bogus');
  assert.equal(msg(() => splitRunArgv(['a', '--exec'], RUN_FLAGS)), 'flag needs an argument: --exec');
  assert.equal(msg(() => splitRunArgv(['--interactive=maybe', 'a'], RUN_FLAGS)), 'invalid argument "maybe" for "--interactive" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
  // prepare has no --net / --uuid-file-save
  assert.equal(msg(() => splitRunArgv(['--net=host', 'a'], PREPARE_FLAGS)), 'unknown flag: --net');
});

test('argv: bare --net means default, --readonly-rootfs bare means true, aliases resolve, last bool wins', () => {
  const s = splitRunArgv(['--net', 'a', '--readonly-rootfs', '--cap-retain=CAP_KILL', '--label', 'k=v', '--no-overlay=true', '--no-overlay=false'], RUN_FLAGS);
  assert.deepEqual(s.podArgv, ['--net=default']);
  assert.deepEqual(s.apps[0]!.flags, [
    { name: 'readonly-rootfs', value: 'true' },
    { name: 'caps-retain', value: 'CAP_KILL' },
    { name: 'user-label', value: 'k=v' },
  ]);
  assert.equal(s.apps[0]!.args, undefined);
});

/* ------------------------------------------------------------ option values */

test('per-app options: values and rkt error messages', () => {
  const o = parseAppOptions({
    image: 'x',
    flags: [
      { name: 'memory', value: '16Mi' },
      { name: 'cpu', value: '500m' },
      { name: 'supplementary-gids', value: '1,2' },
      { name: 'environment', value: 'A=1=2' },
      { name: 'seccomp', value: 'mode=remove,errno=EPERM,chmod,@rkt/default-blacklist' },
      { name: 'annotation', value: 'example.com/x=y' },
    ],
  });
  assert.deepEqual(o.memory, { name: 'resource/memory', value: { request: '16Mi', limit: '16Mi' } });
  assert.deepEqual(o.supplementaryGIDs, [1, 2]);
  assert.deepEqual(o.environment, [['A', '1=2']]);
  assert.deepEqual(o.seccomp, { mode: 'remove', errno: 'EPERM', set: ['chmod', '@rkt/default-blacklist'] });
  const bad = (name: string, value: string) => msg(() => parseAppOptions({ image: 'x', flags: [{ name, value }] }));
  assert.equal(bad('memory', '16m'), 'memory limit of 1 bytes too low. Try a reasonable value, such as --memory=16M');
  assert.equal(bad('supplementary-gids', '1,a'), '--supplementary-gids must be integers');
  assert.equal(bad('readonly-rootfs', 'yes'), '--readonly-rootfs must be set with a boolean');
  assert.match(bad('name', 'Bad_Name'), /invalid app name format/);
  assert.equal(bad('environment', 'novalue'), 'invalid format of --environment flag "novalue"');
  assert.match(bad('seccomp', 'mode=keep,chmod'), /mode must be "retain" or "remove"/);
  assert.equal(
    msg(() => parseAppOptions({ image: 'x', flags: [{ name: 'caps-retain', value: 'CAP_KILL' }, { name: 'caps-remove', value: 'CAP_MKNOD' }] })),
    'error: cannot use both --caps-retain and --caps-remove on the same image',
  );
  assert.equal(
    msg(() => parseAppOptions({ image: 'x', flags: [{ name: 'exec', value: '/a' }, { name: 'exec', value: '/b' }] })),
    '--exec specified multiple times for the same image',
  );
});

test('--volume, --mount, --port, --set-env, --set-env-file, --net, --dns', () => {
  assert.deepEqual(parseVolumeFlag('data,kind=host,source=/srv,readOnly=true'), { name: 'data', kind: 'host', source: '/srv', readOnly: true });
  assert.deepEqual(parseVolumeFlag('scratch,kind=empty'), { name: 'scratch', kind: 'empty', mode: '0755', uid: 0, gid: 0 });
  assert.match(msg(() => parseVolumeFlag('data,kind=host')), /^invalid value in --volume flag "data,kind=host": source for host volume cannot be empty$/);
  assert.match(msg(() => parseVolumeFlag('data,kind=host,source=rel')), /must be absolute path/);
  assert.match(msg(() => parseVolumeFlag('data,kind=weird')), /kind must be "host" or "empty"/);
  assert.deepEqual(parseMountFlag('volume=data,target=/d'), { volume: 'data', path: '/d' });
  assert.match(msg(() => parseMountFlag('volume=data,dest=/d')), /unknown mount parameter "dest"/);
  assert.deepEqual(parsePortFlag('http:127.0.0.1:8080'), { name: 'http', hostPort: 8080, hostIP: '127.0.0.1' });
  assert.match(msg(() => parsePortFlag('http:70000')), /1-65535/);
  assert.deepEqual(parseSetEnv(['A=1', 'B=x=y']), [['A', '1'], ['B', 'x=y']]);
  assert.match(msg(() => parseSetEnv(['A=1', 'A=2'])), /set twice/);
  const f = join(tmp, 'env');
  writeFileSync(f, '# comment\n; other\n\nA=1\nB= two \n');
  assert.deepEqual(parseEnvFiles([f]), [['A', '1'], ['B', ' two ']]);
  writeFileSync(f, 'A=1\nbroken\n');
  assert.match(msg(() => parseEnvFiles([f])), /line 2: environment variable must be specified as name=value/);
  assert.deepEqual(parseNetFlags([]), [{ name: 'default', args: '' }]);
  assert.deepEqual(parseNetFlags(['default']), [{ name: 'default', args: '' }]);
  assert.deepEqual(parseNetFlags(['host']), [{ name: 'host', args: '' }]);
  assert.deepEqual(parseNetFlags(['none']), [{ name: 'none', args: '' }]);
  assert.deepEqual(parseNetFlags(['all,net1:IP=1.2.3.4;K=V', 'default-restricted']), [
    { name: 'all', args: '' },
    { name: 'net1', args: 'IP=1.2.3.4;K=V' },
    { name: 'default-restricted', args: '' },
  ]);
  assert.match(msg(() => parseNetFlags(['a,a'])), /given twice/);
  assert.match(msg(() => parseNetFlags(['../x'])), /invalid network name/);
  assert.match(msg(() => parseNetFlags(['host:IP=1'])), /takes no arguments/);
  assert.match(msg(() => parseNetFlags(['host,none'])), /cannot be combined/);
  const dns = parseDns({ dns: ['8.8.8.8,1.1.1.1'], search: ['a.b'], opt: ['ndots:2'], domain: 'c', hostsEntries: ['10.0.0.1=a', '10.0.0.1=b'] });
  assert.equal(dns.resolvMode, 'stage0');
  assert.equal(dns.hostsMode, 'stage0');
  assert.deepEqual(dns.hosts.get('10.0.0.1'), ['a', 'b']);
  assert.equal(resolvConfText(dns), '# Generated by rkt run\nnameserver 8.8.8.8\nnameserver 1.1.1.1\nsearch a.b\noptions ndots:2\ndomain c\n');
  assert.equal(parseDns({ dns: ['host'], search: [], opt: [], domain: '', hostsEntries: ['host'] }).resolvMode, 'host');
  assert.match(msg(() => parseDns({ dns: ['host', '8.8.8.8'], search: [], opt: [], domain: '', hostsEntries: [] })), /cannot be combined/);
});

/* ------------------------------------------------------------ manifest generation */

const img = (over: Partial<ImageManifest> = {}): ImageManifest => ({
  acKind: 'ImageManifest',
  acVersion: '0.8.11',
  name: 'example.com/tools/hello_world',
  labels: [{ name: 'version', value: '1' }, { name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }],
  app: {
    exec: ['/bin/hello', '-x'],
    user: '0',
    group: '0',
    environment: [{ name: 'IMG', value: 'image' }, { name: 'BOTH', value: 'image' }],
    isolators: [{ name: 'os/linux/capabilities-remove-set', value: { set: ['CAP_MKNOD'] } }],
    mountPoints: [{ name: 'mp', path: '/mp' }],
  },
  ...over,
});
const ID = 'sha512-' + '1'.repeat(128);
const spec = (over: Partial<PodSpec> = {}): PodSpec => ({
  apps: [{ imageId: ID, manifest: img(), options: parseAppOptions({ image: 'hello.aci', flags: [] }) }],
  globalMounts: [],
  volumes: [],
  ports: [],
  envFromFile: [],
  explicitEnv: [],
  callerUid: 1000,
  callerGid: 1001,
  ...over,
});

test('manifest: app name from the image name, exec and args, overrides, mutable annotation, acVersion', () => {
  assert.equal(appNameFromImageName('example.com/tools/hello_world'), 'hello-world');
  const o = parseAppOptions({
    image: 'x',
    flags: [
      { name: 'user', value: 'nobody' },
      { name: 'working-dir', value: '/w' },
      { name: 'caps-retain', value: 'CAP_NET_ADMIN' },
      { name: 'cpu-shares', value: '512' },
      { name: 'readonly-rootfs', value: 'true' },
      { name: 'user-label', value: 'tier=web' },
    ],
    args: ['--flag', 'arg'],
  });
  const { manifest, json } = generatePodManifest(spec({ apps: [{ imageId: ID, manifest: img(), options: o }] }));
  const ra = manifest.apps[0]!;
  assert.equal(ra.name, 'hello-world');
  assert.deepEqual(ra.app!.exec, ['/bin/hello', '-x', '--flag', 'arg']);
  assert.equal(ra.app!.user, 'nobody');
  assert.equal(ra.app!.workingDirectory, '/w');
  assert.equal(ra.readOnlyRootFS, true);
  assert.deepEqual(ra.app!.userLabels, { tier: 'web' });
  // rkt's order: cpu-shares replaced in place first, then the capability sets swapped
  assert.deepEqual(ra.app!.isolators, [
    { name: 'os/linux/cpu-shares', value: 512 },
    { name: 'os/linux/capabilities-retain-set', value: { set: ['CAP_NET_ADMIN'] } },
  ]);
  assert.equal(manifest.acVersion, '1.30.0');
  assert.deepEqual(manifest.annotations, [{ name: 'coreos.com/rkt/stage1/mutable', value: 'false' }]);
  assert.match(json, /^\{"acVersion":"1\.30\.0","acKind":"PodManifest","apps":\[/);
  assert.match(json, /"volumes":null/);
});

test('manifest: --exec replaces exec, creates an app section with the caller ids when the image has none', () => {
  const o = parseAppOptions({ image: 'x', flags: [{ name: 'exec', value: '/bin/sh' }], args: ['-c', 'true'] });
  const { app: _drop, ...noApp } = img();
  const { manifest } = generatePodManifest(spec({ apps: [{ imageId: ID, manifest: noApp as ImageManifest, options: o }] }));
  const app = manifest.apps[0]!.app!;
  assert.deepEqual([app.exec, app.user, app.group, app.environment ?? []], [['/bin/sh', '-c', 'true'], '1000', '1001', []]);
  assert.equal(
    msg(() => generatePodManifest(spec({ apps: [{ imageId: ID, manifest: noApp as ImageManifest, options: parseAppOptions({ image: 'x', flags: [] }) }] }))),
    `error: image ${ID} has no app section and --exec argument is not provided`,
  );
});

test('manifest: environment precedence inherited < image < --set-env-file < --set-env < --environment', () => {
  const o = parseAppOptions({ image: 'x', flags: [{ name: 'environment', value: 'TOP=app' }] });
  const { manifest } = generatePodManifest(
    spec({
      apps: [{ imageId: ID, manifest: img(), options: o }],
      inheritedEnv: [['IMG', 'inherited'], ['INH', 'inherited'], ['TOP', 'inherited'], ['FILE', 'inherited']],
      envFromFile: [['FILE', 'file'], ['SET', 'file'], ['BOTH', 'file']],
      explicitEnv: [['SET', 'set'], ['TOP', 'set']],
    }),
  );
  const env = Object.fromEntries(manifest.apps[0]!.app!.environment!.map((e) => [e.name, e.value]));
  assert.deepEqual(env, { IMG: 'image', BOTH: 'file', INH: 'inherited', TOP: 'app', FILE: 'file', SET: 'set' });
});

test('manifest: mounts (per-app first), volumes, duplicate names, dangling mounts, ports', () => {
  assert.deepEqual(
    mergeMounts([{ volume: 'g', path: '/a' }, { volume: 'g2', path: '/b' }], [{ volume: 'p', path: '/a' }]),
    [{ volume: 'p', path: '/a' }, { volume: 'g2', path: '/b' }],
  );
  const vol = parseVolumeFlag('data,kind=host,source=/srv');
  const withMount = parseAppOptions({ image: 'x', flags: [{ name: 'mount', value: 'volume=data,target=/data' }] });
  const { manifest } = generatePodManifest(spec({ apps: [{ imageId: ID, manifest: img(), options: withMount }], volumes: [vol] }));
  assert.deepEqual(manifest.apps[0]!.mounts, [{ volume: 'data', path: '/data' }]);
  assert.deepEqual(manifest.volumes, [vol]);
  const dangling = parseAppOptions({ image: 'x', flags: [{ name: 'mount', value: 'volume=nope,target=/n' }] });
  assert.match(msg(() => generatePodManifest(spec({ apps: [{ imageId: ID, manifest: img(), options: dangling }] }))), /no --volume named "nope"/);
  const two = spec();
  two.apps.push({ ...two.apps[0]! });
  assert.equal(msg(() => generatePodManifest(two)), 'error: multiple apps with name hello-world');
  const withPort = img({ app: { ...img().app!, ports: [{ name: 'http', protocol: 'tcp', port: 80 }] } });
  const okPorts = generatePodManifest(spec({ apps: [{ imageId: ID, manifest: withPort, options: parseAppOptions({ image: 'x', flags: [] }) }], ports: [parsePortFlag('http:8080')] }));
  assert.deepEqual(okPorts.manifest.ports, [{ name: 'http', hostPort: 8080 }]);
  assert.equal(msg(() => generatePodManifest(spec({ ports: [parsePortFlag('nope:8080')] }))), 'port name "nope" could not be found in any apps');
  assert.match(msg(() => generatePodManifest(spec({ ports: [parsePortFlag('http:8080')], portsAllowed: false }))), /--port cannot be used with --net=host/);
});

test('manifest: invalid values are caught by appc validation, naming the field', () => {
  const bad = img({ app: { ...img().app!, environment: [{ name: '1BAD', value: 'x' }] } });
  assert.match(msg(() => generatePodManifest(spec({ apps: [{ imageId: ID, manifest: bad, options: parseAppOptions({ image: 'x', flags: [] }) }] }))), /apps\[0\]\.app\.environment/);
});

test('tab indentation as Go MarshalIndent with "\\t"', () => {
  assert.equal(tabIndent('{\n    "a": {\n        "b": "    x"\n    }\n}'), '{\n\t"a": {\n\t\t"b": "    x"\n\t}\n}');
});

/* ------------------------------------------------------------ stage1 invocation */

const s1 = (iv: number): Stage1Manifest => ({ manifest: {} as ImageManifest, interfaceVersion: iv, entrypoint: () => undefined });

test('run entrypoint arguments: rkt order and interface-version gates', () => {
  const o = {
    debug: true,
    net: 'host',
    interactive: true,
    privateUsers: '65536:65536',
    localConfig: '/etc/rkt',
    hostname: 'h',
    dnsConfMode: { resolv: 'stage0', hosts: 'default' },
    insecure: { capabilities: true, paths: true, seccomp: true },
    ipc: 'parent',
    uuid: 'U',
  };
  const warnings: string[] = [];
  assert.deepEqual(runEntrypointArgs(s1(6), o, (m) => warnings.push(m)), [
    '--debug', '--net=host', '--interactive', '--private-users=65536:65536', '--local-config=/etc/rkt', '--hostname=h',
    '--dns-conf-mode=resolv=stage0,hosts=default', '--disable-capabilities-restriction', '--disable-paths', '--disable-seccomp', '--ipc=parent', 'U',
  ]);
  assert.deepEqual(runEntrypointArgs(s1(1), o, (m) => warnings.push(m)), ['--debug', '--net=host', '--interactive', '--private-users=65536:65536', '--local-config=/etc/rkt', 'U']);
  assert.deepEqual(warnings, ['warning: --hostname option is not supported by stage1', 'warning: --dns-conf-mode option not supported by stage1']);
  assert.deepEqual(runEntrypointArgs(s1(5), { ...o, debug: false, interactive: false, dnsConfMode: { resolv: 'default', hosts: 'default' } }, () => undefined).slice(-2), ['--disable-seccomp', 'U']);
});

test('Go duration strings', () => {
  assert.equal(formatGoDuration(30 * 60_000), '30m0s');
  assert.equal(formatGoDuration(24 * 3_600_000), '24h0m0s');
  assert.equal(formatGoDuration(1500), '1.5s');
  assert.equal(formatGoDuration(0), '0s');
});

/* ------------------------------------------------------------ pod dirs, locks, states, UUIDs */

/** `flock DIR sleep` in its own process group: killing the group drops the lock. */
function holdLock(dir: string): Promise<ChildProcess> {
  const c = spawn('flock', ['-x', dir, 'sleep', '600'], { stdio: 'ignore', detached: true });
  holders.push(c);
  return new Promise((resolve) => {
    const poll = () => (probeByFlock(dir) ? resolve(c) : setTimeout(poll, 10));
    poll();
  });
}
function killGroup(c: ChildProcess): void {
  try {
    process.kill(-c.pid!, 'SIGKILL');
  } catch {
    c.kill('SIGKILL');
  }
}
const waitGroupGone = async (c: ChildProcess) => {
  for (;;) {
    try {
      process.kill(-c.pid!, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
};
const waitExit = (c: ChildProcess) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)));

test('state matrix: directory × lock', () => {
  assert.equal(stateOf('embryo', false), PodState.Embryo);
  assert.equal(stateOf('prepare', true), PodState.Preparing);
  assert.equal(stateOf('prepare', false), PodState.AbortedPrepare);
  assert.equal(stateOf('prepared', false), PodState.Prepared);
  assert.equal(stateOf('run', true), PodState.Running);
  assert.equal(stateOf('run', false), PodState.Exited);
  assert.equal(stateOf('exited-garbage', true), PodState.ExitedDeleting);
  assert.equal(stateOf('exited-garbage', false), PodState.ExitedGarbage);
  assert.equal(stateOf('garbage', true), PodState.Deleting);
  assert.equal(stateOf('garbage', false), PodState.Garbage);
});

test('a run/ pod is running while a process holds its lock, and exited once that process is killed', async () => {
  const data = join(tmp, 'data-state');
  const uuid = '11111111-2222-4333-8444-555555555555';
  const dir = join(data, 'pods', 'run', uuid);
  mkdirSync(dir, { recursive: true });
  const h = await holdLock(dir);
  assert.equal(LockTable.read().isLocked(dir), true, '/proc/locks sees the flock');
  assert.equal(Pod.load(data, uuid).state, PodState.Running);
  killGroup(h);
  await waitGroupGone(h);
  assert.equal(LockTable.read().isLocked(dir), false);
  assert.equal(Pod.load(data, uuid).state, PodState.Exited);
});

test('in another PID namespace (rkt in a container) a held pod lock is still seen: /proc/locks hides it there', { skip: process.getuid?.() !== 0 && 'needs root (unshare --pid)' }, async () => {
  const dir = join(tmp, 'pidns-locked');
  mkdirSync(dir, { recursive: true });
  const h = await holdLock(dir);
  const lockModule = new URL('../src/runtime/pods/lock.ts', import.meta.url).href;
  const probe = `import(${JSON.stringify(lockModule)}).then((m) => console.log(String(m.LockTable.read().isLocked(${JSON.stringify(dir)}))))`;
  const inNs = (locked: string) => {
    const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '--import', 'tsx', '-e', probe], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), locked);
  };
  inNs('true');
  killGroup(h);
  await waitGroupGone(h);
  inNs('false');
});

test('Pod.create holds the lock from embryo through prepare, prepared unlocks, toRun re-locks', () => {
  const data = join(tmp, 'data-create');
  const pod = Pod.create(data);
  assert.equal(pod.dir, 'prepare');
  assert.ok(existsSync(join(data, 'pods', 'embryo')));
  assert.equal(probeByFlock(pod.path), true, 'another process sees it locked');
  assert.equal(new Pod(data, pod.uuid).refresh().state, PodState.Preparing);
  pod.toPrepared();
  assert.equal(new Pod(data, pod.uuid).refresh().state, PodState.Prepared);
  assert.equal(probeByFlock(pod.path), false);
  const again = Pod.load(data, pod.uuid);
  again.toRun();
  assert.equal(new Pod(data, pod.uuid).refresh().state, PodState.Running);
  // a second run-prepared loses: the pod is no longer prepared
  const loser = new Pod(data, pod.uuid);
  loser.dir = 'prepared';
  assert.throws(() => loser.toRun());
  again.close();
  assert.equal(new Pod(data, pod.uuid).refresh().state, PodState.Exited);
});

test('a lock taken through one fd survives the flock helper and is shared by a child that inherits the fd', async () => {
  const dir = join(tmp, 'lockdir');
  mkdirSync(dir);
  const l = DirLock.open(dir);
  assert.ok(l.tryExclusive());
  const child = spawn('sleep', ['600'], { stdio: ['ignore', 'ignore', 'ignore', l.fd] });
  holders.push(child);
  l.close();
  assert.equal(probeByFlock(dir), true, 'the child keeps the lock alive');
  child.kill('SIGKILL');
  await waitExit(child);
  assert.equal(probeByFlock(dir), false, 'the kernel dropped it with the last fd');
});

test('UUID matching: lower-cased prefixes over prepare, prepared, run, exited-garbage; rkt errors', () => {
  const data = join(tmp, 'data-uuid');
  const a = 'aaaa1111-0000-4000-8000-000000000001';
  const b = 'aaaa2222-0000-4000-8000-000000000002';
  const g = 'bbbb0000-0000-4000-8000-000000000003';
  mkdirSync(join(data, 'pods', 'run', a), { recursive: true });
  mkdirSync(join(data, 'pods', 'exited-garbage', b), { recursive: true });
  mkdirSync(join(data, 'pods', 'garbage', g), { recursive: true });
  assert.deepEqual(matchUuid(data, 'aaaa'), [a, b]);
  assert.equal(resolveUuid(data, 'AAAA1'), a);
  assert.equal(msg(() => resolveUuid(data, 'aaaa')), 'unable to resolve UUID: ambiguous uuid, 2 matches');
  assert.equal(msg(() => resolveUuid(data, 'bbbb')), 'unable to resolve UUID: no matches found for "bbbb"');
  assert.equal(msg(() => resolveUuid(data, '')), 'unable to resolve UUID: UUID cannot be empty');
  const seen: string[] = [];
  walkPods(data, ['run', 'exited-garbage'], (p) => seen.push(`${p.uuid}:${p.state}`));
  assert.deepEqual(seen, [`${a}:exited`, `${b}:exited garbage`]);
  assert.equal(readFileSync('/proc/locks', 'utf8').length >= 0, true);
});
