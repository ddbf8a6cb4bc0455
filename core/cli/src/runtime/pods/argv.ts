/**
 * rkt's run/prepare argument syntax, which oclif cannot parse:
 *
 *   rkt run [flags] IMAGE [per-app flags] [-- app args… ---] [IMAGE [per-app flags] …]
 *
 * As in rkt (one pflag set, interspersed parsing off): flags may appear before and between images;
 * a pod-level flag applies to the pod wherever it is; a per-app flag applies to the image before
 * it and is an error before the first image (`--exec must follow an image`), except `--mount`,
 * which is global there. `--` opens the preceding image's argument list, `---` closes it; one list
 * per image. Anything that is not a flag is an image.
 *
 * The splitter hands pod and global flags back normalised as `--name=value` (booleans as `--name`
 * or nothing) so that oclif still parses, validates and documents them.
 */
import { invalidArgument } from '@rkt/api';

export type FlagKind = 'value' | 'bool' | 'optional';

export interface FlagSpec {
  kind: FlagKind;
  scope: 'pod' | 'app';
  /** The value an `optional` flag takes when given bare (`--net` → `default`). */
  bare?: string;
  /** Another name this flag is an alias of. */
  aliasOf?: string;
}

export type FlagTable = Record<string, FlagSpec>;

/** rkt's global flags (RktCommand.baseFlags) plus help. */
export const GLOBAL_FLAGS: FlagTable = {
  dir: { kind: 'value', scope: 'pod' },
  'system-config': { kind: 'value', scope: 'pod' },
  'local-config': { kind: 'value', scope: 'pod' },
  'user-config': { kind: 'value', scope: 'pod' },
  debug: { kind: 'bool', scope: 'pod' },
  'insecure-options': { kind: 'value', scope: 'pod' },
  'trust-keys-from-https': { kind: 'bool', scope: 'pod' },
  help: { kind: 'bool', scope: 'pod' },
};

/** Per-app flags (apply to the image they follow). */
export const APP_FLAGS: FlagTable = {
  signature: { kind: 'value', scope: 'app' },
  exec: { kind: 'value', scope: 'app' },
  'working-dir': { kind: 'value', scope: 'app' },
  'readonly-rootfs': { kind: 'optional', scope: 'app', bare: 'true' },
  mount: { kind: 'value', scope: 'app' },
  user: { kind: 'value', scope: 'app' },
  group: { kind: 'value', scope: 'app' },
  'supplementary-gids': { kind: 'value', scope: 'app' },
  name: { kind: 'value', scope: 'app' },
  annotation: { kind: 'value', scope: 'app' },
  'user-annotation': { kind: 'value', scope: 'app' },
  'user-label': { kind: 'value', scope: 'app' },
  label: { kind: 'value', scope: 'app', aliasOf: 'user-label' },
  environment: { kind: 'value', scope: 'app' },
  memory: { kind: 'value', scope: 'app' },
  cpu: { kind: 'value', scope: 'app' },
  'cpu-shares': { kind: 'value', scope: 'app' },
  'caps-retain': { kind: 'value', scope: 'app' },
  'caps-remove': { kind: 'value', scope: 'app' },
  'cap-retain': { kind: 'value', scope: 'app', aliasOf: 'caps-retain' },
  'cap-remove': { kind: 'value', scope: 'app', aliasOf: 'caps-remove' },
  seccomp: { kind: 'value', scope: 'app' },
  'oom-score-adj': { kind: 'value', scope: 'app' },
};

const STAGE1_FLAGS: FlagTable = {
  'stage1-url': { kind: 'value', scope: 'pod' },
  'stage1-path': { kind: 'value', scope: 'pod' },
  'stage1-name': { kind: 'value', scope: 'pod' },
  'stage1-hash': { kind: 'value', scope: 'pod' },
  'stage1-from-dir': { kind: 'value', scope: 'pod' },
};

/** Pod flags shared by run and prepare. */
const PREPARE_POD_FLAGS: FlagTable = {
  ...STAGE1_FLAGS,
  port: { kind: 'value', scope: 'pod' },
  'inherit-env': { kind: 'bool', scope: 'pod' },
  'no-overlay': { kind: 'bool', scope: 'pod' },
  'private-users': { kind: 'bool', scope: 'pod' },
  'set-env': { kind: 'value', scope: 'pod' },
  'set-env-file': { kind: 'value', scope: 'pod' },
  'pull-policy': { kind: 'value', scope: 'pod' },
  'store-only': { kind: 'bool', scope: 'pod' },
  'no-store': { kind: 'bool', scope: 'pod' },
  'pod-manifest': { kind: 'value', scope: 'pod' },
  volume: { kind: 'value', scope: 'pod' },
};

