/**
 * Contained networking end to end with the real rkt binary, the native stage1 and Debian's CNI
 * plugins. Everything runs inside a network namespace this test creates and uses as "the host"
 * (rkt is started with `nsenter --net=<that netns>`): the pods' veths, bridge, masquerade and
 * port-forwarding rules all live there, never in the machine's own namespace.
 *
 * Covered: the default network (ptp, masquerade) serving HTTP reachable by the pod's IP, through a
 * forwarded port on 127.0.0.1 and on another local address; stop tears it down; two pods on one
 * bridge (per-net CNI_ARGS IP=, DNS from the CNI result in /etc/resolv.conf) plus a macvlan net as
 * eth1 (its master is a veth: this kernel has no dummy links); a .conflist chain through a plugin
 * no rkt net plugin knows (tuning); default-restricted has no route
 * beyond its subnet while default does; bad configs and unknown nets fail before a pod exists;
 * kill -9 of a pod then its netns removed (a simulated reboot), and gc still releases the lease
 * and the iptables rules; at the end `ip netns`, the host links, iptables-save and the host-local
 * lease dirs equal their state before the test.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rktBin, rktDirs } from '../lib/cli.js';
import { buildStage1 } from '../lib/ace.js';
import { buildAppAci } from './pods-lib.js';

const ROOT = process.getuid?.() === 0 && existsSync('/usr/lib/cni/ptp') && existsSync('/usr/lib/cni/bridge');
const dirs = rktDirs('rkt-net-');
const s1dir = join(dirs.base, 'stage1-images');
const img = (n: string) => join(dirs.base, `${n}.aci`);
const HOST = `rkt-e2enet-${process.pid}`;
const BR = `rktbr${process.pid % 100000}`;
const bg: ChildProcess[] = [];

/** Run a command in the test's "host" netns. */
const inHost = (cmd: string, args: string[], input?: string) =>
  spawnSync('nsenter', [`--net=/var/run/netns/${HOST}`, cmd, ...args], { encoding: 'utf8', timeout: 120_000, env: dirs.env(), ...(input !== undefined ? { input } : {}) });
const rkt = (...args: string[]) => inHost(rktBin, [args[0]!, ...dirs.args(), '--insecure-options=image', ...args.slice(1)]);
const rktWith = (local: string, ...args: string[]) =>
  inHost(rktBin, [args[0]!, `--dir=${dirs.data}`, `--system-config=${dirs.system}`, `--local-config=${local}`, '--insecure-options=image', ...args.slice(1)]);
const RUN = ['run', '--stage1-from-dir=stage1-native.aci'];

