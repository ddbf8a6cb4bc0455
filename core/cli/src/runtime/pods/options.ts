/**
 * Values of run/prepare flags, parsed with rkt's syntax and error messages: per-app options
 * (`--exec`, `--mount`, isolator flags …) and the pod-level `--volume`, `--port`, `--set-env*`,
 * `--net`, `--dns*`, `--hosts-entry`.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { invalidArgument, type Annotation, type AppcIsolator, type ExposedPort, type Mount, type Volume } from '@rkt/api';
import { acIdentifierError, acNameError, parseQuantity, parseQuery, isGoIP } from '@rkt/appc/schema';
import { parseGoBool, type CliAppArgs } from './argv.js';

export interface SeccompOverride {
  mode: 'retain' | 'remove';
  errno: string;
  set: string[];
}

export interface AppOptions {
  image: string;
  args?: string[];
  signature?: string;
  exec?: string;
  name?: string;
  workingDir?: string;
  readOnlyRootFS?: boolean;
  mounts: Mount[];
  user?: string;
  group?: string;
  supplementaryGIDs?: number[];
  annotations: Annotation[];
  userAnnotations?: Record<string, string>;
  userLabels?: Record<string, string>;
  environment: Array<[string, string]>;
  memory?: AppcIsolator;
  cpu?: AppcIsolator;
  cpuShares?: number;
  oomScoreAdj?: number;
  capsRetain?: string[];
  capsRemove?: string[];
  seccomp?: SeccompOverride;
}

function splitKV(s: string, flag: string): [string, string] {
  const eq = s.indexOf('=');
  if (eq < 0) throw invalidArgument(`invalid format of --${flag} flag ${JSON.stringify(s)}`);
  return [s.slice(0, eq), s.slice(eq + 1)];
}

/** `volume=NAME,target=PATH` */
export function parseMountFlag(s: string): Mount {
  let q: Map<string, string[]>;
  try {
    q = parseQuery(s.replace(/,/g, '&'));
  } catch (e) {
    throw invalidArgument(`invalid --mount flag ${JSON.stringify(s)}: ${(e as Error).message}`);
  }
  const m: Partial<Mount> = {};
  for (const [k, v] of q) {
    if (v.length > 1) throw invalidArgument(`--mount ${JSON.stringify(s)}: label ${k} with multiple values ${JSON.stringify(v)}`);
    if (k === 'volume') {
      const err = acNameError(v[0]!);
      if (err) throw invalidArgument(`invalid volume name ${JSON.stringify(v[0])} in --mount flag ${JSON.stringify(s)}: ${err}`);
      m.volume = v[0]!;
    } else if (k === 'target') m.path = v[0]!;
    else throw invalidArgument(`unknown mount parameter ${JSON.stringify(k)} in --mount flag ${JSON.stringify(s)}`);
  }
  if (!m.volume) throw invalidArgument(`--mount ${JSON.stringify(s)}: volume= is required`);
  if (!m.path) throw invalidArgument(`--mount ${JSON.stringify(s)}: target= is required`);
  return { volume: m.volume, path: m.path };
}

/** `NAME,kind=host,source=PATH[,readOnly=BOOL][,recursive=BOOL]` or `NAME,kind=empty[,mode=0755][,uid=0][,gid=0]` */
export function parseVolumeFlag(s: string): Volume {
  const bad = (msg: string) => invalidArgument(`invalid value in --volume flag ${JSON.stringify(s)}: ${msg}`);
  const comma = s.indexOf(',');
  const name = comma < 0 ? s : s.slice(0, comma);
  const nameErr = acNameError(name);
  if (nameErr) throw bad(nameErr);
  let q: Map<string, string[]>;
  try {
    q = parseQuery(comma < 0 ? '' : s.slice(comma + 1).replace(/,/g, '&'));
  } catch (e) {
    throw bad((e as Error).message);
  }
  const v: Volume = { name, kind: '' };
  for (const [k, vals] of q) {
    if (vals.length > 1) throw bad(`label ${k} with multiple values ${JSON.stringify(vals)}`);
    const val = vals[0]!;
    switch (k) {
      case 'kind':
        v.kind = val;
        break;
      case 'source':
        v.source = val;
        break;
      case 'readOnly':
        v.readOnly = parseGoBool(val, 'volume readOnly');
        break;
      case 'recursive':
        v.recursive = parseGoBool(val, 'volume recursive');
        break;
      case 'mode':
        v.mode = val;
        break;
      case 'uid':
      case 'gid': {
        if (!/^-?\d+$/.test(val)) throw bad(`${k} must be an integer`);
        v[k] = Number(val);
        break;
      }
      default:
        throw bad(`unknown volume parameter ${JSON.stringify(k)}`);
    }
  }
  if (v.kind === 'host') {
    if (!v.source) throw bad('source for host volume cannot be empty');
    if (!isAbsolute(v.source)) throw bad(`source for host volume must be absolute path: ${JSON.stringify(v.source)}`);
    if (v.mode !== undefined || v.uid !== undefined || v.gid !== undefined) throw bad('mode, uid and gid are only valid for empty volumes');
  } else if (v.kind === 'empty') {
    if (v.source) throw bad('source for empty volume must be empty');
    if (v.recursive !== undefined) throw bad('recursive is only valid for host volumes');
    v.mode ??= '0755';
    v.uid ??= 0;
    v.gid ??= 0;
    if (!/^[0-7]{1,4}$/.test(v.mode)) throw bad(`invalid mode ${JSON.stringify(v.mode)}`);
  } else throw bad(`kind must be "host" or "empty" (got ${JSON.stringify(v.kind)})`);
  return v;
}