/** Pod flags that run (and run-prepared) have and prepare has not. */
export const RUN_ONLY_FLAGS: FlagTable = {
  net: { kind: 'optional', scope: 'pod', bare: 'default' },
  dns: { kind: 'value', scope: 'pod' },
  'dns-search': { kind: 'value', scope: 'pod' },
  'dns-opt': { kind: 'value', scope: 'pod' },
  'dns-domain': { kind: 'value', scope: 'pod' },
  'hosts-entry': { kind: 'value', scope: 'pod' },
  interactive: { kind: 'bool', scope: 'pod' },
  'mds-register': { kind: 'bool', scope: 'pod' },
  hostname: { kind: 'value', scope: 'pod' },
  ipc: { kind: 'value', scope: 'pod' },
  'uuid-file-save': { kind: 'value', scope: 'pod' },
};

export const RUN_FLAGS: FlagTable = { ...GLOBAL_FLAGS, ...PREPARE_POD_FLAGS, ...RUN_ONLY_FLAGS, ...APP_FLAGS };
export const PREPARE_FLAGS: FlagTable = { ...GLOBAL_FLAGS, ...PREPARE_POD_FLAGS, quiet: { kind: 'bool', scope: 'pod' }, ...APP_FLAGS };

export interface CliAppArgs {
  image: string;
  /** Per-app flags in order, canonical names (aliases resolved). */
  flags: Array<{ name: string; value: string }>;
  /** The `-- … ---` list; undefined when none was given. */
  args?: string[];
}

export interface SplitArgv {
  /** Global and pod flags, normalised for oclif. */
  podArgv: string[];
  apps: CliAppArgs[];
  /** `--mount` given before any image: applies to every app. */
  globalMounts: string[];
}

/** Go's strconv.ParseBool. */
export function parseGoBool(value: string, flag: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw invalidArgument(`invalid argument ${JSON.stringify(value)} for "--${flag}" flag: strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`);
}

export function splitRunArgv(argv: readonly string[], table: FlagTable, allowAppArgs = true): SplitArgv {
  const podArgv: string[] = [];
  const bools = new Map<string, boolean>();
  const apps: CliAppArgs[] = [];
  const globalMounts: string[] = [];
  let inAppArgs = false;
  let appsAtLastArgs = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (inAppArgs) {
      if (a === '---') inAppArgs = false;
      else apps[apps.length - 1]!.args!.push(a);
      continue;
    }
    if (a === '--') {
      if (!allowAppArgs) throw invalidArgument('app arguments unsupported');
      if (apps.length === appsAtLastArgs)
        throw invalidArgument(apps.length === 0 ? 'an image is required before any app arguments' : 'only one set of app arguments allowed per image');
      appsAtLastArgs = apps.length;
      apps[apps.length - 1]!.args = [];
      inAppArgs = true;
      continue;
    }
    if (a === '---') continue; // rkt ignores a stray terminator
    if (a === '-h') {
      podArgv.push('--help');
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const given = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const spec0 = table[given];
      if (!spec0) throw invalidArgument(`unknown flag: --${given}`);
      const name = spec0.aliasOf ?? given;
      const spec = table[name] ?? spec0;
      let value: string;
      if (eq >= 0) value = a.slice(eq + 1);
      else if (spec0.kind === 'value') {
        if (i + 1 >= argv.length) throw invalidArgument(`flag needs an argument: --${given}`);
        value = argv[++i]!;
      } else if (spec0.kind === 'optional') value = spec0.bare!;
      else value = 'true';
      if (spec.scope === 'app') {
        if (apps.length === 0) {
          if (name === 'mount') {
            globalMounts.push(value);
            continue;
          }
          throw invalidArgument(`--${name} must follow an image`);
        }
        apps[apps.length - 1]!.flags.push({ name, value });
        continue;
      }
      if (spec.kind === 'bool') bools.set(name, parseGoBool(value, name));
      else podArgv.push(`--${name}=${value}`);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) throw invalidArgument(`unknown shorthand flag: ${JSON.stringify(a.slice(1, 2))} in ${a}`);
    apps.push({ image: a, flags: [] });
  }
  for (const [name, v] of bools) if (v) podArgv.push(`--${name}`);
  return { podArgv, apps, globalMounts };
}