function httpGet(ip: string, port: number): string {
  const r = inHost('/bin/busybox', ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 3 ${ip} ${port}`]);
  return r.stdout;
}

/** What must be back to its first value after the test. */
/**
 * Whether a pod of another test file (running at the same time, with its own rkt data dir under
 * the temp dir) owns this uuid: its pod dir exists from before its netns is made until after its
 * netns is gone, so such netns are not this file's to count.
 */
function otherTestsPod(uuid: string): boolean {
  for (const t of readdirSync(tmpdir()).filter((n) => n.startsWith('rkt-'))) {
    const data = join(tmpdir(), t, 'data');
    if (data === dirs.data || !existsSync(join(data, 'pods'))) continue;
    for (const state of ['embryo', 'prepare', 'prepared', 'run', 'exited-garbage', 'garbage'])
      if (existsSync(join(data, 'pods', state, uuid))) return true;
  }
  return false;
}

function snapshot() {
  const leases = join(dirs.data, 'networks', 'host-local');
  return {
    podNetns: execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => /^rkt-[0-9a-f]{8}-/.test(n) && !otherTestsPod(n.slice(4)))
      .sort(),
    links: execFileSync('ip', ['-n', HOST, '-o', 'link'], { encoding: 'utf8' }).split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().split('@')[0]).sort(),
    // Rules and user chains (a table that merely got loaded, with its empty built-in chains, is no leak).
    iptables: inHost('iptables-save', []).stdout.split('\n').filter((l) => l.startsWith('-A ') || (l.startsWith(':') && !/^:(PREROUTING|INPUT|OUTPUT|POSTROUTING|FORWARD) /.test(l))).map((l) => l.replace(/\[\d+:\d+\]/g, '')).sort(),
    leases: existsSync(leases) ? readdirSync(leases).flatMap((n) => readdirSync(join(leases, n)).filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip')).map((f) => `${n}/${f}`)).sort() : [],
  };
}
let initial: ReturnType<typeof snapshot>;

function startPod(name: string, args: string[]): { uuidFile: string; child: ChildProcess; exited: Promise<number | null> } {
  const uuidFile = join(dirs.base, `${name}.uuid`);
  const child = spawn('nsenter', [`--net=/var/run/netns/${HOST}`, rktBin, ...RUN.slice(0, 1), ...dirs.args(), '--insecure-options=image', RUN[1]!, `--uuid-file-save=${uuidFile}`, ...args], {
    env: dirs.env(),
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  bg.push(child);
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  (child as ChildProcess & { errText: () => string }).errText = () => err;
  return { uuidFile, child, exited };
}

async function waitNet(p: { uuidFile: string; child: ChildProcess }): Promise<{ uuid: string; pod: string; info: Array<Record<string, unknown>> }> {
  for (let i = 0; i < 400; i++) {
    if (existsSync(p.uuidFile)) {
      const uuid = readFileSync(p.uuidFile, 'utf8').trim();
      const pod = join(dirs.data, 'pods', 'run', uuid);
      const ni = join(pod, 'net-info.json');
      if (existsSync(ni) && existsSync(join(pod, 'ppid'))) {
        const info = JSON.parse(readFileSync(ni, 'utf8')) as Array<Record<string, unknown>>;
        if (info.every((e) => !e.pending)) return { uuid, pod, info };
      }
    }
    if (p.child.exitCode !== null) throw new Error(`pod exited early: ${(p.child as ChildProcess & { errText: () => string }).errText()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the pod did not start');
}

async function until(fn: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

before(() => {
  if (!ROOT) return;
  execFileSync('ip', ['netns', 'add', HOST]);
  execFileSync('ip', ['-n', HOST, 'link', 'set', 'lo', 'up']);
  // Another local address of the "host", outside every pod subnet.
  execFileSync('ip', ['-n', HOST, 'addr', 'add', '10.250.0.1/32', 'dev', 'lo']);
  // The macvlan master: no dummy link type in this kernel, so one end of a veth pair.
  execFileSync('ip', ['-n', HOST, 'link', 'add', 'mvmaster', 'type', 'veth', 'peer', 'name', 'mvpeer']);
  execFileSync('ip', ['-n', HOST, 'link', 'set', 'mvmaster', 'up']);
  execFileSync('ip', ['-n', HOST, 'link', 'set', 'mvpeer', 'up']);
  buildStage1('native', s1dir);
  mkdirSync(join(dirs.local, 'paths.d'), { recursive: true });
  writeFileSync(join(dirs.local, 'paths.d', 'paths.json'), JSON.stringify({ rktKind: 'paths', rktVersion: 'v1', 'stage1-images': s1dir }));
  mkdirSync(join(dirs.local, 'net.d'), { recursive: true });
  writeFileSync(
    join(dirs.local, 'net.d', '10-br.conf'),
    JSON.stringify({ cniVersion: '1.0.0', name: 'br', type: 'bridge', bridge: BR, isGateway: true, ipMasq: false, ipam: { type: 'host-local', subnet: '10.88.0.0/24' }, dns: { nameservers: ['10.88.0.53'], search: ['pods.test'] } }),
  );
  writeFileSync(join(dirs.local, 'net.d', '20-mv.conflist'), JSON.stringify({ cniVersion: '0.4.0', name: 'mv', plugins: [{ type: 'macvlan', master: 'mvmaster', mode: 'bridge', ipam: { type: 'host-local', subnet: '10.89.0.0/24' } }] }));
  // A chain with a plugin no rkt net plugin knows (tuning): any CNI plugin on the CNI path works.
  writeFileSync(
    join(dirs.local, 'net.d', '30-chained.conflist'),
    JSON.stringify({ cniVersion: '1.0.0', name: 'chained', plugins: [{ type: 'ptp', ipMasq: false, ipam: { type: 'host-local', subnet: '10.87.0.0/24' } }, { type: 'tuning', mac: 'c2:b0:57:49:47:f1' }] }),
  );
  // IPv6 only, on ptp (a unique local range, inside this test's netns only)
  writeFileSync(
    join(dirs.local, 'net.d', '40-v6.conf'),
    JSON.stringify({ cniVersion: '1.0.0', name: 'v6', type: 'ptp', ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: 'fd00:87:6::/64' }]], routes: [{ dst: '::/0' }] } }),
  );
  buildAppAci(img('web'), { name: 'example.com/web', exec: ['/bin/busybox', 'httpd', '-f', '-p', '80', '-h', '/www'], ports: [{ name: 'http', protocol: 'tcp', port: 80 }], files: { 'www/index.html': 'hello from the pod\n' } });
  buildAppAci(img('client'), { name: 'example.com/client', exec: ['/bin/busybox', 'true'] });
  initial = snapshot();
});

