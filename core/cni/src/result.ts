/**
 * CNI results of every supported version, read into one shape (the 1.0.0 one). 0.1.0/0.2.0
 * results (`ip4`/`ip6`) become `ips` entries; 0.3.x/0.4.0 `version` fields are dropped.
 */
import { invalidArgument } from '@rkt/api';
import { isSupportedVersion } from './conf.js';

export interface CniInterface {
  name: string;
  mac?: string;
  /** Set for interfaces inside the container's netns; absent for host-side ones. */
  sandbox?: string;
}
export interface CniIpConfig {
  /** CIDR, e.g. 172.16.28.2/24. */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}
export interface CniRoute {
  dst: string;
  gw?: string;
}
export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}
export interface CniResult {
  cniVersion: string;
  interfaces: CniInterface[];
  ips: CniIpConfig[];
  routes: CniRoute[];
  dns: CniDns;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
const strs = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);

function dnsOf(v: unknown): CniDns {
  const d = obj(v) ?? {};
  const out: CniDns = {};
  const ns = strs(d.nameservers);
  if (ns?.length) out.nameservers = ns;
  if (typeof d.domain === 'string' && d.domain) out.domain = d.domain;
  const s = strs(d.search);
  if (s?.length) out.search = s;
  const o = strs(d.options);
  if (o?.length) out.options = o;
  return out;
}

function routesOf(v: unknown): CniRoute[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((r) => {
    const o = obj(r);
    if (!o || typeof o.dst !== 'string') return [];
    return [{ dst: o.dst, ...(typeof o.gw === 'string' ? { gw: o.gw } : {}) }];
  });
}

/** Read a plugin's result (any supported version) into the 1.0.0 shape. */
export function normalizeResult(raw: unknown, where: string): CniResult {
  const r = obj(raw);
  if (!r) throw invalidArgument(`${where}: the plugin's result is not a JSON object`);
  const version = typeof r.cniVersion === 'string' ? r.cniVersion : '0.1.0';
  if (!isSupportedVersion(version)) throw invalidArgument(`${where}: result cniVersion ${JSON.stringify(r.cniVersion)} is not supported`);
  const out: CniResult = { cniVersion: version, interfaces: [], ips: [], routes: [], dns: dnsOf(r.dns) };
  if (version === '0.1.0' || version === '0.2.0') {
    for (const k of ['ip4', 'ip6']) {
      const ipc = obj(r[k]);
      if (!ipc || typeof ipc.ip !== 'string') continue;
      out.ips.push({ address: ipc.ip, ...(typeof ipc.gateway === 'string' ? { gateway: ipc.gateway } : {}) });
      out.routes.push(...routesOf(ipc.routes));
    }
    return out;
  }
  if (Array.isArray(r.interfaces))
    for (const i of r.interfaces) {
      const o = obj(i);
      if (!o || typeof o.name !== 'string') continue;
      out.interfaces.push({
        name: o.name,
        ...(typeof o.mac === 'string' ? { mac: o.mac } : {}),
        ...(typeof o.sandbox === 'string' && o.sandbox ? { sandbox: o.sandbox } : {}),
      });
    }
  if (Array.isArray(r.ips))
    for (const i of r.ips) {
      const o = obj(i);
      if (!o || typeof o.address !== 'string') continue;
      out.ips.push({
        address: o.address,
        ...(typeof o.gateway === 'string' ? { gateway: o.gateway } : {}),
        ...(typeof o.interface === 'number' ? { interface: o.interface } : {}),
      });
    }
  out.routes = routesOf(r.routes);
  return out;
}

/** The first IPv4 address of the container side (the interface named `ifName` when known). */
export function containerIPv4(r: CniResult, ifName?: string): { ip: string; prefix: number; gateway?: string } | undefined {
  return containerIP(r, 4, ifName);
}

/** The first IPv6 address of the container side (the interface named `ifName` when known). */
export function containerIPv6(r: CniResult, ifName?: string): { ip: string; prefix: number; gateway?: string } | undefined {
  return containerIP(r, 6, ifName);
}

function containerIP(r: CniResult, family: 4 | 6, ifName?: string): { ip: string; prefix: number; gateway?: string } | undefined {
  const inSandbox = (i: CniIpConfig) => {
    if (i.interface === undefined) return true;
    const itf = r.interfaces[i.interface];
    if (!itf) return true;
    return itf.sandbox !== undefined && (ifName === undefined || itf.name === ifName);
  };
  for (const i of r.ips) {
    const [ip, pfx] = i.address.split('/');
    if (!ip || ip.includes(':') !== (family === 6) || !inSandbox(i)) continue;
    return { ip, prefix: Number(pfx ?? (family === 6 ? 128 : 32)), ...(i.gateway ? { gateway: i.gateway } : {}) };
  }
  return undefined;
}

/** Host-side interfaces of a result (no `sandbox`). */
export function hostInterfaces(r: CniResult): string[] {
  return r.interfaces.filter((i) => i.sandbox === undefined).map((i) => i.name);
}
