/**
 * rkt's flags as plain data: the global flags and the pod flags of run, prepare and run-prepared.
 * oclif's definitions are made from these (flag-defs.ts, for parsing and `--help`), and so is the
 * start-up fast path of `rkt run` (fast/run.ts), which must not load oclif. The parsing of rkt's
 * argv syntax is in argv.ts; per-app flags are listed for `--help`, the splitter takes them out of
 * argv before any flag parser sees it.
 */

export interface FlagDef {
  type: 'string' | 'boolean';
  description: string;
  /** Several occurrences collect into an array (oclif `multiple`, non-greedy). */
  multiple?: boolean;
  options?: string[];
  default?: string | boolean;
  hidden?: boolean;
  helpGroup?: string;
}
export type FlagDefs = Record<string, FlagDef>;

/** rkt's global flags (every command's `baseFlags`). */
export const globalFlags: FlagDefs = {
  dir: { type: 'string', helpGroup: 'GLOBAL', description: 'rkt data directory [default: /var/lib/rkt]' },
  'system-config': { type: 'string', helpGroup: 'GLOBAL', description: 'system configuration directory', default: '/usr/lib/rkt' },
  'local-config': { type: 'string', helpGroup: 'GLOBAL', description: 'local configuration directory', default: '/etc/rkt' },
  'user-config': { type: 'string', helpGroup: 'GLOBAL', description: 'user configuration directory' },
  debug: { type: 'boolean', helpGroup: 'GLOBAL', description: 'print out more debug information to stderr', default: false },
  'insecure-options': {
    type: 'string',
    helpGroup: 'GLOBAL',
    description: 'comma-separated list of security features to disable: none, image, tls, ondisk, http, pubkey, capabilities, paths, seccomp, all-fetch, all-run, all',
    default: 'none',
  },
  'trust-keys-from-https': { type: 'boolean', helpGroup: 'GLOBAL', description: 'automatically trust gpg keys fetched from https', default: false },
};

const s = (description: string, extra: Partial<FlagDef> = {}): FlagDef => ({ type: 'string', description, ...extra });
const many = (description: string): FlagDef => ({ type: 'string', description, multiple: true });
const b = (description: string, extra: Partial<FlagDef> = {}): FlagDef => ({ type: 'boolean', description, default: false, ...extra });

export const stage1Flags: FlagDefs = {
  'stage1-url': s('URL to an image to use as stage1', { helpGroup: 'STAGE1' }),
  'stage1-path': s('absolute or relative path to an image to use as stage1', { helpGroup: 'STAGE1' }),
  'stage1-name': s('name of an image to use as stage1', { helpGroup: 'STAGE1' }),
  'stage1-hash': s('hash of an image to use as stage1', { helpGroup: 'STAGE1' }),
  'stage1-from-dir': s('filename of an image in the stage1 images directory to use as stage1', { helpGroup: 'STAGE1' }),
};

export const prepareFlags: FlagDefs = {
  ...stage1Flags,
  port: many('ports to expose on the host (requires contained network). Syntax: --port=NAME:[HOSTIP:]HOSTPORT'),
  'inherit-env': b('inherit all environment variables not set by apps'),
  'no-overlay': b('disable overlay filesystem'),
  'private-users': b('run within user namespaces'),
  'set-env': many('an environment variable to set for apps in the form name=value'),
  'set-env-file': many('path to an environment variables file'),
  'pull-policy': s('when to pull an image', { options: ['never', 'new', 'update'], default: 'new' }),
  'store-only': b('deprecated: use --pull-policy=never', { hidden: true }),
  'no-store': b('deprecated: use --pull-policy=update', { hidden: true }),
  'pod-manifest': s('the path to the pod manifest. If it\'s non-empty, then only \'--net\', \'--no-overlay\' and \'--interactive\' will have effect'),
  volume: many('volumes to make available in the pod: NAME,kind=host,source=PATH[,readOnly=BOOL][,recursive=BOOL] or NAME,kind=empty[,mode=0755][,uid=0][,gid=0]'),
};

