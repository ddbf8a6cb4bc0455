/**
 * A pod's contained networking, done by stage0 before the stage1 run entrypoint starts:
 *
 *   1. a named netns `rkt-<uuid>` (`ip netns add`, so it lives as a bind mount under
 *      /var/run/netns independent of any process); its path is written to `$pod/netns`;
 *   2. one CNI ADD per network, interfaces eth0, eth1, … (`$pod/net/` keeps each config and the
 *      CNI result cache, so DEL gets exactly what ADD used and returned);
 *   3. `$pod/net-info.json` (rkt's format: netName, netConf, pluginPath, ifName, ip, args, mask,
 *      plus hostIP/gateway/dns), written before each ADD too, so that a crash mid-way is undone;
 *   4. `--port` forwarding (ports.ts).
 *
 * Teardown (pod exit, stop, rm, gc) is idempotent and runs under `$pod/net/lock`: port chains,
 * CNI DEL in reverse order (with the cached config, so a changed or deleted net.d file does not
 * matter), each net plugin's cleanup of what DEL cannot reach when the netns is gone (masquerade
 * chains after a reboot), then `ip netns del`. `$pod/net/down` records that it is done.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { RktError, ErrorCodes, formatError, type PodManifest } from '@rkt/api';
import { CniInvoker, configListJson, containerIPv4, containerIPv6, findPluginBinary, hostInterfaces, networkConfigFrom, type CniDns, type CniResult } from '@rkt/cni';
import { openKeyLock } from '../pods/lock.js';
import { netnsName, netnsPath, type NetPlan, type PodNet } from './config.js';
import { forwardPorts, removePortForwards, resolvePorts } from './ports.js';
import type { Engine } from '../engine.js';
import { mark } from '../timing.js';
import type { Pod } from '../pods/pod.js';
import type { DnsConfig } from '../pods/options.js';

export const NetFiles = {
  netns: 'netns',
  netInfo: 'net-info.json',
  dir: 'net',
  lock: 'net/lock',
  down: 'net/down',
  /** Present once port forwarding was (being) set up. */
  ports: 'net/ports',
} as const;

export interface NetInfoEntry {
  netName: string;
  netConf: string;
  pluginPath: string;
  ifName: string;
  ip?: string;
  mask?: string;
  gateway?: string;
  hostIP?: string;
  /** The first IPv6 address, with its prefix length (`fd00::2/64`), when the network gave one. */
  ip6?: string;
  hostInterfaces?: string[];
  args: string;
  ipMasq: boolean;
  dns?: CniDns;
  /** Set while ADD has not completed. */
  pending?: boolean;
}

export interface PodNetResult {
  entries: NetInfoEntry[];
  netnsPath: string;
  /** The first network result with DNS settings. */
  dns?: { net: string; dns: CniDns };
}

function ipCmd(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.error) throw new RktError(ErrorCodes.UNAVAILABLE, `cannot run ip (iproute2): ${r.error.message}`);
  if (r.status !== 0) throw new RktError(ErrorCodes.INTERNAL, `ip ${args.join(' ')}: ${String(r.stderr).trim()}`);
}

function writeJsonAtomic(file: string, v: unknown): void {
  writeFileSync(file + '.tmp', JSON.stringify(v, null, 1), { mode: 0o640 });
  renameSync(file + '.tmp', file);
}

function maskOf(prefix: number): string {
  const m = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (m >>> s) & 0xff).join('.');
}

const hasIpMasq = (n: PodNet) => n.list.plugins.some((p) => p.ipMasq === true);

/** Give every host-local IPAM section a data dir inside rkt's data dir (unless the config sets one). */
export function withIpamDataDir(n: PodNet, dataDir: string): PodNet {
  const plugins = n.list.plugins.map((p) => {
    const ipam = p.ipam as Record<string, unknown> | undefined;
    if (!ipam || ipam.type !== 'host-local' || ipam.dataDir !== undefined) return p;
    return { ...p, ipam: { ...ipam, dataDir: join(dataDir, 'networks', 'host-local') } };
  });
  return { ...n, list: { ...n.list, plugins } };
}

