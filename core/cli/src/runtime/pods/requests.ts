/** Turning parsed run/prepare/run-prepared flags into prepare and run requests. */
import { invalidArgument, type PullPolicy } from '@rkt/api';
import type { SplitArgv } from './argv.js';
import { netListString, parseAppOptions, parseDns, parseEnvFiles, parseMountFlag, parseNetFlags, parsePortFlag, parseSetEnv, parseVolumeFlag, type DnsConfig } from './options.js';
import type { PrepareRequest } from './prepare.js';

type F = Record<string, unknown>;
const list = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function pullPolicyOf(flags: F, argv: readonly string[]): { policy: PullPolicy; given: boolean } {
  if (flags['store-only'] && flags['no-store']) throw invalidArgument('both --store-only and --no-store specified');
  if (flags['store-only']) return { policy: 'never', given: true };
  if (flags['no-store']) return { policy: 'update', given: true };
  return { policy: (str(flags['pull-policy']) ?? 'new') as PullPolicy, given: argv.some((a) => a.startsWith('--pull-policy')) };
}

export interface NetAndDns {
  net: string;
  portsAllowed: boolean;
  dns: DnsConfig;
}

export function netAndDns(flags: F): NetAndDns {
  const nets = parseNetFlags(list(flags.net));
  const dns = parseDns({
    dns: list(flags.dns),
    search: list(flags['dns-search']),
    opt: list(flags['dns-opt']),
    domain: str(flags['dns-domain']) ?? '',
    hostsEntries: list(flags['hosts-entry']),
  });
  return { net: netListString(nets), portsAllowed: !nets.some((n) => n.name === 'host' || n.name === 'none'), dns };
}

export function prepareRequest(
  split: SplitArgv,
  flags: F,
  o: { portsAllowed: boolean; uuidFileSave?: string; log(m: string): void; debug(m: string): void },
): PrepareRequest {
  const apps = split.apps.map(parseAppOptions);
  const { policy, given } = pullPolicyOf(flags, split.podArgv);
  const podManifest = str(flags['pod-manifest']);
  return {
    apps,
    globalMounts: split.globalMounts.map(parseMountFlag),
    volumes: list(flags.volume).map(parseVolumeFlag),
    ports: list(flags.port).map(parsePortFlag),
    inheritEnv: Boolean(flags['inherit-env']),
    envFromFile: parseEnvFiles(list(flags['set-env-file'])),
    explicitEnv: parseSetEnv(list(flags['set-env'])),
    ...(podManifest ? { podManifestPath: podManifest } : {}),
    stage1: {
      ...(str(flags['stage1-url']) !== undefined ? { url: str(flags['stage1-url'])! } : {}),
      ...(str(flags['stage1-path']) !== undefined ? { path: str(flags['stage1-path'])! } : {}),
      ...(str(flags['stage1-name']) !== undefined ? { name: str(flags['stage1-name'])! } : {}),
      ...(str(flags['stage1-hash']) !== undefined ? { hash: str(flags['stage1-hash'])! } : {}),
      ...(str(flags['stage1-from-dir']) !== undefined ? { fromDir: str(flags['stage1-from-dir'])! } : {}),
    },
    noOverlay: Boolean(flags['no-overlay']),
    privateUsers: Boolean(flags['private-users']),
    pullPolicy: policy,
    pullPolicyGiven: given,
    portsAllowed: o.portsAllowed,
    ...(o.uuidFileSave ? { uuidFileSave: o.uuidFileSave } : {}),
    log: o.log,
    debug: o.debug,
  };
}

/** Exit like the pod: its status, or the signal that killed stage1 re-raised on ourselves. */
export function exitLikeStage1(r: { code: number | null; signal: NodeJS.Signals | null }, exit: (code: number) => void): void {
  if (r.signal) {
    process.removeAllListeners(r.signal);
    process.kill(process.pid, r.signal);
    exit(128 + 15);
    return;
  }
  if (r.code) exit(r.code);
}