after(() => {
  if (!ROOT) return;
  for (const c of bg) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rkt('gc', '--grace-period=0s');
  for (const m of readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m): m is string => Boolean(m?.startsWith(dirs.base))).reverse())
    spawnSync('umount', ['-l', m]);
  for (const ns of execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!))
    if (ns && existsSync(join(dirs.data, 'pods')) && ['run', 'exited-garbage', 'garbage'].some((d) => existsSync(join(dirs.data, 'pods', d, ns.slice(4))))) spawnSync('ip', ['netns', 'del', ns]);
  spawnSync('ip', ['netns', 'del', HOST]);
  dirs.cleanup();
});

test('default network: HTTP by the pod IP and through --port on 127.0.0.1 and another local address; stop tears it all down', { skip: !ROOT && 'needs root and CNI plugins' }, async () => {
  const p = startPod('web', ['--port=http:8080', img('web')]);
  const { uuid, pod, info } = await waitNet(p);
  assert.equal(readFileSync(join(pod, 'netns'), 'utf8').trim(), `/var/run/netns/rkt-${uuid}`);
  assert.equal(info.length, 1);
  assert.equal(info[0]!.netName, 'default');
  assert.equal(info[0]!.ifName, 'eth0');
  assert.match(String(info[0]!.ip), /^172\.16\.28\.\d+$/);
  assert.equal(info[0]!.mask, '255.255.255.0');
  assert.equal(info[0]!.hostIP, '172.16.28.1');
  const ip = String(info[0]!.ip);
  await until(() => httpGet(ip, 80).includes('hello from the pod'), 'httpd in the pod');
  assert.match(httpGet('127.0.0.1', 8080), /hello from the pod/, 'forwarded port on localhost');
  assert.match(httpGet('10.250.0.1', 8080), /hello from the pod/, 'forwarded port on another local address');
  assert.ok(readdirSync(join(dirs.data, 'networks', 'host-local', 'default')).includes(ip), 'the lease is in rkt\'s data dir');
  assert.match(inHost('iptables-save', ['-t', 'nat']).stdout, new RegExp(`RKT-PFWD-DNAT-${uuid.slice(0, 8)}`));
  assert.match(rkt('status', uuid).stdout, new RegExp(`^networks=default:ip4=${ip.replace(/\./g, '\\.')}$`, 'm'));
  const plugins = JSON.parse(rkt('plugins', '--json').stdout) as Array<{ name: string; contributions: Array<{ point: string; id: string; state: string }> }>;
  for (const id of ['ptp', 'bridge', 'macvlan'])
    assert.equal(plugins.find((p) => p.name === `@rkt/net-${id}`)?.contributions.find((c) => c.point === 'rkt.network.v1')?.id, id, `rkt plugins lists the ${id} net plugin`);

  const s = rkt('stop', uuid);
  assert.equal(s.status, 0, s.stderr);
  await p.exited;
  assert.deepEqual(snapshot(), initial, 'stop released netns, veth, rules and lease');
  assert.ok(existsSync(join(dirs.data, 'pods', 'run', uuid, 'net', 'down')));
});

