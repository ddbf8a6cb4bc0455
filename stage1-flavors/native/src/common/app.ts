/**
 * Per-app preparation shared by the full-isolation flavors (native, nspawn): everything the run
 * entrypoint decides about one app of the pod before any app runs — its effective app, user and
 * group, environment (and env file), volumes, DNS files, working directory, isolators,
 * capability bounding set and seccomp filter — plus the mount targets and `/etc/mtab`, created
 * through the in-rootfs resolver so that nothing resolves outside the app rootfs and a read-only
 * rootfs still gets its volumes. How the app is then started is the flavor's business.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { App, AppRuntimeSettings, PodManifest, RuntimeApp } from '@rkt/api';
import type { RunArgs } from './args.js';
import { boundingSet } from './caps.js';
import { dnsBinds, type FileBind } from './dns.js';
import { appEnvironment, type EnvOptions } from './env.js';
import { runtimeSettings, type ExternalSettings } from './isolators.js';
import { Stage1Error, type Logger } from './log.js';
import { effectiveApp, formatEnvFile, writeFileAtomic, type PodDir } from './pod.js';
import { checkWorkingDir, mkdirInRoot, resolveInRoot, resolveUserGroup, touchInRoot, type ResolvedUser } from './rootfs.js';
import { ociSeccomp, type OciSeccomp } from './seccomp.js';
import { appMounts, type AppMount } from './volumes.js';

export interface PreparedApp {
  name: string;
  rt: RuntimeApp;
  app: App;
  /** Host path of the app rootfs. */
  rootfs: string;
  user: ResolvedUser;
  env: [string, string][];
  cwd: string;
  mounts: AppMount[];
  fileBinds: FileBind[];
  settings: AppRuntimeSettings;
  capabilities: string[];
  seccomp: OciSeccomp | undefined;
  readOnlyRootfs: boolean;
}

export interface PrepareAppOptions {
  args: RunArgs;
  hostname: string;
  hostCaps: Set<string>;
  log: Logger;
  /** Flavor name, for messages. */
  flavor: string;
  /** Whether host volumes are bound recursively when the volume does not say. */
  defaultRecursive: boolean;
  /** Extra environment inputs (the metadata service URL). */
  envOptions?: EnvOptions;
}

export function prepareApp(pod: PodDir, manifest: PodManifest, rt: RuntimeApp, o: PrepareAppOptions): PreparedApp {
  const name = rt.name;
  const image = pod.readImageManifest(name);
  const app = effectiveApp(rt, image);
  const rootfs = pod.appRootfs(name);
  if (!fs.existsSync(rootfs)) throw new Stage1Error(`app "${name}": rootfs ${rootfs} is missing`);
  for (const api of ['proc', 'sys', 'dev']) {
    // CVE-2019-19921 class: the API file systems are only mounted on real directories.
    const st = fs.lstatSync(path.join(rootfs, api), { throwIfNoEntry: false });
    if (st && !st.isDirectory()) throw new Stage1Error(`app "${name}": /${api} in the image is not a directory`);
  }
  const user = resolveUserGroup(rootfs, app.user, app.group, name);
  const env = appEnvironment(name, app, o.envOptions ?? {});
  const envFile = pod.envFile(name);
  fs.mkdirSync(path.dirname(envFile), { recursive: true });
  writeFileAtomic(envFile, formatEnvFile(env), 0o640);
  const mounts = appMounts(pod, manifest, rt, app, o.log, o.defaultRecursive);
  const fileBinds = dnsBinds(pod, rootfs, mounts, { resolv: o.args.resolvConfMode, hosts: o.args.hostsMode }, o.hostname);

  const cwd = app.workingDirectory ?? '/';
  checkWorkingDir(rootfs, cwd, mounts.map((m) => m.target), name);

  const iso = runtimeSettings(app.isolators, [], stage0IsolatorSettings(pod, name));
  for (const n of iso.ignored) o.log.warn(`app "${name}": ignoring unknown isolator ${n}`);
  if (iso.settings.unixSysctl) o.log.warn(`app "${name}": os/unix/sysctl is not supported by the ${o.flavor} stage1, ignored`);
  let capabilities: string[];
  let seccomp: OciSeccomp | undefined;
  try {
    capabilities = boundingSet(iso.settings.capabilities, o.args.disableCapabilities, o.hostCaps);
    seccomp = ociSeccomp(iso.settings.seccomp, o.args.disableSeccomp);
  } catch (e) {
    throw new Stage1Error(`app "${name}": ${(e as Error).message}`);
  }
  o.log.debug(
    `app "${name}": uid ${user.uid} gid ${user.gid}, caps ${capabilities.join(',')}, seccomp ${seccomp ? (iso.settings.seccomp?.mode ?? 'default') : 'off'}`,
  );

  for (const m of mounts) {
    if (fs.statSync(m.source).isDirectory()) mkdirInRoot(rootfs, m.target);
    else touchInRoot(rootfs, m.target);
  }
  const etc = resolveInRoot(rootfs, '/etc');
  for (const b of fileBinds) touchInRoot(rootfs, b.target);
  if (etc.exists && !resolveInRoot(rootfs, '/etc/mtab').exists && fs.lstatSync(path.join(etc.hostPath, 'mtab'), { throwIfNoEntry: false }) === undefined) {
    fs.symlinkSync('../proc/self/mounts', path.join(etc.hostPath, 'mtab'));
  }
  return {
    name,
    rt,
    app,
    rootfs,
    user,
    env,
    cwd,
    mounts,
    fileBinds,
    settings: iso.settings,
    capabilities,
    seccomp,
    readOnlyRootfs: Boolean(rt.readOnlyRootFS),
  };
}

/** The app `rkt enter` targets: the named one, or the only app of the pod when none is named. */
export function pickApp<T extends { name: string }>(apps: readonly T[], name: string | undefined): T {
  if (!name) {
    if (apps.length !== 1) throw new Stage1Error(`specify app using "rkt enter --app= ..."`);
    return apps[0]!;
  }
  const app = apps.find((a) => a.name === name);
  if (!app) throw new Stage1Error(`app "${name}" not found in the pod`);
  return app;
}

/**
 * What stage0's Isolator contributions computed for an app (`$pod/isolator-settings.json`, see
 * the CLI's pods/isolators.ts); undefined without the file (an older stage0, or no isolators).
 */
interface IsolatorSettingsFile {
  apps?: Record<string, { settings?: AppRuntimeSettings; handled?: unknown }>;
  pod?: { handled?: unknown };
}

function readIsolatorSettings(pod: PodDir): IsolatorSettingsFile | undefined {
  try {
    return JSON.parse(fs.readFileSync(pod.file('isolator-settings.json'), 'utf8')) as IsolatorSettingsFile;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** Pod-level isolator names stage0's contributions applied (not to be reported as unknown). */
export function stage0PodIsolators(pod: PodDir): string[] {
  return strings(readIsolatorSettings(pod)?.pod?.handled);
}

export function stage0IsolatorSettings(pod: PodDir, app: string): ExternalSettings | undefined {
  const a = readIsolatorSettings(pod)?.apps?.[app];
  if (!a || typeof a.settings !== 'object' || a.settings === null || !Array.isArray(a.handled)) return undefined;
  return { settings: a.settings, handled: strings(a.handled) };
}