/** `NAME:[HOSTIP:]HOSTPORT` */
export function parsePortFlag(s: string): ExposedPort {
  const parts = s.split(':');
  if (parts.length < 2 || parts.length > 3) throw invalidArgument(`--port ${JSON.stringify(s)}: expected NAME:[HOSTIP:]HOSTPORT`);
  const name = parts[0]!;
  const nameErr = acNameError(name);
  if (nameErr) throw invalidArgument(`--port ${JSON.stringify(s)}: ${nameErr}`);
  const portText = parts[parts.length - 1]!;
  const hostPort = Number(portText);
  if (!/^\d+$/.test(portText) || hostPort < 1 || hostPort > 65535) throw invalidArgument(`--port ${JSON.stringify(s)}: host port must be in 1-65535 range`);
  const p: ExposedPort = { name, hostPort };
  if (parts.length === 3) {
    if (!isGoIP(parts[1]!)) throw invalidArgument(`--port ${JSON.stringify(s)}: invalid host IP ${JSON.stringify(parts[1])}`);
    p.hostIP = parts[1]!;
  }
  return p;
}

/** `--set-env K=V` (repeatable; a key twice is an error). */
export function parseSetEnv(values: readonly string[]): Array<[string, string]> {
  const out = new Map<string, string>();
  for (const s of values) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw invalidArgument(`--set-env ${JSON.stringify(s)}: environment variable must be specified as name=value`);
    const k = s.slice(0, eq);
    if (out.has(k)) throw invalidArgument(`--set-env: environment variable ${JSON.stringify(k)} set twice`);
    out.set(k, s.slice(eq + 1));
  }
  return [...out];
}

/** `--set-env-file FILE`: K=V lines; blank lines and lines starting with # or ; are skipped. */
export function parseEnvFiles(files: readonly string[]): Array<[string, string]> {
  const out = new Map<string, string>();
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      throw invalidArgument(`--set-env-file ${JSON.stringify(f)}: ${(e as Error).message}`);
    }
    text.split('\n').forEach((raw, i) => {
      const line = raw.replace(/\r$/, '');
      const t = line.trim();
      if (t === '' || t.startsWith('#') || t.startsWith(';')) return;
      const eq = line.indexOf('=');
      if (eq <= 0) throw invalidArgument(`--set-env-file ${JSON.stringify(f)} line ${i + 1}: environment variable must be specified as name=value`);
      const k = line.slice(0, eq).trim();
      if (out.has(k)) throw invalidArgument(`--set-env-file ${JSON.stringify(f)} line ${i + 1}: environment variable ${JSON.stringify(k)} set twice`);
      out.set(k, line.slice(eq + 1));
    });
  }
  return [...out];
}

function parseSeccomp(s: string): SeccompOverride {
  let mode = '';
  let errno = '';
  const set: string[] = [];
  for (const item of s.split(',')) {
    const kv = item.split('=');
    if (kv.length === 1) {
      if (item !== '') set.push(item);
    } else if (kv.length === 2 && kv[0] === 'mode') mode = kv[1]!;
    else if (kv.length === 2 && kv[0] === 'errno') errno = kv[1]!;
    else throw invalidArgument(`--seccomp ${JSON.stringify(s)}: invalid seccomp argument ${JSON.stringify(item)}`);
  }
  if (mode !== 'retain' && mode !== 'remove') throw invalidArgument(`--seccomp ${JSON.stringify(s)}: mode must be "retain" or "remove"`);
  if (set.length === 0) throw invalidArgument(`--seccomp ${JSON.stringify(s)}: no syscall given`);
  if (errno !== '' && !/^E[A-Z0-9]+$/.test(errno)) throw invalidArgument(`--seccomp ${JSON.stringify(s)}: invalid errno ${JSON.stringify(errno)}`);
  return { mode, errno, set };
}

