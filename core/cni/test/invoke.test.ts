/**
 * The CNI invoker against a fake plugin (protocol details: env, stdin, prevResult chaining, cache,
 * DEL order, CHECK, error objects, old result versions) and against Debian's real plugins
 * (ptp + host-local, run inside a network namespace this test creates).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isRktError } from '@rkt/api';
import { CniInvoker, parseNetworkConfig, pluginTypeError, normalizeResult, containerIPv4, containerIPv6, ipMasqChainName, splitRuleLine, type PluginExec } from '../src/index.js';

const FAKE = fileURLToPath(new URL('./fixtures/fake-plugin.mjs', import.meta.url));
const base = mkdtempSync(join(tmpdir(), 'rkt-cni-'));
const bin = join(base, 'bin');
const log = join(base, 'calls.log');
const rt = { containerId: 'c0ffee', netns: '/var/run/netns/none-such', ifName: 'eth0', args: [['IP', '10.9.0.7'] as [string, string]] };

before(() => {
  mkdirSync(bin);
  for (const n of ['fake-a', 'fake-b']) copyFileSync(FAKE, join(bin, n));
  execFileSync('chmod', ['+x', join(bin, 'fake-a'), join(bin, 'fake-b')]);
  process.env.FAKE_CNI_LOG = log;
});
after(() => rmSync(base, { recursive: true, force: true }));

const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
const reset = () => rmSync(log, { force: true });
const invoker = (cache = join(base, 'cache')) => new CniInvoker({ cniPath: ['/nonexistent', bin], cacheDir: cache });
const list = (doc: unknown) => parseNetworkConfig(JSON.stringify(doc), 'test.conflist');

test('config parsing: lists, single confs, and refusals naming the field', () => {
  const l = list({ cniVersion: '1.0.0', name: 'n1', plugins: [{ type: 'fake-a' }, { type: 'fake-b' }] });
  assert.equal(l.plugins.length, 2);
  const single = parseNetworkConfig(JSON.stringify({ cniVersion: '0.4.0', name: 'n2', type: 'fake-a', ipam: { type: 'host-local' } }), 'x.conf');
  assert.deepEqual(single.plugins.map((p) => p.type), ['fake-a']);
  assert.equal(parseNetworkConfig('{"name":"old","type":"ptp"}', 'old.conf').cniVersion, '0.1.0');
  const bad: Array<[unknown, RegExp]> = [
    [{ cniVersion: '1.0.0', name: 'n', type: '../../bin/sh' }, /network\.type .*plain executable name/],
    [{ cniVersion: '1.0.0', name: 'n', type: '/usr/bin/id' }, /network\.type/],
    [{ cniVersion: '1.0.0', name: 'n', type: 'ptp', ipam: { type: 'x/../../y' } }, /network\.ipam\.type/],
    [{ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'ok' }, { type: 'a/b' }] }, /plugins\[1\]\.type/],
    [{ cniVersion: '9.9.9', name: 'n', type: 'ptp' }, /"cniVersion" "9\.9\.9" is not supported/],
    [{ cniVersion: '1.0.0', name: 'bad name', type: 'ptp' }, /"name" must match/],
    [{ cniVersion: '1.0.0', name: 'n', plugins: [] }, /"plugins" must be a non-empty array/],
  ];
  for (const [doc, re] of bad) assert.throws(() => parseNetworkConfig(JSON.stringify(doc), 'f.conf'), re);
  assert.throws(() => parseNetworkConfig('{', 'broken.conf'), /broken\.conf: invalid JSON/);
  assert.equal(pluginTypeError('host-local'), undefined);
  assert.match(pluginTypeError('..') ?? '', /plain executable name/);
});

test('ADD runs the chain in order with the CNI env and prevResult, caches the result; CHECK and DEL get it back, DEL in reverse', async () => {
  reset();
  const inv = invoker();
  const l = list({ cniVersion: '1.0.0', name: 'chain', plugins: [{ type: 'fake-a', ip: '10.9.0.7/24', dns: { nameservers: ['10.9.0.53'], search: ['pod.local'] } }, { type: 'fake-b' }] });
  const r = await inv.add(l, rt);
  const c = calls();
  assert.deepEqual(c.map((x) => x.type), ['fake-a', 'fake-b']);
  assert.deepEqual(c[0].env, { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c0ffee', CNI_NETNS: rt.netns, CNI_IFNAME: 'eth0', CNI_ARGS: 'IP=10.9.0.7', CNI_PATH: `/nonexistent:${bin}` });
  assert.equal(c[0].conf.name, 'chain');
  assert.equal(c[0].conf.cniVersion, '1.0.0');
  assert.equal(c[0].conf.prevResult, undefined);
  assert.deepEqual(c[1].conf.prevResult.ips.map((i: { address: string }) => i.address), ['10.9.0.7/24']);
  assert.equal(r.ips.length, 2);
  assert.deepEqual(containerIPv4(r, 'eth0'), { ip: '10.9.0.7', prefix: 24, gateway: '10.9.0.1' });
  assert.deepEqual(r.dns.nameservers, ['10.9.0.53']);
  assert.ok(inv.cached('chain', rt));

  reset();
  await inv.check(l, rt);
  assert.deepEqual(calls().map((x) => [x.type, x.env.CNI_COMMAND, x.conf.prevResult.ips.length]), [['fake-a', 'CHECK', 2], ['fake-b', 'CHECK', 2]]);

  // DEL without the config (the file is gone): the cached config and args are used, in reverse.
  reset();
  await inv.del(undefined, { containerId: rt.containerId, netns: rt.netns, ifName: 'eth0', networkName: 'chain' });
  const d = calls();
  assert.deepEqual(d.map((x) => [x.type, x.env.CNI_COMMAND, x.env.CNI_ARGS]), [['fake-b', 'DEL', 'IP=10.9.0.7'], ['fake-a', 'DEL', 'IP=10.9.0.7']]);
  assert.equal(d[0].conf.prevResult.ips.length, 2);
  assert.equal(inv.cached('chain', rt), undefined, 'the cache is dropped after a clean DEL');
});

test('a CNI error object becomes a clear RktError naming network, plugin and command; DEL goes on past failures', async () => {
  reset();
  const inv = invoker();
  const l = list({ cniVersion: '1.0.0', name: 'failing', plugins: [{ type: 'fake-a' }, { type: 'fake-b', fail: { code: 7, msg: 'invalid config', details: 'subnet overlaps' } }] });
  await assert.rejects(inv.add(l, rt), (e: unknown) => {
    assert.ok(isRktError(e));
    assert.match((e as Error).message, /network "failing": CNI plugin "fake-b" ADD failed: invalid config: subnet overlaps \(CNI error 7\)/);
    assert.equal((e as { details?: Record<string, unknown> }).details?.cniCode, 7);
    return true;
  });
  assert.equal(inv.cached('failing', rt), undefined);
  const retry = list({ cniVersion: '1.0.0', name: 'busy', type: 'fake-a', fail: { code: 11, msg: 'try again' } });
  await assert.rejects(inv.add(retry, rt), (e: unknown) => (e as { details: { retryable: boolean } }).details.retryable === true);
  const crash = list({ cniVersion: '1.0.0', name: 'crash', type: 'fake-a', fail: 'garbage' });
  await assert.rejects(inv.add(crash, rt), /CNI plugin "fake-a" ADD failed: plugin crashed/);
  const missing = list({ cniVersion: '1.0.0', name: 'missing', type: 'no-such-plugin' });
  await assert.rejects(inv.add(missing, rt), /network "missing": CNI plugin "no-such-plugin" not found in CNI_PATH/);

  // DEL: the first plugin (run last) still runs when the second fails, and the error is reported.
  const dl = list({ cniVersion: '1.0.0', name: 'delfail', plugins: [{ type: 'fake-a' }, { type: 'fake-b', fail: { code: 999, msg: 'boom' }, failOn: 'DEL' }] });
  await inv.add(dl, rt);
  reset();
  await assert.rejects(inv.del(dl, rt), /fake-b" DEL failed: boom/);
  assert.deepEqual(calls().map((x) => x.type), ['fake-b', 'fake-a']);
  assert.ok(inv.cached('delfail', rt), 'the cache stays for a retry');
});

test('a plugin that hangs is killed after the timeout, and one killed by a signal fails clearly', async () => {
  reset();
  const inv = new CniInvoker({ cniPath: [bin], cacheDir: join(base, 'cache-t'), timeoutMs: 300 });
  const t0 = Date.now();
  await assert.rejects(inv.add(list({ cniVersion: '1.0.0', name: 'slow', plugins: [{ type: 'fake-a', hangMs: 10_000 }] }), rt), /timed out after 300 ms/);
  assert.ok(Date.now() - t0 < 5000, 'not waited for');
  await assert.rejects(inv.add(list({ cniVersion: '1.0.0', name: 'killed', plugins: [{ type: 'fake-a', killSelf: 'SIGTERM' }] }), rt), /killed by SIGTERM/);
});

test('old result versions are read (0.2.0 ip4, 0.4.0 with version fields); CHECK needs 0.4.0', async () => {
  const inv = invoker(join(base, 'cache-old'));
  const old = list({ cniVersion: '0.2.0', name: 'old', type: 'fake-a' });
  const r = await inv.add(old, rt);
  assert.deepEqual(containerIPv4(r), { ip: '10.9.0.2', prefix: 24, gateway: '10.9.0.1' });
  assert.deepEqual(r.routes, [{ dst: '0.0.0.0/0' }]);
  await assert.rejects(inv.check(old, rt), /CHECK needs cniVersion 0\.4\.0/);
  const n = normalizeResult({ cniVersion: '0.4.0', interfaces: [{ name: 'eth0', sandbox: '/x' }], ips: [{ version: '4', address: '1.2.3.4/8', interface: 0 }] }, 't');
  assert.deepEqual(n.ips, [{ address: '1.2.3.4/8', interface: 0 }]);
  assert.throws(() => normalizeResult({ cniVersion: '7.0.0' }, 'plugin x'), /plugin x: result cniVersion "7\.0\.0" is not supported/);
  assert.deepEqual(await inv.versions('fake-a'), ['0.4.0', '1.0.0']);
});

test('the container addresses per family: the sandbox interface, IPv4 and IPv6 apart', () => {
  const r = normalizeResult({
    cniVersion: '1.0.0',
    interfaces: [{ name: 'veth0' }, { name: 'eth0', sandbox: '/var/run/netns/x' }],
    ips: [
      { address: '10.1.0.1/24', interface: 0 },
      { address: 'fd00::1/64', interface: 0 },
      { address: 'fd00::2/64', gateway: 'fd00::1', interface: 1 },
      { address: '10.1.0.2/24', gateway: '10.1.0.1', interface: 1 },
    ],
  });
  assert.deepEqual(containerIPv4(r, 'eth0'), { ip: '10.1.0.2', prefix: 24, gateway: '10.1.0.1' });
  assert.deepEqual(containerIPv6(r, 'eth0'), { ip: 'fd00::2', prefix: 64, gateway: 'fd00::1' });
  assert.equal(containerIPv6(normalizeResult({ cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/x' }], ips: [{ address: '10.1.0.2/24', interface: 0 }] }), 'eth0'), undefined);
});

test('masquerade chain names and iptables -S parsing', () => {
  // CNI's utils.FormatChainName: "CNI-" + sha512(name+id) hex, 28 characters.
  const c = ipMasqChainName('default', 'c0ffee');
  assert.match(c, /^CNI-[0-9a-f]{24}$/);
  assert.deepEqual(splitRuleLine('-A POSTROUTING -s 10.1.0.2/32 -m comment --comment "name: \\"default\\" id: \\"x\\"" -j CNI-abc'), [
    '-A', 'POSTROUTING', '-s', '10.1.0.2/32', '-m', 'comment', '--comment', 'name: "default" id: "x"', '-j', 'CNI-abc',
  ]);
});

/* ------------------------------------------------------------ real plugins, inside a test netns */

