/**
 * Conformance suite for rkt.network.v1 contributions (net plugins). Every net plugin package runs
 *
 *   networkSuite('ptp', () => cniNetwork(spec), { invalid: [...], ... });
 *
 * It checks the contract (id, CNI types, defaults that validate, binary lookup that refuses paths),
 * the validation errors (each must be INVALID_ARGUMENT naming the source and the field), and then
 * drives the real CNI binary with the plugin's defaults through @rkt/cni's invoker, for each CNI
 * spec version the runtime speaks (0.4.0, 1.0.0): ADD, CHECK, DEL, and the plugin's cleanup after
 * a lost netns. All of it happens in two network namespaces the suite creates (a "host" and a
 * pod); the plugin processes run inside the "host" one, never in the machine's own namespace.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInvalidArgument, type NetConf, type Network } from '@rkt/api';
import { CURRENT_VERSIONS, CniInvoker, DEFAULT_CNI_PATH, containerIPv4, networkConfigFrom, type PluginExec } from '@rkt/cni';

export interface NetworkSuiteOptions {
  /** Configs the plugin must refuse, with what the error must say (the field's name). */
  invalid: Array<{ conf: NetConf; error: RegExp }>;
  /** A subnet (x.y.z.0/24) the suite may use for its IPAM. */
  subnet: string;
  /** Prepare the suite's "host" netns (e.g. the master interface of a macvlan). */
  setupHost?(ip: (args: string[]) => void): void;
  /** Adjust the defaults for the suite's "host" netns (e.g. `master`). */
  adapt?(conf: NetConf): NetConf;
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

const canRun = () => process.getuid?.() === 0 && spawnSync('ip', ['-V']).status === 0;