function parseIntFlag(s: string, flag: string, min: number, max: number): number {
  if (!/^[+-]?\d+$/.test(s)) throw invalidArgument(`--${flag}: strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (n < min || n > max) throw invalidArgument(`--${flag}: ${n} is out of range ${min}..${max}`);
  return n;
}

function quantity(s: string, flag: string): bigint {
  const q = parseQuantity(s);
  if (typeof q === 'string') throw invalidArgument(`--${flag}: invalid quantity ${JSON.stringify(s)}: ${q}`);
  // whole units, rounded up like Quantity.Value()
  return (q.nanos + 999_999_999n) / 1_000_000_000n;
}

function parseCaps(s: string, flag: string): string[] {
  const caps = s.split(',');
  for (const c of caps) if (!/^CAP_[A-Z_]+$/.test(c)) throw invalidArgument(`--${flag}: unknown capability ${JSON.stringify(c)}`);
  return caps;
}

/** The per-app flags of one image, in rkt's terms. */
export function parseAppOptions(a: CliAppArgs): AppOptions {
  const o: AppOptions = { image: a.image, mounts: [], annotations: [], environment: [] };
  if (a.args) o.args = a.args;
  const env = new Map<string, string>();
  for (const { name, value } of a.flags) {
    switch (name) {
      case 'signature':
        if (o.signature !== undefined) throw invalidArgument('--signature specified multiple times for the same image');
        o.signature = value;
        break;
      case 'exec':
        if (o.exec !== undefined) throw invalidArgument('--exec specified multiple times for the same image');
        o.exec = value;
        break;
      case 'name': {
        const err = acNameError(value);
        if (err) throw invalidArgument(`invalid app name format: --name ${JSON.stringify(value)}: ${err}`);
        o.name = value;
        break;
      }
      case 'working-dir':
        if (!isAbsolute(value)) throw invalidArgument(`--working-dir ${JSON.stringify(value)}: must be an absolute path`);
        o.workingDir = value;
        break;
      case 'readonly-rootfs':
        try {
          o.readOnlyRootFS = parseGoBool(value, name);
        } catch {
          throw invalidArgument('--readonly-rootfs must be set with a boolean');
        }
        break;
      case 'mount':
        o.mounts.push(parseMountFlag(value));
        break;
      case 'user':
        o.user = value;
        break;
      case 'group':
        o.group = value;
        break;
      case 'supplementary-gids':
        o.supplementaryGIDs ??= [];
        for (const g of value.split(',')) {
          if (!/^\d+$/.test(g)) throw invalidArgument('--supplementary-gids must be integers');
          o.supplementaryGIDs.push(Number(g));
        }
        break;
      case 'annotation': {
        const [k, v] = splitKV(value, name);
        const err = acIdentifierError(k);
        if (err) throw invalidArgument(`--annotation ${JSON.stringify(value)}: ${err}`);
        o.annotations = o.annotations.filter((x) => x.name !== k);
        o.annotations.push({ name: k, value: v });
        break;
      }
      case 'user-annotation': {
        const [k, v] = splitKV(value, name);
        (o.userAnnotations ??= {})[k] = v;
        break;
      }
      case 'user-label': {
        const [k, v] = splitKV(value, name);
        (o.userLabels ??= {})[k] = v;
        break;
      }
      case 'environment': {
        const [k, v] = splitKV(value, name);
        env.set(k, v);
        break;
      }
      case 'memory': {
        const bytes = quantity(value, name);
        if (bytes < 4096n) throw invalidArgument(`memory limit of ${bytes} bytes too low. Try a reasonable value, such as --memory=16M`);
        o.memory = { name: 'resource/memory', value: { request: value, limit: value } };
        break;
      }
      case 'cpu':
        quantity(value, name);
        o.cpu = { name: 'resource/cpu', value: { request: value, limit: value } };
        break;
      case 'cpu-shares':
        o.cpuShares = parseIntFlag(value, name, 2, 262144);
        break;
      case 'oom-score-adj':
        o.oomScoreAdj = parseIntFlag(value, name, -1000, 1000);
        break;
      case 'caps-retain':
        o.capsRetain = parseCaps(value, name);
        break;
      case 'caps-remove':
        o.capsRemove = parseCaps(value, name);
        break;
      case 'seccomp':
        o.seccomp = parseSeccomp(value);
        break;
      default:
        throw invalidArgument(`unknown per-app flag --${name}`);
    }
  }
  o.environment = [...env];
  if (o.capsRetain && o.capsRemove) throw invalidArgument('error: cannot use both --caps-retain and --caps-remove on the same image');
  return o;
}

/* ------------------------------------------------------------ networking and DNS (run) */

export type NetList = Array<{ name: string; args: string }>;

/**
 * `--net[=n1[:args],n2,…]`, repeatable, as rkt: no --net means `default`; `host` and `none` stand
 * alone; `all` takes every configured network; `name:K=V;K2=V2` passes CNI_ARGS to one network.
 * Whether the named networks exist is checked against the config dirs (runtime/net/config.ts).
 */
/** `--net` names no contained network (host or none): no CNI, so callers need not load it. */
export function hostOrNoneNet(net: string): boolean {
  const nets = parseNetFlags([net]);
  return nets.length === 1 && (nets[0]!.name === 'host' || nets[0]!.name === 'none');
}

export function parseNetFlags(values: readonly string[]): NetList {
  if (values.length === 0) return [{ name: 'default', args: '' }];
  const out: NetList = [];
  for (const v of values) {
    for (const item of v.split(',')) {
      if (item === '') continue;
      const colon = item.indexOf(':');
      const name = colon < 0 ? item : item.slice(0, colon);
      const args = colon < 0 ? '' : item.slice(colon + 1);
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw invalidArgument(`--net: invalid network name ${JSON.stringify(name)}`);
      if (out.some((n) => n.name === name)) throw invalidArgument(`--net: network ${JSON.stringify(name)} given twice`);
      if ((name === 'all' || name === 'host' || name === 'none') && args) throw invalidArgument(`--net: network ${JSON.stringify(name)} takes no arguments`);
      out.push({ name, args });
    }
  }
  if (out.length === 0) return [{ name: 'default', args: '' }];
  const names = out.map((n) => n.name);
  if ((names.includes('host') || names.includes('none')) && out.length > 1)
    throw invalidArgument(`--net: "${names.includes('host') ? 'host' : 'none'}" cannot be combined with other networks`);
  return out;
}

export function netListString(n: NetList): string {
  return n.map((x) => (x.args ? `${x.name}:${x.args}` : x.name)).join(',');
}

export interface DnsConfig {
  resolvMode: 'host' | 'stage0' | 'none' | 'default';
  hostsMode: 'host' | 'stage0' | 'default';
  nameservers: string[];
  search: string[];
  options: string[];
  domain: string;
  hosts: Map<string, string[]>;
  /** First line of the generated resolv.conf (default `# Generated by rkt run`). */
  header?: string;
}

export function parseDns(f: { dns: string[]; search: string[]; opt: string[]; domain: string; hostsEntries: string[] }): DnsConfig {
  const cfg: DnsConfig = { resolvMode: 'default', hostsMode: 'default', nameservers: [], search: f.search, options: f.opt, domain: f.domain, hosts: new Map() };
  const servers = f.dns.flatMap((d) => d.split(',')).filter(Boolean);
  const magic = servers.filter((s) => s === 'host' || s === 'none');
  if (magic.length > 0) {
    if (servers.length > 1) throw invalidArgument(`--dns: "${magic[0]}" cannot be combined with other values`);
    cfg.resolvMode = magic[0] as 'host' | 'none';
  } else if (servers.length > 0 || f.search.length > 0 || f.opt.length > 0 || f.domain) {
    for (const s of servers) if (!isGoIP(s)) throw invalidArgument(`--dns: invalid IP address ${JSON.stringify(s)}`);
    cfg.nameservers = servers;
    cfg.resolvMode = 'stage0';
  }
  const entries = f.hostsEntries.flatMap((h) => h.split(',')).filter(Boolean);
  if (entries.includes('host')) {
    if (entries.length > 1) throw invalidArgument('--hosts-entry: "host" cannot be combined with other entries');
    cfg.hostsMode = 'host';
  } else if (entries.length > 0) {
    for (const e of entries) {
      const eq = e.indexOf('=');
      const ip = e.slice(0, eq);
      const host = e.slice(eq + 1);
      if (eq <= 0 || !host || !isGoIP(ip)) throw invalidArgument(`--hosts-entry ${JSON.stringify(e)}: expected IP=HOSTNAME`);
      const list = cfg.hosts.get(ip) ?? [];
      list.push(host);
      cfg.hosts.set(ip, list);
    }
    cfg.hostsMode = 'stage0';
  }
  return cfg;
}

export function resolvConfText(d: DnsConfig): string {
  const lines = [d.header ?? '# Generated by rkt run'];
  for (const n of d.nameservers) lines.push(`nameserver ${n}`);
  if (d.search.length) lines.push(`search ${d.search.join(' ')}`);
  if (d.options.length) lines.push(`options ${d.options.join(' ')}`);
  if (d.domain) lines.push(`domain ${d.domain}`);
  return lines.join('\n') + '\n';
}

export function hostsText(d: DnsConfig, fallback: string | undefined): string {
  let text = fallback ?? '#created by rkt stage0\n127.0.0.1 localhost localhost.localdomain\n';
  text += '\n\n# Added by rkt run --hosts-entry\n';
  for (const [ip, names] of d.hosts) text += `${ip} ${names.join(' ')}\n`;
  return text;
}