const HAVE_REAL = existsSync('/usr/lib/cni/ptp') && process.getuid?.() === 0;

test('real ptp + host-local: ADD, CHECK, DEL inside a test-made netns; leases and links released', { skip: !HAVE_REAL && 'needs root and /usr/lib/cni' }, async (t) => {
  const tag = `rkt-cnitest-${process.pid}`;
  const host = `${tag}-h`;
  const pod = `${tag}-p`;
  execFileSync('ip', ['netns', 'add', host]);
  t.after(() => spawnSync('ip', ['netns', 'del', host]));
  execFileSync('ip', ['netns', 'add', pod]);
  t.after(() => spawnSync('ip', ['netns', 'del', pod]));
  // Plugins run in the "host" netns of the test, never in the real one.
  const exec: PluginExec = async (r) => {
    const p = spawnSync('nsenter', [`--net=/var/run/netns/${host}`, r.binary], { input: r.stdin, env: r.env, encoding: 'utf8' });
    return { exitCode: p.status ?? -1, stdout: p.stdout, stderr: p.stderr };
  };
  const data = join(base, 'ipam');
  const inv = new CniInvoker({ cniPath: ['/usr/lib/cni'], cacheDir: join(base, 'real-cache'), exec });
  const links = () => execFileSync('ip', ['-n', host, '-o', 'link'], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
  const before = links();
  for (const version of ['0.4.0', '1.0.0']) {
    const l = list({ cniVersion: version, name: `real${version.replace(/\./g, '')}`, type: 'ptp', ipMasq: true, ipam: { type: 'host-local', subnet: '10.77.0.0/24', dataDir: data } });
    const prt = { containerId: `ctr-${version}`, netns: `/var/run/netns/${pod}`, ifName: 'eth0' };
    const r = await inv.add(l, prt);
    const ip = containerIPv4(r, 'eth0');
    assert.ok(ip && ip.ip.startsWith('10.77.0.'), JSON.stringify(r));
    assert.match(execFileSync('ip', ['-n', pod, 'addr', 'show', 'eth0'], { encoding: 'utf8' }), new RegExp(`inet ${ip!.ip.replace(/\./g, '\\.')}/`));
    assert.ok(readdirSync(join(data, l.name)).includes(ip!.ip), 'host-local recorded the lease');
    assert.match(execFileSync('ip', ['netns', 'exec', host, 'iptables-save', '-t', 'nat'], { encoding: 'utf8' }), new RegExp(ipMasqChainName(l.name, prt.containerId)));
    await inv.check(l, prt);
    await inv.del(l, prt);
    assert.ok(!readdirSync(join(data, l.name)).includes(ip!.ip), 'DEL released the lease');
    assert.doesNotMatch(execFileSync('ip', ['netns', 'exec', host, 'iptables-save', '-t', 'nat'], { encoding: 'utf8' }), new RegExp(ipMasqChainName(l.name, prt.containerId)));
    assert.equal(links(), before, 'the host end of the veth is gone');
  }
});

test('config files are data: writing and reading a conflist round-trips', () => {
  const f = join(base, '10-x.conflist');
  writeFileSync(f, JSON.stringify({ cniVersion: '1.0.0', name: 'x', disableCheck: true, plugins: [{ type: 'ptp', ipam: { type: 'host-local', subnet: '10.0.0.0/24' } }] }));
  const l = parseNetworkConfig(readFileSync(f, 'utf8'), f);
  assert.equal(l.disableCheck, true);
  assert.equal(l.source, f);
});