export async function setupPodNetwork(
  podPath: string,
  uuid: string,
  plan: NetPlan,
  o: { dataDir: string; manifest: PodManifest; debug(m: string): void; log(m: string): void },
): Promise<PodNetResult> {
  const netDir = join(podPath, NetFiles.dir);
  mkdirSync(join(netDir, 'conf'), { recursive: true, mode: 0o750 });
  const ports = resolvePorts(o.manifest);
  const path = netnsPath(uuid);
  const entries: NetInfoEntry[] = [];
  let ok = false;
  try {
    writeFileSync(join(podPath, NetFiles.netns), path + '\n', { mode: 0o640 });
    ipCmd(['netns', 'add', netnsName(uuid)]);
    ipCmd(['-n', netnsName(uuid), 'link', 'set', 'lo', 'up']);
    const inv = new CniInvoker({ cniPath: plan.cniPath, cacheDir: join(netDir, 'cache'), debug: o.debug });
    let dns: PodNetResult['dns'];
    for (const [i, raw] of plan.nets.entries()) {
      const n = withIpamDataDir(raw, o.dataDir);
      const ifName = `eth${i}`;
      const confFile = join(netDir, 'conf', `${ifName}-${n.name}.conflist`);
      writeFileSync(confFile, JSON.stringify(configListJson(n.list), null, 1), { mode: 0o640 });
      const e: NetInfoEntry = {
        netName: n.name,
        netConf: confFile,
        pluginPath: findPluginBinary(n.list.plugins[0]!.type, plan.cniPath) ?? '',
        ifName,
        args: n.args.map(([k, v]) => `${k}=${v}`).join(';'),
        ipMasq: hasIpMasq(n),
        pending: true,
      };
      entries.push(e);
      writeJsonAtomic(join(podPath, NetFiles.netInfo), entries);
      const r: CniResult = await inv.add(n.list, { containerId: uuid, netns: path, ifName, args: n.args });
      const ip = containerIPv4(r, ifName);
      if (ip) {
        e.ip = ip.ip;
        e.mask = maskOf(ip.prefix);
        if (ip.gateway) e.gateway = ip.gateway;
      }
      const ip6 = containerIPv6(r, ifName);
      if (ip6) e.ip6 = `${ip6.ip}/${ip6.prefix}`;
      const hosts = hostInterfaces(r);
      if (hosts.length) {
        e.hostInterfaces = hosts;
        // ptp and bridge give the host side the gateway address; otherwise ask the interface.
        const hip = e.gateway ?? hostIPv4(hosts[0]!);
        if (hip) e.hostIP = hip;
      }
      if (r.dns.nameservers?.length) {
        e.dns = r.dns;
        if (!dns) dns = { net: n.name, dns: r.dns };
        else o.log(`network ${JSON.stringify(n.name)} also returned DNS settings; using those of ${JSON.stringify(dns.net)}`);
      }
      delete e.pending;
      writeJsonAtomic(join(podPath, NetFiles.netInfo), entries);
    }
    if (ports.length) {
      const target = entries.find((e) => e.ipMasq) ?? entries[entries.length - 1];
      if (!target?.ip) throw new RktError(ErrorCodes.FAILED_PRECONDITION, '--port: no network gave the pod an IPv4 address to forward to');
      writeFileSync(join(podPath, NetFiles.ports), JSON.stringify(ports), { mode: 0o640 });
      forwardPorts(uuid, target.ip, target.hostInterfaces ?? [], ports);
    }
    ok = true;
    return { entries, netnsPath: path, ...(dns ? { dns } : {}) };
  } finally {
    if (!ok) {
      const problems = await teardownPodNetwork(podPath, uuid, plan.byType, o.debug);
      for (const p of problems) o.log(`network teardown after a failed setup: ${p}`);
    }
  }
}

/** The first IPv4 address of a host interface (in the current netns). */
function hostIPv4(ifName: string): string | undefined {
  const r = spawnSync('ip', ['-o', '-4', 'addr', 'show', 'dev', ifName], { encoding: 'utf8' });
  const m = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(String(r.stdout ?? ''));
  return m?.[1];
}

export function readNetInfo(podPath: string): NetInfoEntry[] {
  try {
    const v = JSON.parse(readFileSync(join(podPath, NetFiles.netInfo), 'utf8')) as unknown;
    return Array.isArray(v) ? (v as NetInfoEntry[]) : [];
  } catch {
    return [];
  }
}

/** Whether the pod has contained networking that is not torn down yet. */
export function needsTeardown(podPath: string): boolean {
  return existsSync(join(podPath, NetFiles.netns)) && !existsSync(join(podPath, NetFiles.down));
}

/**
 * Undo everything setupPodNetwork did, as far as it got. Never throws for a missing piece;
 * returns the problems met (the pod's files are kept for a retry when there are any).
 */
