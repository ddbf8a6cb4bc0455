/**
 * Stage0 networking without the network: net.d loading (built-ins, system then local, override by
 * name, first file wins in a dir, file-name order), planning (`all`, unknown names, validation by
 * the net plugin, IgnoreUnknown with args), host-local data dir, DNS precedence, port resolution.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExtensionHost } from '../src/runtime/extension-host.js';
import { cniNetwork } from '@rkt/cni';
import { spec as macvlanSpec } from '@rkt/net-macvlan';
import { loadNetConfigs, parseCniArgs, planNetworks } from '../src/runtime/net/config.js';
import { dnsWithCni, withIpamDataDir } from '../src/runtime/net/pod-net.js';
import { resolvePorts } from '../src/runtime/net/ports.js';
import { parseDns } from '../src/runtime/pods/options.js';

const base = mkdtempSync(join(tmpdir(), 'rkt-net-unit-'));
after(() => rmSync(base, { recursive: true, force: true }));
const dirs = { systemConfigDir: join(base, 'sys'), localConfigDir: join(base, 'local') };
const put = (dir: string, file: string, doc: unknown) => {
  mkdirSync(join(dir, 'net.d'), { recursive: true });
  writeFileSync(join(dir, 'net.d', file), typeof doc === 'string' ? doc : JSON.stringify(doc));
};
const ptp = (name: string, subnet: string) => ({ cniVersion: '1.0.0', name, type: 'ptp', ipam: { type: 'host-local', subnet } });

// A host with only the macvlan contribution activated (the others are unknown types here).
const host = {
  candidates: () => [{ decl: { id: 'macvlan' } }],
  activate: async () => cniNetwork(macvlanSpec),
} as unknown as ExtensionHost;

test('net.d: built-ins, system then local (override by name, logged), first file wins within a dir, .conflist, order by file name', async () => {
  put(dirs.systemConfigDir, '50-sys.conf', ptp('sysnet', '10.10.0.0/24'));
  put(dirs.systemConfigDir, '60-over.conf', ptp('default', '10.11.0.0/24'));
  put(dirs.localConfigDir, '05-chain.conflist', { cniVersion: '1.0.0', name: 'chain', plugins: [{ type: 'ptp', ipam: { type: 'host-local', subnet: '10.12.0.0/24' } }, { type: 'tuning' }] });
  put(dirs.localConfigDir, '20-a.conf', ptp('dup', '10.13.0.0/24'));
  put(dirs.localConfigDir, '30-b.conf', ptp('dup', '10.14.0.0/24'));
  put(dirs.localConfigDir, 'README', 'not a config');
  const logs: string[] = [];
  const all = loadNetConfigs(dirs, (m) => logs.push(m));
  assert.deepEqual([...all.keys()].sort(), ['chain', 'default', 'default-restricted', 'dup', 'sysnet']);
  assert.equal((all.get('default')!.list.plugins[0]!.ipam as { subnet: string }).subnet, '10.11.0.0/24');
  assert.match(logs.join('\n'), /overriding "default" network with one from .*60-over\.conf/);
  assert.equal((all.get('dup')!.list.plugins[0]!.ipam as { subnet: string }).subnet, '10.13.0.0/24', 'first file in a dir wins');
  assert.equal(all.get('default-restricted')!.list.plugins[0]!.ipMasq, false);
  const plan = await planNetworks(host, [{ name: 'all', args: '' }], dirs);
  assert.deepEqual(plan.nets.map((n) => n.name), ['chain', 'dup', 'sysnet', 'default', 'default-restricted'].sort((a, b) => {
    const key: Record<string, string> = { chain: '05-chain.conflist', dup: '20-a.conf', sysnet: '50-sys.conf', default: '60-over.conf', 'default-restricted': '99-default-restricted.conf' };
    return key[a]! < key[b]! ? -1 : 1;
  }));
  rmSync(join(dirs.localConfigDir, 'net.d'), { recursive: true });
  rmSync(join(dirs.systemConfigDir, 'net.d'), { recursive: true });
});

test('planning: unknown names, per-net args with IgnoreUnknown, validation by the net plugin naming file and field', async () => {
  await assert.rejects(planNetworks(host, [{ name: 'x', args: '' }, { name: 'y', args: '' }], dirs), /networks not found: x, y/);
  const p = await planNetworks(host, [{ name: 'default', args: 'IP=172.16.28.9' }], dirs);
  assert.deepEqual(p.nets[0]!.args, [['IgnoreUnknown', '1'], ['IP', '172.16.28.9']]);
  assert.ok(p.cniPath.includes('/usr/lib/cni'));
  put(dirs.localConfigDir, '10-mv.conf', { cniVersion: '1.0.0', name: 'mv', type: 'macvlan', mode: 'bridge', ipam: { type: 'host-local', subnet: '10.20.0.0/24' } });
  await assert.rejects(planNetworks(host, [{ name: 'mv', args: '' }], dirs), /10-mv\.conf: network "mv" \(macvlan\): "master" is required/);
  put(dirs.localConfigDir, '10-mv.conf', { cniVersion: '1.0.0', name: 'mv', type: '../../x' });
  await assert.rejects(planNetworks(host, [{ name: 'mv', args: '' }], dirs), /10-mv\.conf: network\.type .*plain executable name/);
  rmSync(join(dirs.localConfigDir, 'net.d'), { recursive: true });
  assert.throws(() => parseCniArgs('IP', 'n'), /--net=n:IP: argument "IP" must be KEY=VALUE/);
  assert.throws(() => parseCniArgs('A B=1', 'n'), /invalid argument/);
  assert.deepEqual(parseCniArgs('A=1;B=x=y', 'n'), [['A', '1'], ['B', 'x=y']]);
});

test('host-local leases go to the rkt data dir unless the config chooses one', async () => {
  const p = await planNetworks(host, [{ name: 'default', args: '' }], dirs);
  const n = withIpamDataDir(p.nets[0]!, '/var/lib/rkt');
  assert.equal((n.list.plugins[0]!.ipam as { dataDir: string }).dataDir, '/var/lib/rkt/networks/host-local');
  const own = { ...p.nets[0]!, list: { ...p.nets[0]!.list, plugins: [{ ...p.nets[0]!.list.plugins[0]!, ipam: { type: 'host-local', subnet: '10.0.0.0/24', dataDir: '/srv/ipam' } }] } };
  assert.equal((withIpamDataDir(own, '/var/lib/rkt').list.plugins[0]!.ipam as { dataDir: string }).dataDir, '/srv/ipam');
});

test('resolv.conf: --dns flags win; otherwise the first CNI result with DNS; --dns=none stays', () => {
  const none = { dns: [], search: [], opt: [], domain: '', hostsEntries: [] };
  const r = { entries: [], netnsPath: '/x', dns: { net: 'br', dns: { nameservers: ['10.0.0.53'], search: ['a.b'], options: ['ndots:2'] } } };
  const d = dnsWithCni(parseDns(none), r);
  assert.equal(d.resolvMode, 'stage0');
  assert.deepEqual(d.nameservers, ['10.0.0.53']);
  assert.match(d.header ?? '', /^# Generated by rkt from network br\n$/);
  assert.equal(dnsWithCni(parseDns({ ...none, dns: ['8.8.8.8'] }), r).nameservers[0], '8.8.8.8');
  assert.equal(dnsWithCni(parseDns({ ...none, dns: ['none'] }), r).resolvMode, 'none');
  assert.equal(dnsWithCni(parseDns(none), { entries: [], netnsPath: '/x' }).resolvMode, 'default');
});

test('--port resolves the app port and protocol; unknown names and protocols are refused', () => {
  const pm = {
    acVersion: '0.8.11',
    acKind: 'PodManifest',
    apps: [{ name: 'web', image: { id: 'sha512-x' }, app: { exec: ['/x'], user: '0', group: '0', ports: [{ name: 'http', protocol: 'tcp', port: 80 }, { name: 'dns', protocol: 'udp', port: 53 }] } }],
    ports: [{ name: 'http', hostPort: 8080 }, { name: 'dns', hostPort: 5353, hostIP: '127.0.0.1' }],
  } as never;
  assert.deepEqual(resolvePorts(pm), [
    { name: 'http', protocol: 'tcp', hostPort: 8080, podPort: 80 },
    { name: 'dns', protocol: 'udp', hostIP: '127.0.0.1', hostPort: 5353, podPort: 53 },
  ]);
  assert.throws(() => resolvePorts({ ...(pm as object), ports: [{ name: 'nope', hostPort: 1 }] } as never), /port name "nope" could not be found/);
});
