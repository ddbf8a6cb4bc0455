/**
 * Which CNI networks a pod joins (rkt.md §6 "Loading"): rkt's two built-in networks, then
 * `<system-config>/net.d` and `<local-config>/net.d` (`*.conf` and `*.conflist`); a later
 * directory's network with the same name overrides an earlier one, and within one directory the
 * first file with a name wins. Nets are applied in lexicographic order of their file names, so
 * interfaces are eth0, eth1, … in that order. `all` means every loaded net.
 *
 * Every config is checked before the pod exists: the generic CNI rules (@rkt/cni), then the net
 * plugin that supplies each `type` (rkt.network.v1 contributions: schema and defaults), then that
 * each plugin binary is on CNI_PATH.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { invalidArgument, notFound, POINT_URIS, token, type NetConf, type Network } from '@rkt/api';
import { DEFAULT_CNI_PATH, findPluginBinary, parseNetworkConfig, type NetworkConfigList } from '@rkt/cni';
import type { ExtensionHost } from '../extension-host.js';

export interface NetRequest {
  name: string;
  /** Raw per-net args (`K=V;K2=V2`). */
  args: string;
}

export interface PodNet {
  name: string;
  args: Array<[string, string]>;
  list: NetworkConfigList;
  file: string;
}

export interface NetPlan {
  nets: PodNet[];
  cniPath: string[];
  /** Contributions by CNI type, for cleanup after DEL. */
  byType: Map<string, Network>;
}

/** rkt's built-in networks (shipped in its stage1 as 99-default*.conf). */
export const BUILTIN_NETS: Record<string, { file: string; conf: NetConf }> = {
  default: {
    file: '99-default.conf',
    conf: { cniVersion: '1.0.0', name: 'default', type: 'ptp', ipMasq: true, ipam: { type: 'host-local', subnet: '172.16.28.0/24', routes: [{ dst: '0.0.0.0/0' }] } },
  },
  'default-restricted': {
    file: '99-default-restricted.conf',
    conf: { cniVersion: '1.0.0', name: 'default-restricted', type: 'ptp', ipMasq: false, ipam: { type: 'host-local', subnet: '172.31.0.0/16' } },
  },
};

/** CNI_PATH: `$RKT_CNI_PATH` (colon list) first, then rkt's and the distributions' plugin dirs. */
export function cniPath(): string[] {
  const extra = (process.env.RKT_CNI_PATH ?? '').split(':').filter(Boolean);
  return [...extra, '/usr/lib/rkt/plugins/net', ...DEFAULT_CNI_PATH];
}

/** `K=V;K2=V2` → pairs (CNI_ARGS). */
export function parseCniArgs(s: string, net: string): Array<[string, string]> {
  if (s === '') return [];
  return s.split(';').map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw invalidArgument(`--net=${net}:${s}: argument ${JSON.stringify(kv)} must be KEY=VALUE`);
    const k = kv.slice(0, eq);
    const v = kv.slice(eq + 1);
    if (!/^[A-Za-z0-9_.-]+$/.test(k) || /[;\0]/.test(v)) throw invalidArgument(`--net=${net}:${s}: invalid argument ${JSON.stringify(kv)}`);
    return [k, v];
  });
}

interface Found {
  list: NetworkConfigList;
  file: string;
  /** Sort key: the file name. */
  key: string;
}

function readNetDir(dir: string): Found[] {
  if (!existsSync(dir)) return [];
  const out: Found[] = [];
  const seen = new Set<string>();
  for (const f of readdirSync(dir).sort()) {
    const kind = f.endsWith('.conflist') ? 'conflist' : f.endsWith('.conf') ? 'conf' : undefined;
    if (!kind) continue;
    const file = join(dir, f);
    const list = parseNetworkConfig(readFileSync(file, 'utf8'), file, kind);
    if (seen.has(list.name)) continue;
    seen.add(list.name);
    out.push({ list, file, key: f });
  }
  return out;
}