export async function teardownPodNetwork(
  podPath: string,
  uuid: string,
  byType: ReadonlyMap<string, { cleanup?(conf: Record<string, unknown> & { name: string }, containerId: string): Promise<string[]> }>,
  debug: (m: string) => void = () => undefined,
): Promise<string[]> {
  if (!needsTeardown(podPath)) return [];
  const netDir = join(podPath, NetFiles.dir);
  mkdirSync(netDir, { recursive: true, mode: 0o750 });
  const lock = openKeyLock(join(podPath, NetFiles.lock));
  const problems: string[] = [];
  try {
    lock.exclusive();
    if (!needsTeardown(podPath)) return [];
    const path = readFileSync(join(podPath, NetFiles.netns), 'utf8').trim();
    if (existsSync(join(podPath, NetFiles.ports))) problems.push(...removePortForwards(uuid));
    // With the netns still there, the plugins' DEL removes what they added; without it (a reboot,
    // a lost netns) or when DEL failed, the net plugins clean up what DEL could not reach.
    const netnsGone = !existsSync(path);
    const entries = readNetInfo(podPath);
    const { cniPath } = await import('./config.js');
    const inv = new CniInvoker({ cniPath: cniPath(), cacheDir: join(netDir, 'cache'), debug });
    for (const e of [...entries].reverse()) {
      // The pod dir moves (run → exited-garbage): the config copy is found relative to it.
      const rt = { containerId: uuid, netns: path, ifName: e.ifName, networkName: e.netName };
      const confFile = join(netDir, 'conf', basename(e.netConf));
      let conf;
      try {
        conf = networkConfigFrom(JSON.parse(readFileSync(confFile, 'utf8')), confFile, 'conflist');
      } catch {
        const cached = inv.cached(e.netName, rt);
        conf = cached ? networkConfigFrom(cached.config, `cached config of network ${JSON.stringify(e.netName)}`, 'conflist') : undefined;
      }
      let delFailed = false;
      try {
        await inv.del(conf, rt);
      } catch (err) {
        delFailed = true;
        problems.push(formatError(err));
      }
      if (!netnsGone && !delFailed) continue;
      for (const p of conf?.plugins ?? []) {
        const n = byType.get(p.type);
        if (n?.cleanup) problems.push(...(await n.cleanup({ ...p, name: e.netName }, uuid)));
      }
    }
    const ns = spawnSync('ip', ['netns', 'del', netnsName(uuid)], { encoding: 'utf8' });
    if (ns.status !== 0 && !/No such file/.test(String(ns.stderr))) problems.push(`ip netns del ${netnsName(uuid)}: ${String(ns.stderr).trim()}`);
    if (problems.length === 0) writeFileSync(join(podPath, NetFiles.down), '', { mode: 0o640 });
    return problems;
  } finally {
    lock.close();
  }
}

/** Teardown for commands that have an extension host at hand (stop, rm, gc, run). */
export async function teardownWithPlugins(
  host: import('../extension-host.js').ExtensionHost,
  podPath: string,
  uuid: string,
  log: (m: string) => void,
  debug: (m: string) => void = () => undefined,
): Promise<boolean> {
  if (!needsTeardown(podPath)) return true;
  const { networkPlugins } = await import('./config.js');
  const problems = await teardownPodNetwork(podPath, uuid, await networkPlugins(host), debug);
  for (const p of problems) log(`network teardown of pod ${JSON.stringify(uuid)}: ${p}`);
  return problems.length === 0;
}

export function removeNetFiles(podPath: string): void {
  rmSync(join(podPath, NetFiles.dir), { recursive: true, force: true });
}

/**
 * resolv.conf precedence (rkt.md §6): `--dns*` flags win; otherwise the first network result with
 * DNS settings is used (`# Generated by rkt from network <name>`); `--dns=none`/`host` stay.
 */
export function dnsWithCni(dns: DnsConfig, r: PodNetResult): DnsConfig {
  if (dns.resolvMode !== 'default' || !r.dns) return dns;
  const d = r.dns.dns;
  return {
    ...dns,
    resolvMode: 'stage0',
    nameservers: d.nameservers ?? [],
    search: d.search ?? [],
    options: d.options ?? [],
    domain: d.domain ?? '',
    header: `# Generated by rkt from network ${r.dns.net}\n`,
  };
}

/** runPod's step: set the pod's networks up and return the DNS config to write. */
export async function setupForPod(
  engine: Engine,
  pod: Pod,
  manifest: PodManifest,
  plan: NetPlan,
  dns: DnsConfig,
  o: { log(m: string): void; debug(m: string): void },
): Promise<DnsConfig> {
  mark('stage0: network setup');
  const r = await setupPodNetwork(pod.path, pod.uuid, plan, { dataDir: engine.context.paths.dataDir, manifest, log: o.log, debug: o.debug });
  mark('stage0: network up');
  for (const e of r.entries) o.debug(`network ${e.netName}: ${e.ifName} ${e.ip ?? '(no IPv4)'}${e.ip6 ? ` ${e.ip6}` : ''}${e.hostIP ? ` via host ${e.hostIP}` : ''}`);
  return dnsWithCni(dns, r);
}

/** Run the pod (`start` spawns stage1), then tear its networks down when stage1 has exited. */
export async function tearDownAfter<T>(engine: Engine, pod: Pod, o: { log(m: string): void; debug(m: string): void }, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } finally {
    mark('stage0: network teardown');
    pod.refresh();
    if (pod.dir) await teardownWithPlugins(engine.host, pod.path, pod.uuid, o.log, o.debug);
    mark('stage0: network down');
  }
}
