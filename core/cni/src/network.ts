/**
 * What a net plugin package (`rkt.network.v1`) is made of: the CNI types it supplies, a schema of
 * its config fields with defaults, and the binary lookup. `cniNetwork(spec)` turns that data into
 * a `Network`; validation errors name the file and the field (`/etc/rkt/net.d/10-x.conf: "mode"
 * must be one of …`).
 */
import { defineContribution, invalidArgument, Network, type NetConf } from '@rkt/api';
import { findPluginBinary } from './invoke.js';
import { pluginTypeError } from './conf.js';
import { removeIpMasq } from './ipmasq.js';

export type FieldSpec =
  | { type: 'string'; required?: boolean; enum?: readonly string[]; pattern?: RegExp; check?(v: string): string | undefined; doc?: string }
  | { type: 'boolean'; required?: boolean; doc?: string }
  | { type: 'integer'; required?: boolean; min?: number; max?: number; doc?: string }
  | { type: 'object'; required?: boolean; doc?: string }
  | { type: 'array'; required?: boolean; doc?: string };

export interface CniNetworkSpec {
  id: string;
  /** The main CNI type (first) and any other types this package supplies. */
  cniTypes: readonly string[];
  /** Fields of the main plugin's config, beyond cniVersion/name/type/ipam. */
  fields: Record<string, FieldSpec>;
  /** A default config for a network called `name`. */
  defaults(name: string): NetConf;
  /** Checks across fields, after the schema; return an error text naming the field. */
  crossCheck?(conf: NetConf): string | undefined;
  /** The plugin installs CNI's `ipMasq` chain: remove it when DEL could not (netns gone). */
  ipMasq?: boolean;
}

export function isIPv4(s: string): boolean {
  const p = s.split('.');
  return p.length === 4 && p.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255);
}

export function isIPv4Cidr(s: string): boolean {
  const [ip, len, ...rest] = s.split('/');
  return rest.length === 0 && ip !== undefined && isIPv4(ip) && len !== undefined && /^\d{1,2}$/.test(len) && Number(len) <= 32;
}

function checkField(name: string, spec: FieldSpec, v: unknown): string | undefined {
  const q = JSON.stringify(v);
  switch (spec.type) {
    case 'string':
      if (typeof v !== 'string') return `"${name}" must be a string (got ${q})`;
      if (spec.enum && !spec.enum.includes(v)) return `"${name}" must be one of ${spec.enum.map((e) => JSON.stringify(e)).join(', ')} (got ${q})`;
      if (spec.pattern && !spec.pattern.test(v)) return `"${name}" ${q} does not match ${spec.pattern.source}`;
      return spec.check?.(v);
    case 'boolean':
      return typeof v === 'boolean' ? undefined : `"${name}" must be true or false (got ${q})`;
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v)) return `"${name}" must be an integer (got ${q})`;
      if (spec.min !== undefined && v < spec.min) return `"${name}" must be at least ${spec.min} (got ${v})`;
      if (spec.max !== undefined && v > spec.max) return `"${name}" must be at most ${spec.max} (got ${v})`;
      return undefined;
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : `"${name}" must be an object (got ${q})`;
    case 'array':
      return Array.isArray(v) ? undefined : `"${name}" must be an array (got ${q})`;
  }
}

/** The `ipam` section common to all plugins; host-local's own fields are checked when used. */
export function checkIpam(ipam: unknown): string | undefined {
  if (ipam === undefined) return undefined;
  if (typeof ipam !== 'object' || ipam === null || Array.isArray(ipam)) return '"ipam" must be an object';
  const i = ipam as Record<string, unknown>;
  const te = pluginTypeError(i.type);
  if (te) return `"ipam.type" ${te}`;
  if (i.type === 'host-local') {
    if (i.subnet !== undefined && (typeof i.subnet !== 'string' || !/^[0-9a-fA-F.:]+\/\d+$/.test(i.subnet))) return `"ipam.subnet" must be a CIDR (got ${JSON.stringify(i.subnet)})`;
    if (i.subnet === undefined && i.ranges === undefined) return '"ipam" of type host-local needs "subnet" or "ranges"';
    if (i.ranges !== undefined && !Array.isArray(i.ranges)) return '"ipam.ranges" must be an array of range sets';
    if (i.routes !== undefined && (!Array.isArray(i.routes) || i.routes.some((r) => typeof r !== 'object' || r === null || typeof (r as { dst?: unknown }).dst !== 'string')))
      return '"ipam.routes" must be an array of {"dst": CIDR}';
    if (i.dataDir !== undefined && (typeof i.dataDir !== 'string' || !i.dataDir.startsWith('/'))) return '"ipam.dataDir" must be an absolute path';
  }
  return undefined;
}

export function cniNetwork(spec: CniNetworkSpec): Network {
  return {
    id: spec.id,
    cniTypes: spec.cniTypes,
    defaults: (name) => spec.defaults(name),
    validate(conf: NetConf, source: string): void {
      const fail = (m: string) => {
        throw invalidArgument(`${source}: network ${JSON.stringify(conf.name)} (${spec.id}): ${m}`);
      };
      if (!spec.cniTypes.includes(String(conf.type))) fail(`"type" must be ${spec.cniTypes.map((t) => JSON.stringify(t)).join(' or ')} (got ${JSON.stringify(conf.type)})`);
      for (const [name, f] of Object.entries(spec.fields)) {
        const v = conf[name];
        if (v === undefined) {
          if (f.required) fail(`"${name}" is required`);
          continue;
        }
        const e = checkField(name, f, v);
        if (e) fail(e);
      }
      const ie = checkIpam(conf.ipam);
      if (ie) fail(ie);
      const ce = spec.crossCheck?.(conf);
      if (ce) fail(ce);
    },
    findBinary: (type, cniPath) => findPluginBinary(type, cniPath),
    ...(spec.ipMasq
      ? {
          async cleanup(conf: NetConf, containerId: string, o?: { wrap?: readonly string[] }): Promise<string[]> {
            return conf.ipMasq === true ? removeIpMasq(conf.name, containerId, o?.wrap) : [];
          },
        }
      : {}),
  };
}

/** Where CNI plugin binaries are installed by distributions (Debian: /usr/lib/cni). */
export const DEFAULT_CNI_PATH: readonly string[] = ['/usr/lib/cni', '/usr/libexec/cni', '/opt/cni/bin'];

/**
 * The contribution entry of a net plugin package: settings `plugins["rkt.network.v1.<id>"]` may
 * give `cniPath` (an array of directories searched before the defaults). Skipped, with the reason,
 * when the plugin's binary is not installed.
 */
export function netContribution(spec: CniNetworkSpec) {
  return defineContribution(Network, (ctx) => {
    const extra = Array.isArray(ctx.config.cniPath) ? ctx.config.cniPath.filter((d): d is string => typeof d === 'string') : [];
    const path = [...extra, ...DEFAULT_CNI_PATH];
    const net = cniNetwork(spec);
    const main = spec.cniTypes[0]!;
    if (!net.findBinary(main, path)) throw ctx.api.skipPlugin(`CNI plugin binary "${main}" not found in ${path.join(':')}`);
    return net;
  });
}
