/**
 * Stage1 as stage0 sees it: an image whose manifest annotations name its entrypoints (paths inside
 * `$pod/stage1/rootfs`) and its interface version; and the rules for choosing which stage1 image a
 * new pod uses (rkt §3.19).
 */
import { mark } from '../timing.js';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { spawn, spawnSync, type StdioOptions } from 'node:child_process';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RktError, ErrorCodes, invalidArgument, notFound, type ImageInfo, type ImageManifest, type Store } from '@rkt/api';
import { PodFiles, type Pod } from './pod.js';

export const Entrypoint = {
  run: 'coreos.com/rkt/stage1/run',
  enter: 'coreos.com/rkt/stage1/enter',
  gc: 'coreos.com/rkt/stage1/gc',
  stop: 'coreos.com/rkt/stage1/stop',
} as const;
export const INTERFACE_VERSION = 'coreos.com/rkt/stage1/interface-version';

export interface Stage1Manifest {
  manifest: ImageManifest;
  interfaceVersion: number;
  entrypoint(name: string): string | undefined;
  /**
   * rkt-ts's `rkt-ts.io/stage1/network` annotation: `host` when the stage1 always runs pods in the
   * host's network (fly), so that stage0 sets up no pod network for it.
   */
  hostNetworkOnly: boolean;
  /**
   * rkt-ts's `rkt-ts.io/stage1/run-prepare` annotation: an ES module inside the stage1 rootfs whose
   * `prepare(argv, podPath)` is the first step of the run entrypoint, which stage0 may run in its
   * own process (see `startStage1Run`).
   */
  runPrepareModule: string | undefined;
}

export const STAGE1_NETWORK_ANNOTATION = 'rkt-ts.io/stage1/network';
export const STAGE1_RUN_PREPARE_ANNOTATION = 'rkt-ts.io/stage1/run-prepare';
/** Set (to 1) in the run entrypoint's environment when stage0 has run its preparation in-process. */
export const STAGE1_PREPARED_ENV = 'RKT_TS_STAGE1_PREPARED';

export function readStage1Manifest(podPath: string): Stage1Manifest {
  let m: ImageManifest;
  try {
    m = JSON.parse(readFileSync(join(podPath, PodFiles.stage1Manifest), 'utf8')) as ImageManifest;
  } catch (e) {
    throw new RktError(ErrorCodes.FAILED_PRECONDITION, 'error reading stage1 manifest', { cause: e });
  }
  const ann = new Map((m.annotations ?? []).map((a) => [a.name, a.value]));
  let iv = 1;
  const ivText = ann.get(INTERFACE_VERSION);
  if (ivText !== undefined) {
    if (!/^\d+$/.test(ivText)) throw new RktError(ErrorCodes.FAILED_PRECONDITION, `error parsing interface version ${JSON.stringify(ivText)}`);
    iv = Number(ivText);
  }
  return { manifest: m, interfaceVersion: iv, entrypoint: (name) => ann.get(name), hostNetworkOnly: ann.get(STAGE1_NETWORK_ANNOTATION) === 'host',
    runPrepareModule: ann.get(STAGE1_RUN_PREPARE_ANNOTATION),
  };
}

/** Absolute path of an entrypoint; it must stay inside the stage1 rootfs. */
export function entrypointPath(podPath: string, s1: Stage1Manifest, name: string): string {
  const ep = s1.entrypoint(name);
  if (!ep) throw notFound(`entrypoint ${JSON.stringify(name)} not found`);
  return insideStage1Rootfs(podPath, ep, 'stage1 entrypoint');
}

function insideStage1Rootfs(podPath: string, p: string, what: string): string {
  const root = join(podPath, PodFiles.stage1Rootfs);
  const abs = resolve(root, '.' + (p.startsWith('/') ? p : '/' + p));
  const rel = relative(root, abs);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw invalidArgument(`${what} ${JSON.stringify(p)} is outside the stage1 rootfs`);
  return abs;
}