export function networkSuite(name: string, factory: () => Network | Promise<Network>, o: NetworkSuiteOptions): void {
  describe(`rkt.network.v1 conformance: ${name}`, () => {
    let net: Network;
    const tag = `rkt-nsuite-${process.pid}-${name}`.slice(0, 28);
    const host = `${tag}-h`;
    const pod = `${tag}-p`;
    const work = mkdtempSync(join(tmpdir(), `rkt-netsuite-${name}-`));
    let real = false;

    before(async () => {
      net = await factory();
      real = canRun() && net.cniTypes.every((t) => net.findBinary(t, DEFAULT_CNI_PATH) !== undefined);
      if (!real) return;
      ip(['netns', 'add', host]);
      ip(['-n', host, 'link', 'set', 'lo', 'up']);
      o.setupHost?.((args) => ip(['-n', host, ...args]));
    });
    after(() => {
      spawnSync('ip', ['netns', 'del', pod]);
      spawnSync('ip', ['netns', 'del', host]);
      rmSync(work, { recursive: true, force: true });
    });

    it('declares an id and CNI types; its defaults validate and name the network', () => {
      assert.match(net.id, /^[a-z][a-z0-9-]*$/);
      assert.ok(net.cniTypes.length > 0);
      for (const t of net.cniTypes) assert.match(t, /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/);
      const d = net.defaults('suite-net');
      assert.equal(d.name, 'suite-net');
      assert.ok(net.cniTypes.includes(String(d.type)), `defaults().type ${String(d.type)} is one of cniTypes`);
      net.validate(d, 'defaults');
      assert.doesNotThrow(() => networkConfigFrom(d, 'defaults'), 'the defaults are a valid CNI config');
    });

    it('refuses bad configs with INVALID_ARGUMENT naming the source and the field', () => {
      const wrongType = { ...net.defaults('x'), type: 'definitely-not-this' };
      const cases = [...o.invalid, { conf: wrongType, error: /"type" must be/ }];
      for (const { conf, error } of cases) {
        assert.throws(
          () => net.validate(conf, '/etc/rkt/net.d/10-suite.conf'),
          (e: unknown) => {
            assert.ok(isInvalidArgument(e), `INVALID_ARGUMENT for ${JSON.stringify(conf)}`);
            assert.match((e as Error).message, /^\/etc\/rkt\/net\.d\/10-suite\.conf: /);
            assert.match((e as Error).message, error);
            return true;
          },
        );
      }
    });

    it('finds its binary on a CNI path and never resolves a path-like type', () => {
      for (const t of net.cniTypes) {
        const b = net.findBinary(t, ['/nonexistent', ...DEFAULT_CNI_PATH]);
        if (b !== undefined) assert.ok(b.startsWith('/') && b.endsWith(`/${t}`), b);
        assert.equal(net.findBinary(`../${t}`, DEFAULT_CNI_PATH), undefined);
        assert.equal(net.findBinary(`/usr/lib/cni/${t}`, DEFAULT_CNI_PATH), undefined);
      }
      assert.equal(net.findBinary(net.cniTypes[0]!, ['/nonexistent']), undefined);
    });

    for (const version of CURRENT_VERSIONS) {
      it(`CNI ${version}: ADD gives the pod an address, CHECK passes, DEL and cleanup leave no link, lease or rule`, async (t) => {
        if (!real) return t.skip('needs root, iproute2 and the CNI binary');
        spawnSync('ip', ['netns', 'del', pod]);
        ip(['netns', 'add', pod]);
        const wrap = ['nsenter', `--net=/var/run/netns/${host}`];
        const exec: PluginExec = async (r) => {
          const p = spawnSync('nsenter', [`--net=/var/run/netns/${host}`, r.binary], { input: r.stdin, env: r.env, encoding: 'utf8' });
          return { exitCode: p.status ?? -1, stdout: p.stdout, stderr: p.stderr };
        };
        const links = () => spawnSync('ip', ['-n', host, '-o', '-d', 'link'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l && !/ bridge forward_delay /.test(l)).length;
        const nat = () => spawnSync('ip', ['netns', 'exec', host, 'iptables-save', '-t', 'nat'], { encoding: 'utf8' }).stdout;
        const before = links();
        const data = join(work, `ipam-${version}`);
        const netName = `suite${version.replace(/\./g, '')}`;
        let conf: NetConf = { ...net.defaults(netName), cniVersion: version };
        conf = o.adapt ? o.adapt(conf) : conf;
        conf = { ...conf, ipam: { type: 'host-local', subnet: o.subnet, dataDir: data } };
        net.validate(conf, 'suite');
        const list = networkConfigFrom(conf, 'suite');
        const inv = new CniInvoker({ cniPath: [...DEFAULT_CNI_PATH], cacheDir: join(work, `cache-${version}`), exec });
        const rt = { containerId: `suite-${name}-${version}`, netns: `/var/run/netns/${pod}`, ifName: 'eth0' };
        const r = await inv.add(list, rt);
        const addr = containerIPv4(r, 'eth0');
        assert.ok(addr, `an IPv4 address in ${JSON.stringify(r)}`);
        assert.match(spawnSync('ip', ['-n', pod, '-4', 'addr', 'show', 'eth0'], { encoding: 'utf8' }).stdout, new RegExp(`inet ${addr!.ip.replace(/\./g, '\\.')}/`));
        assert.ok(readdirSync(join(data, netName)).includes(addr!.ip));
        await inv.check(list, rt);
        await inv.del(list, rt);
        assert.deepEqual(await (net.cleanup?.(conf, rt.containerId, { wrap }) ?? Promise.resolve([])), []);
        assert.ok(!readdirSync(join(data, netName)).includes(addr!.ip), 'the lease is released');
        assert.equal(links(), before, 'no host link is left (a bridge device itself excepted, as CNI DEL keeps it)');
        assert.doesNotMatch(nat(), new RegExp(rt.containerId));

        // A lost netns (a reboot): DEL cannot see the interface; cleanup removes what it left.
        const rt2 = { ...rt, containerId: `${rt.containerId}-lost` };
        const r2 = await inv.add(list, rt2);
        const addr2 = containerIPv4(r2, 'eth0')!;
        ip(['netns', 'del', pod]);
        await inv.del(list, rt2);
        assert.deepEqual(await (net.cleanup?.(conf, rt2.containerId, { wrap }) ?? Promise.resolve([])), []);
        assert.ok(!readdirSync(join(data, netName)).includes(addr2.ip), 'the lease is released without the netns');
        assert.doesNotMatch(nat(), new RegExp(rt2.containerId), 'no masquerade rule is left');
        assert.equal(links(), before);
        assert.ok(!existsSync(`/var/run/netns/${pod}`));
      });
    }
  });
}