export const runOnlyFlags: FlagDefs = {
  net: many('configure the pod\'s networking: "default" (when given bare or not at all), "default-restricted", "host", "none", or networks from net.d, each optionally "NAME:ARG=VALUE;…"'),
  dns: many('name servers to write in /etc/resolv.conf, or "host" / "none"'),
  'dns-search': many('DNS search domains to write in /etc/resolv.conf'),
  'dns-opt': many('DNS options to write in /etc/resolv.conf'),
  'dns-domain': s('DNS domain to write in /etc/resolv.conf'),
  'hosts-entry': many('entries to add to the pod-wide /etc/hosts (IP=HOSTNAME), or "host"'),
  interactive: b('run pod interactively. If true, only one image may be supplied.'),
  'mds-register': b('register pod with metadata service ("rkt metadata-service" must be running for the same --dir)'),
  hostname: s('pod\'s hostname. If empty, it will be "rkt-$PODUUID"'),
  ipc: s('IPC namespace mode: auto, private or parent', { options: ['auto', 'private', 'parent'] }),
  'uuid-file-save': s('write out pod UUID to specified file'),
};

const app = (description: string): FlagDef => ({ type: 'string', description, helpGroup: 'PER-APP (after an IMAGE)' });

export const appFlags: FlagDefs = {
  signature: app('local signature file to use in validating the preceding image'),
  exec: app('override the exec command for the preceding image'),
  'working-dir': app('override the working directory of the preceding image'),
  'readonly-rootfs': app('if set, the app\'s rootfs will be mounted read-only'),
  mount: app('mount point binding a volume to a path within an app: volume=NAME,target=PATH (before any image: for every app)'),
  user: app('user override for the preceding image (example: \'--user=user\')'),
  group: app('group override for the preceding image (example: \'--group=group\')'),
  'supplementary-gids': app('supplementary group IDs override for the preceding image (examples: \'--supplementary-gids=1024,2048\')'),
  name: app('set the name of the app (default: the image name\'s last component)'),
  annotation: app('set an app annotation (example: \'--annotation=foo=bar\')'),
  'user-annotation': app('set the app\'s annotations (example: \'--user-annotation=foo=bar\')'),
  'user-label': app('set the app\'s labels (example: \'--user-label=foo=bar\'); --label is an alias'),
  environment: app('set the app\'s environment variables (example: \'--environment=foo=bar\')'),
  memory: app('memory limit for the preceding image (example: \'--memory=16Mi\', \'--memory=50M\', \'--memory=1G\')'),
  cpu: app('cpu limit for the preceding image (example: \'--cpu=500m\')'),
  'cpu-shares': app('cpu-shares assigns the specified CPU time share weight (example: \'--cpu-shares=2048\')'),
  'caps-retain': app('capability to retain (example: \'--caps-retain=CAP_SYS_ADMIN\')'),
  'caps-remove': app('capability to remove (example: \'--caps-remove=CAP_MKNOD\')'),
  seccomp: app('seccomp filter override (example: \'--seccomp mode=retain,errno=EPERM,chmod,chown\')'),
  'oom-score-adj': app('oom-score-adj isolator override'),
};

/** `rkt prepare`'s own flag. */
export const prepareOnlyFlags: FlagDefs = {
  quiet: { type: 'boolean', description: 'suppress superfluous output on stdout, print only the UUID on success', default: false },
};

/** `rkt fetch`'s own flags. */
export const fetchFlags: FlagDefs = {
  signature: { type: 'string', description: 'local signature file to use in validating the preceding image', multiple: true },
  'pull-policy': {
    type: 'string',
    description: 'when to pull an image: never (store only), new (store first), update (always check the remote)',
    options: ['never', 'new', 'update'],
    default: 'update',
  },
  full: { type: 'boolean', description: 'print the full image hash after fetching', default: false },
  'store-only': { type: 'boolean', description: 'deprecated: same as --pull-policy=never', hidden: true, default: false },
  'no-store': { type: 'boolean', description: 'deprecated: same as --pull-policy=update', hidden: true, default: false },
};

/** `rkt run-prepared`'s flags: run's pod flags but --uuid-file-save (the pod exists already). */
export function runPreparedFlagSpecs(): FlagDefs {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { 'uuid-file-save': _omit, ...rest } = runOnlyFlags;
  return rest;
}