export const supportsHostname = (v: number) => v > 1;
export const supportsInsecureOptions = (v: number) => v > 2;
export const supportsDnsConfMode = (v: number) => v > 3;
export const supportsGcLocalConfig = (v: number) => v >= 5;

export interface RunEntrypointOptions {
  debug: boolean;
  net: string;
  interactive: boolean;
  privateUsers?: string;
  mdsToken?: string;
  localConfig?: string;
  hostname?: string;
  dnsConfMode?: { resolv: string; hosts: string };
  insecure: { capabilities: boolean; paths: boolean; seccomp: boolean };
  ipc?: string;
  uuid: string;
}

/** The run entrypoint's arguments, in rkt's order and behind its interface-version gates. */
export function runEntrypointArgs(s1: Stage1Manifest, o: RunEntrypointOptions, warn: (m: string) => void): string[] {
  const v = s1.interfaceVersion;
  const args: string[] = [];
  if (o.debug) args.push('--debug');
  args.push(`--net=${o.net}`);
  if (o.interactive) args.push('--interactive');
  if (o.privateUsers) args.push(`--private-users=${o.privateUsers}`);
  if (o.mdsToken) args.push(`--mds-token=${o.mdsToken}`);
  if (o.localConfig) args.push(`--local-config=${o.localConfig}`);
  if (o.hostname) {
    if (supportsHostname(v)) args.push(`--hostname=${o.hostname}`);
    else warn('warning: --hostname option is not supported by stage1');
  }
  if (o.dnsConfMode && (o.dnsConfMode.resolv !== 'default' || o.dnsConfMode.hosts !== 'default')) {
    if (supportsDnsConfMode(v)) args.push(`--dns-conf-mode=resolv=${o.dnsConfMode.resolv},hosts=${o.dnsConfMode.hosts}`);
    else warn('warning: --dns-conf-mode option not supported by stage1');
  }
  if (supportsInsecureOptions(v)) {
    if (o.insecure.capabilities) args.push('--disable-capabilities-restriction');
    if (o.insecure.paths) args.push('--disable-paths');
    if (o.insecure.seccomp) args.push('--disable-seccomp');
  }
  if (o.ipc && v >= 6) args.push(`--ipc=${o.ipc}`);
  args.push(o.uuid);
  return args;
}

/**
 * Run the stage1 `run` entrypoint in the pod directory with the pod lock's open file description
 * as fd 3 (RKT_LOCK_FD=3), then drop our copy: from here on only stage1 and the children that keep
 * fd 3 hold the lock. Resolves with stage1's exit status (or the signal that killed it).
 *
 * Node cannot execve(2), so stage0 stays as stage1's parent and relays signals: SIGTERM, SIGHUP,
 * SIGUSR1/2 always; SIGINT and SIGQUIT only when stdin is not a terminal (from a terminal the
 * whole foreground process group already receives them).
 */
export function spawnStage1Run(pod: Pod, argv0: string, args: string[], lockFd: number, env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolveP, reject) => {
    const stdio: StdioOptions = ['inherit', 'inherit', 'inherit', lockFd];
    const child = spawn(argv0, args, {
      cwd: pod.path,
      stdio,
      env: { ...env, RKT_LOCK_FD: '3', RKT_SELINUX_CONTEXT: '', RKT_SELINUX_MOUNT_CONTEXT: '' },
    });
    const relayed: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];
    if (!process.stdin.isTTY) relayed.push('SIGINT', 'SIGQUIT');
    const handlers = new Map<NodeJS.Signals, () => void>();
    for (const s of relayed) {
      const h = () => {
        try {
          child.kill(s);
        } catch {
          // gone
        }
      };
      handlers.set(s, h);
      process.on(s, h);
    }
    if (process.stdin.isTTY) for (const s of ['SIGINT', 'SIGQUIT'] as const) handlers.set(s, () => undefined), process.on(s, handlers.get(s)!);
    const cleanup = () => {
      for (const [s, h] of handlers) process.off(s, h);
    };
    child.once('spawn', () => {
      mark('stage0: stage1 spawned');
      pod.close();
    });
    child.once('error', (e) => {
      cleanup();
      pod.close();
      reject(new RktError(ErrorCodes.INTERNAL, `error execing stage1 run entrypoint ${argv0}`, { cause: e }));
    });
    child.once('exit', (code, signal) => {
      mark('stage0: stage1 exited');
      cleanup();
      resolveP({ code, signal });
    });
  });
}