test('two pods on one bridge reach each other (CNI_ARGS IP=, DNS from the CNI result); a macvlan net is eth1', { skip: !ROOT && 'needs root and CNI plugins' }, async () => {
  const server = startPod('bridged', ['--net=br:IP=10.88.0.50', img('web')]);
  const { info } = await waitNet(server);
  assert.equal(info[0]!.ip, '10.88.0.50', 'per-net args reach host-local as CNI_ARGS');
  const script = [
    'cat /etc/resolv.conf',
    '/bin/busybox ip -4 -o addr show | /bin/busybox grep -v " lo " | /bin/busybox awk \'{print $2, $4}\'',
    "for i in 1 2 3 4 5 6 7 8 9 10; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 2 10.88.0.50 80 && break; /bin/busybox sleep 0.3; done",
  ].join('; ');
  const r = rkt(...RUN, '--net=br,mv', img('client'), '--exec=/bin/busybox', '--', 'sh', '-c', script);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^# Generated by rkt from network br\n\nnameserver 10\.88\.0\.53\nsearch pods\.test\n/);
  assert.match(r.stdout, /eth0 10\.88\.0\.\d+\/24/);
  assert.match(r.stdout, /eth1 10\.89\.0\.\d+\/24/);
  assert.match(r.stdout, /hello from the pod/);
  assert.ok(execFileSync('ip', ['-n', HOST, '-o', 'link'], { encoding: 'utf8' }).includes(BR), 'the bridge exists in the test host netns');
  process.kill(-server.child.pid!, 'SIGTERM');
  await server.exited;
  // CNI DEL leaves the bridge device itself (host.md); remove it so the host is as before.
  spawnSync('ip', ['-n', HOST, 'link', 'del', BR]);
});

