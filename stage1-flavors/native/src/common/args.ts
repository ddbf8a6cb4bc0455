/**
 * Argument parsing for the stage1 entrypoints, with the flags stage0 passes (rkt.md §1.4–1.5).
 * Go's flag package accepts `--flag=value` and `--flag value`, and `--bool` / `--bool=false`.
 */
import { Stage1Error } from './log.js';

export type DnsMode = 'host' | 'stage0' | 'none' | 'default';

export interface RunArgs {
  debug: boolean;
  /** `--net`: the comma-separated list, split (`default` when stage0 passes nothing). */
  net: string[];
  interactive: boolean;
  privateUsers?: string;
  mdsToken?: string;
  localConfig?: string;
  hostname?: string;
  resolvConfMode: DnsMode;
  hostsMode: DnsMode;
  disableCapabilities: boolean;
  disablePaths: boolean;
  disableSeccomp: boolean;
  mutable: boolean;
  ipc?: string;
  uuid: string;
}

interface FlagSpec {
  bool?: boolean;
}

function parseFlags(
  argv: string[],
  spec: Record<string, FlagSpec>,
  what: string,
): { flags: Map<string, string>; rest: string[] } {
  const flags = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      rest.push(a);
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const s = spec[name];
    if (!s) throw new Stage1Error(`${what}: flag provided but not defined: -${name}`);
    if (s.bool) {
      const v = eq < 0 ? 'true' : body.slice(eq + 1);
      if (!/^(true|false|1|0|t|f|TRUE|FALSE|True|False)$/.test(v)) {
        throw new Stage1Error(`${what}: invalid boolean value "${v}" for -${name}`);
      }
      flags.set(name, /^(true|1|t|TRUE|True)$/.test(v) ? 'true' : 'false');
    } else if (eq >= 0) {
      flags.set(name, body.slice(eq + 1));
    } else {
      const v = argv[++i];
      if (v === undefined) throw new Stage1Error(`${what}: flag needs an argument: -${name}`);
      flags.set(name, v);
    }
  }
  return { flags, rest };
}

function dnsModes(v: string | undefined): { resolv: DnsMode; hosts: DnsMode } {
  const out = { resolv: 'default' as DnsMode, hosts: 'default' as DnsMode };
  if (!v) return out;
  for (const part of v.split(',')) {
    const [k, m] = part.split('=', 2) as [string, string | undefined];
    if ((k !== 'resolv' && k !== 'hosts') || !m || !['host', 'stage0', 'none', 'default'].includes(m)) {
      throw new Stage1Error(`invalid --dns-conf-mode "${v}"`);
    }
    if (k === 'hosts' && m === 'none') throw new Stage1Error(`invalid --dns-conf-mode "${v}"`);
    out[k] = m as DnsMode;
  }
  return out;
}

export function parseRunArgs(argv: string[]): RunArgs {
  const { flags, rest } = parseFlags(
    argv,
    {
      debug: { bool: true },
      net: {},
      interactive: { bool: true },
      'private-users': {},
      'mds-token': {},
      'local-config': {},
      hostname: {},
      'dns-conf-mode': {},
      'disable-capabilities-restriction': { bool: true },
      'disable-paths': { bool: true },
      'disable-seccomp': { bool: true },
      mutable: { bool: true },
      ipc: {},
    },
    'run',
  );
  if (rest.length !== 1) throw new Stage1Error('run: expected exactly one argument, the pod UUID');
  const dns = dnsModes(flags.get('dns-conf-mode'));
  const net = (flags.get('net') ?? 'default').split(',').filter((n) => n !== '');
  const out: RunArgs = {
    debug: flags.get('debug') === 'true',
    net: net.length ? net : ['default'],
    interactive: flags.get('interactive') === 'true',
    resolvConfMode: dns.resolv,
    hostsMode: dns.hosts,
    disableCapabilities: flags.get('disable-capabilities-restriction') === 'true',
    disablePaths: flags.get('disable-paths') === 'true',
    disableSeccomp: flags.get('disable-seccomp') === 'true',
    mutable: flags.get('mutable') === 'true',
    uuid: rest[0]!,
  };
  for (const [k, f] of [
    ['privateUsers', 'private-users'],
    ['mdsToken', 'mds-token'],
    ['localConfig', 'local-config'],
    ['hostname', 'hostname'],
    ['ipc', 'ipc'],
  ] as const) {
    const v = flags.get(f);
    if (v !== undefined) out[k] = v;
  }
  checkUuid(out.uuid);
  return out;
}

export interface EnterArgs {
  pid: number;
  appName?: string;
  command: string[];
  debug: boolean;
}

export function parseEnterArgs(argv: string[]): EnterArgs {
  const { flags, rest } = parseFlags(argv, { pid: {}, appname: {}, debug: { bool: true } }, 'enter');
  const pid = Number(flags.get('pid'));
  if (!Number.isInteger(pid) || pid <= 0) throw new Stage1Error('enter: --pid=<pid> is required');
  const out: EnterArgs = { pid, command: rest, debug: flags.get('debug') === 'true' };
  const app = flags.get('appname');
  if (app !== undefined && app !== '') out.appName = app;
  if (out.command.length === 0) throw new Stage1Error('enter: no command given');
  return out;
}

export interface GcArgs {
  debug: boolean;
  localConfig?: string;
  uuid: string;
}

export function parseGcArgs(argv: string[]): GcArgs {
  const { flags, rest } = parseFlags(argv, { debug: { bool: true }, 'local-config': {} }, 'gc');
  if (rest.length !== 1) throw new Stage1Error('gc: expected exactly one argument, the pod UUID');
  const out: GcArgs = { debug: flags.get('debug') === 'true', uuid: rest[0]! };
  const lc = flags.get('local-config');
  if (lc !== undefined) out.localConfig = lc;
  checkUuid(out.uuid);
  return out;
}

export interface StopArgs {
  force: boolean;
  uuid: string;
}

export function parseStopArgs(argv: string[]): StopArgs {
  const { flags, rest } = parseFlags(argv, { force: { bool: true }, debug: { bool: true } }, 'stop');
  if (rest.length !== 1) throw new Stage1Error('stop: expected exactly one argument, the pod UUID');
  checkUuid(rest[0]!);
  return { force: flags.get('force') === 'true', uuid: rest[0]! };
}

function checkUuid(u: string): void {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(u)) {
    throw new Stage1Error(`invalid pod UUID "${u}"`);
  }
}

/** `--private-users=SHIFT:COUNT`: the id range stage0 shifted the pod's trees to. */
export function parsePrivateUsers(v: string): { shift: number; count: number } {
  const m = /^(\d+):(\d+)$/.exec(v);
  const shift = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || shift <= 0 || count <= 0 || shift + count > 2 ** 32 - 1) throw new Stage1Error(`invalid --private-users=${v} (SHIFT:COUNT)`);
  return { shift, count };
}