/** Every network known to this rkt, by name (built-ins, then system, then local net.d). */
export function loadNetConfigs(dirs: { systemConfigDir: string; localConfigDir: string }, log?: (m: string) => void): Map<string, Found> {
  const nets = new Map<string, Found>();
  for (const [name, b] of Object.entries(BUILTIN_NETS))
    nets.set(name, { list: parseNetworkConfig(JSON.stringify(b.conf), `built-in ${b.file}`), file: `built-in ${b.file}`, key: b.file });
  for (const dir of [join(dirs.systemConfigDir, 'net.d'), join(dirs.localConfigDir, 'net.d')]) {
    for (const f of readNetDir(dir)) {
      if (nets.has(f.list.name)) log?.(`overriding ${JSON.stringify(f.list.name)} network with one from ${f.file}`);
      nets.set(f.list.name, f);
    }
  }
  return nets;
}

/** The Network contributions, by the CNI types they supply (broken or skipped ones left out). */
export async function networkPlugins(host: ExtensionHost): Promise<Map<string, Network>> {
  const byType = new Map<string, Network>();
  const tok = token<Network>(POINT_URIS.network);
  for (const rec of host.candidates(POINT_URIS.network)) {
    try {
      const n = await host.activate(tok, rec.decl.id);
      for (const t of n.cniTypes) if (!byType.has(t)) byType.set(t, n);
    } catch {
      // recorded by the host (rkt plugins shows why); the binary check below names the type
    }
  }
  return byType;
}

/** Resolve `--net` names to validated configurations, before any pod exists. */
export async function planNetworks(
  host: ExtensionHost,
  requested: readonly NetRequest[],
  dirs: { systemConfigDir: string; localConfigDir: string },
  log?: (m: string) => void,
): Promise<NetPlan> {
  const all = loadNetConfigs(dirs, log);
  const wanted = new Map<string, string>();
  const wantAll = requested.some((r) => r.name === 'all');
  for (const r of requested) if (r.name !== 'all') wanted.set(r.name, r.args);
  const missing = [...wanted.keys()].filter((n) => !all.has(n));
  if (missing.length) throw notFound(`networks not found: ${missing.join(', ')}`, { suggestions: [`network configs are read from ${join(dirs.localConfigDir, 'net.d')} and ${join(dirs.systemConfigDir, 'net.d')}`] });
  const chosen = [...all.values()].filter((f) => wantAll || wanted.has(f.list.name)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const byType = await networkPlugins(host);
  const path = cniPath();
  const nets: PodNet[] = [];
  for (const f of chosen) {
    for (const [i, p] of f.list.plugins.entries()) {
      const net = byType.get(p.type);
      const conf = { ...p, name: f.list.name, cniVersion: f.list.cniVersion } as NetConf;
      const where = f.list.plugins.length > 1 ? `${f.file} (plugins[${i}])` : f.file;
      net?.validate(conf, where);
      for (const t of [p.type, (p.ipam as { type?: string } | undefined)?.type].filter((x): x is string => typeof x === 'string'))
        if (!findPluginBinary(t, path)) throw notFound(`${where}: network ${JSON.stringify(f.list.name)}: CNI plugin ${JSON.stringify(t)} not found in CNI_PATH (${path.join(':')})`);
    }
    // CNI CONVENTIONS: IgnoreUnknown=1 lets plugins that do not know an argument (bridge and IP=)
    // pass it on to the one that does (host-local), as kubelet and cnitool do.
    const args = parseCniArgs(wanted.get(f.list.name) ?? '', f.list.name);
    if (args.length && !args.some(([k]) => k === 'IgnoreUnknown')) args.unshift(['IgnoreUnknown', '1']);
    nets.push({ name: f.list.name, args, list: f.list, file: f.file });
  }
  return { nets, cniPath: path, byType };
}

export const netnsName = (uuid: string) => `rkt-${uuid}`;
export const netnsPath = (uuid: string) => `/var/run/netns/${netnsName(uuid)}`;
export const confBase = (file: string) => basename(file);

/** `--net` as passed on (`netListString`) → the plan for contained networking, or undefined for host/none. */
export async function planPodNetworks(
  engine: { host: ExtensionHost; context: { paths: { systemConfigDir: string; localConfigDir: string } } },
  net: string,
  log?: (m: string) => void,
): Promise<NetPlan | undefined> {
  const { parseNetFlags, hostOrNoneNet } = await import('../pods/options.js');
  if (hostOrNoneNet(net)) return undefined;
  const nets = parseNetFlags([net]);
  return planNetworks(engine.host, nets, engine.context.paths, log);
}