/**
 * Start the run entrypoint. When the stage1 image names a preparation module
 * (`rkt-ts.io/stage1/run-prepare`) stage0 imports that module from the pod's stage1 rootfs and runs
 * its `prepare` with the entrypoint's own arguments, here, and then starts the entrypoint with
 * RKT_TS_STAGE1_PREPARED=1, which skips that step: the same code on the same pod, without a second
 * node process (about 60 ms of every `rkt run`). RKT_STAGE1_IN_PROCESS=0 turns this off. A failure
 * is reported as the entrypoint would (`stage1: <message>`, its exit status, 254 by default).
 */
export async function startStage1Run(
  pod: Pod,
  s1: Stage1Manifest,
  argv0: string,
  args: string[],
  lockFd: number,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const childEnv: NodeJS.ProcessEnv = { ...env };
  delete childEnv[STAGE1_PREPARED_ENV];
  if (s1.runPrepareModule !== undefined && env.RKT_STAGE1_IN_PROCESS !== '0') {
    const file = insideStage1Rootfs(pod.path, s1.runPrepareModule, 'stage1 run-prepare module');
    try {
      const mod = (await import(pathToFileURL(file).href)) as { prepare?: unknown };
      if (typeof mod.prepare !== 'function') throw new Error(`${s1.runPrepareModule} has no prepare function`);
      await (mod.prepare as (argv: readonly string[], podPath: string) => Promise<void>)(args, pod.path);
    } catch (e) {
      process.stderr.write(`stage1: ${e instanceof Error ? e.message : String(e)}\n`);
      if (process.env.RKT_STAGE1_TRACE && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
      pod.close();
      const code = (e as { exitCode?: unknown }).exitCode;
      return { code: typeof code === 'number' && code > 0 ? code : 254, signal: null };
    }
    mark('stage0: stage1 prepared in-process');
    childEnv[STAGE1_PREPARED_ENV] = '1';
  }
  return spawnStage1Run(pod, argv0, args, lockFd, childEnv);
}

/** Fork+exec an entrypoint (gc, stop) in the pod dir with stdout/stderr passed through. */
export function callEntrypoint(podPath: string, argv0: string, args: string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; error?: Error } {
  const r = spawnSync(argv0, args, { cwd: podPath, stdio: ['ignore', 'inherit', 'inherit'], env });
  if (r.error) return { status: null, error: r.error };
  return { status: r.status ?? (r.signal ? 128 : null) };
}

/* ------------------------------------------------------------ choosing the stage1 image */

export const DEFAULT_STAGE1_NAME = 'coreos.com/rkt/stage1-native';
export const DEFAULT_STAGE1_VERSION = '1.30.0';

export interface Stage1Flags {
  url?: string;
  path?: string;
  name?: string;
  hash?: string;
  fromDir?: string;
}

export interface Stage1Sources {
  store: Store;
  imagesDir: string;
  config: { name: string; version: string; location: string };
  /** Fetch with signature checks (unless --insecure-options=image), as `rkt fetch`. */
  fetch(ref: string): Promise<ImageInfo>;
  debug(m: string): void;
}

function insideDir(dir: string, p: string): boolean {
  const rel = relative(resolve(dir), resolve(p));
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/**
 * Import a trusted local stage1 ACI (from the stage1 images dir) without a signature check.
 * Cached like a download: the file's URL with its size, mtime and inode as the ETag, so an
 * unchanged file costs a stat and an index lookup, and a rebuilt or upgraded one is imported again
 * (the store's name:version lookup alone would keep running a stale stage1 of the same version).
 */
export async function importTrustedFile(store: Store, path: string): Promise<ImageInfo> {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw notFound(`stage1 image ${path} does not exist`);
  }
  if (!st.isFile()) throw invalidArgument(`stage1 image ${path} is not a file`);
  const url = pathToFileURL(resolve(path)).href;
  const etag = `${st.size}-${st.mtimeMs}-${st.ino}`;
  const cached = await store.images.remote(url);
  if (cached?.etag === etag) {
    const info = await store.images.getInfo(cached.imageId);
    if (info) return info;
  }
  return store.images.importAci(createReadStream(path), { remote: { url, etag } });
}

/** rkt §3.19: the stage1 image id for a new pod. */
export async function selectStage1(flags: Stage1Flags, src: Stage1Sources): Promise<ImageInfo> {
  const given = (['url', 'path', 'name', 'hash', 'fromDir'] as const).filter((k) => flags[k] !== undefined);
  if (given.length > 1)
    throw invalidArgument('--stage1-url, --stage1-path, --stage1-name, --stage1-hash and --stage1-from-dir are mutually exclusive');
  const { store, imagesDir } = src;
  if (flags.hash !== undefined) {
    if (!/^sha512-[0-9a-f]{2,}$/i.test(flags.hash)) throw invalidArgument(`--stage1-hash ${JSON.stringify(flags.hash)}: not an image id (sha512-…)`);
    const id = await store.images.resolveId(flags.hash.toLowerCase());
    return (await store.images.getInfo(id))!;
  }
  if (flags.fromDir !== undefined) {
    if (flags.fromDir === '' || flags.fromDir.includes('/')) throw invalidArgument(`--stage1-from-dir ${JSON.stringify(flags.fromDir)}: give a file name inside ${imagesDir}`);
    return importTrustedFile(store, join(imagesDir, flags.fromDir));
  }
  if (flags.path !== undefined) {
    const p = resolve(flags.path);
    if (insideDir(imagesDir, p)) return importTrustedFile(store, p);
    return src.fetch(p);
  }
  if (flags.url !== undefined) {
    if (/^file:\/\//i.test(flags.url)) {
      const p = decodeURIComponent(new URL(flags.url).pathname);
      if (insideDir(imagesDir, p)) return importTrustedFile(store, p);
    }
    return src.fetch(flags.url);
  }
  if (flags.name !== undefined) return src.fetch(flags.name);

  // No flag: the configured (or built-in) default.
  const name = src.config.name && src.config.version ? src.config.name : DEFAULT_STAGE1_NAME;
  const version = src.config.name && src.config.version ? src.config.version : DEFAULT_STAGE1_VERSION;
  const failures: string[] = [];
  // The flavor's image installed beside rkt (or built by a checkout's setup) wins over an older
  // copy of the same name and version in the store.
  const file = join(imagesDir, `${basename(name)}.aci`);
  if (!src.config.location && existsSync(file)) return importTrustedFile(store, file);
  if (!version.endsWith('-dirty')) {
    const hit = await store.images.findByName(name, { version });
    if (hit) {
      src.debug(`using stage1 ${name}:${version} from the store`);
      return hit;
    }
  }
  const location = src.config.location;
  if (location) {
    try {
      const abs = location.startsWith('/') ? location : undefined;
      if (abs && insideDir(imagesDir, abs)) return await importTrustedFile(store, abs);
      return await src.fetch(location);
    } catch (e) {
      failures.push(`${location}: ${(e as Error).message}`);
    }
  }
  if (existsSync(file)) return importTrustedFile(store, file);
  failures.push(`${file} does not exist`);
  throw notFound(`failed to fetch stage1 image ${name}:${version} (${failures.join('; ')})`);
}