test('an IPv6-only network: the pod gets its address and routes, serves HTTP to the host over IPv6, and rkt status shows ip6=', { skip: !ROOT && 'needs root and CNI plugins' }, async () => {
  const server = startPod('v6web', ['--net=v6', img('web')]);
  const { uuid, info } = await waitNet(server);
  const ip6 = String(info[0]!.ip6 ?? '');
  assert.match(ip6, /^fd00:87:6::[0-9a-f]+\/64$/, JSON.stringify(info));
  assert.equal(info[0]!.ip, undefined, 'no IPv4 address on this network');
  const addr = ip6.split('/')[0]!;
  let body = '';
  for (let i = 0; i < 20 && !body.includes('hello from the pod'); i++) {
    body = inHost('/bin/busybox', ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 3 ${addr} 80`]).stdout;
    if (!body.includes('hello from the pod')) await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(body, /hello from the pod/);
  assert.match(rkt('status', uuid).stdout, new RegExp(`^networks=v6:ip6=${addr}$`, 'm'));
  const inside = rkt(...RUN, '--net=v6', img('client'), '--exec=/bin/busybox', '--', 'sh', '-c', '/bin/busybox ip -6 -o addr show dev eth0 scope global; /bin/busybox ip -6 route show default');
  assert.equal(inside.status, 0, inside.stderr);
  assert.match(inside.stdout, /inet6 fd00:87:6::[0-9a-f]+\/64/);
  assert.match(inside.stdout, /^default via fd00:87:6::1 dev eth0/m);
  process.kill(-server.child.pid!, 'SIGTERM');
  await server.exited;
});

test('a .conflist chain with a third-party plugin (tuning sets the MAC from prevResult on)', { skip: !ROOT && 'needs root and CNI plugins' }, () => {
  const r = rkt(...RUN, '--net=chained', img('client'), '--exec=/bin/busybox', '--', 'sh', '-c', '/bin/busybox ip -o link show eth0; /bin/busybox ip -4 -o addr show eth0');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /link\/ether c2:b0:57:49:47:f1/);
  assert.match(r.stdout, /inet 10\.87\.0\.\d+\/24/);
});

test('default-restricted has no route beyond its subnet; default routes out', { skip: !ROOT && 'needs root and CNI plugins' }, async () => {
  const probe = "/bin/busybox ip route; if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 2 10.250.0.1 8099 >/dev/null 2>&1; then echo REACHED; else echo UNREACHABLE; fi";
  const srv = spawn('nsenter', [`--net=/var/run/netns/${HOST}`, '/bin/busybox', 'httpd', '-f', '-p', '10.250.0.1:8099', '-h', dirs.base], { stdio: 'ignore', detached: true });
  bg.push(srv);
  try {
    const restricted = rkt(...RUN, '--net=default-restricted', img('client'), '--exec=/bin/busybox', '--', 'sh', '-c', probe);
    assert.equal(restricted.status, 0, restricted.stderr);
    assert.doesNotMatch(restricted.stdout, /^default /m);
    assert.match(restricted.stdout, /172\.31\.0\.0\/16/);
    assert.match(restricted.stdout, /UNREACHABLE/);
    const open = rkt(...RUN, '--net=default', img('client'), '--exec=/bin/busybox', '--', 'sh', '-c', probe);
    assert.equal(open.status, 0, open.stderr);
    assert.match(open.stdout, /^default via 172\.16\.28\.1/m);
    assert.match(open.stdout, /REACHED/);
  } finally {
    process.kill(-srv.pid!, 'SIGKILL');
  }
});

test('an unknown net or a bad net config fails with 254 before any pod exists', { skip: !ROOT && 'needs root and CNI plugins' }, () => {
  const count = () => ['embryo', 'prepare', 'prepared', 'run', 'exited-garbage', 'garbage'].map((d) => (existsSync(join(dirs.data, 'pods', d)) ? readdirSync(join(dirs.data, 'pods', d)).length : 0));
  const before = count();
  const netnsBefore = snapshot().podNetns;
  const unknown = rkt(...RUN, '--net=default,nosuch', img('client'));
  assert.equal(unknown.status, 254, unknown.stderr);
  assert.match(unknown.stderr, /networks not found: nosuch/);
  const bad = join(dirs.base, 'badconf');
  mkdirSync(join(bad, 'net.d'), { recursive: true });
  const cases: Array<[unknown, string, RegExp]> = [
    [{ cniVersion: '1.0.0', name: 'mvbad', type: 'macvlan', master: 'mvmaster', mode: 'weird', ipam: { type: 'host-local', subnet: '10.90.0.0/24' } }, 'mvbad', /10-bad\.conf: network "mvbad" \(macvlan\): "mode" must be one of "bridge", "private", "vepa", "passthru" \(got "weird"\)/],
    [{ cniVersion: '1.0.0', name: 'escape', type: '../../../bin/sh' }, 'escape', /10-bad\.conf: network\.type "\.\.\/\.\.\/\.\.\/bin\/sh" must be a plain executable name/],
    [{ cniVersion: '1.0.0', name: 'noipam', type: 'ptp' }, 'noipam', /network "noipam" \(ptp\): "ipam" is required/],
    [{ cniVersion: '1.0.0', name: 'nobin', type: 'no-such-cni-plugin' }, 'nobin', /network "nobin": CNI plugin "no-such-cni-plugin" not found in CNI_PATH/],
  ];
  for (const [conf, name, re] of cases) {
    writeFileSync(join(bad, 'net.d', '10-bad.conf'), JSON.stringify(conf));
    const r = rktWith(bad, ...RUN, `--net=${name}`, img('client'));
    assert.equal(r.status, 254, `${name}: ${r.stderr}`);
    assert.match(r.stderr, re, name);
  }
  assert.deepEqual(count(), before, 'no pod directory was created');
  assert.deepEqual(snapshot().podNetns, netnsBefore);
});

test('kill -9 of a running pod, then its netns gone (a reboot): gc still releases lease, port and masquerade rules', { skip: !ROOT && 'needs root and CNI plugins' }, async () => {
  const p = startPod('victim', ['--port=http:8081', img('web')]);
  const { uuid, info } = await waitNet(p);
  assert.ok(readdirSync(join(dirs.data, 'networks', 'host-local', 'default')).includes(String(info[0]!.ip)));
  process.kill(-p.child.pid!, 'SIGKILL');
  await p.exited;
  // The pod's processes die with their supervisor (PID 1 of the pod); the network stays behind.
  await until(() => rkt('status', uuid).stdout.includes('state=exited'), 'the pod to be exited');
  execFileSync('ip', ['netns', 'del', `rkt-${uuid}`]);
  assert.notDeepEqual(snapshot().iptables, initial.iptables, 'rules are left behind before gc');
  const g = rkt('gc', '--grace-period=0s');
  assert.equal(g.status, 0, g.stderr);
  assert.doesNotMatch(g.stderr, /network teardown/, g.stderr);
  assert.deepEqual(snapshot(), initial, 'gc restored netns list, links, iptables and leases');
});

test('after gc everything equals the state before the test', { skip: !ROOT && 'needs root and CNI plugins' }, () => {
  const g = rkt('gc', '--grace-period=0s');
  assert.equal(g.status, 0, g.stderr);
  assert.deepEqual(snapshot(), initial);
});
