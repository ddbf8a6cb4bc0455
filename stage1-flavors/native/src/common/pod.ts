/**
 * The pod directory as stage0 lays it out (rkt.md §1.3); every entrypoint runs with cwd = the pod
 * dir. Only the files stage1 reads or writes are named here.
 */
import type { RunArgs } from './args.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { App, ImageManifest, PodManifest, RuntimeApp } from '@rkt/api';
import { Stage1Error } from './log.js';

const MAX_MANIFEST = 1 << 20;

export class PodDir {
  constructor(readonly dir: string) {}
  get stage1Rootfs(): string {
    return path.join(this.dir, 'stage1', 'rootfs');
  }
  /** stage1/rootfs/opt/stage2/<app> */
  appDir(app: string): string {
    return path.join(this.stage1Rootfs, 'opt', 'stage2', app);
  }
  appRootfs(app: string): string {
    return path.join(this.appDir(app), 'rootfs');
  }
  get statusDir(): string {
    return path.join(this.stage1Rootfs, 'rkt', 'status');
  }
  get envDir(): string {
    return path.join(this.stage1Rootfs, 'rkt', 'env');
  }
  statusFile(app: string): string {
    return path.join(this.statusDir, app);
  }
  envFile(app: string): string {
    return path.join(this.envDir, app);
  }
  get supervisorStatus(): string {
    return path.join(this.stage1Rootfs, 'rkt', 'supervisor-status');
  }
  /** Flavor-private runtime state (bundles, runtime state dir, plans). */
  get flavorState(): string {
    return path.join(this.stage1Rootfs, 'rkt', 'flavor-state');
  }
  /** Directories of `empty` volumes, shared by the apps that mount them. */
  volumeDir(name: string): string {
    return path.join(this.stage1Rootfs, 'rkt', 'volumes', name);
  }
  file(name: string): string {
    return path.join(this.dir, name);
  }

  readPodManifest(): PodManifest {
    const m = readJson(this.file('pod')) as PodManifest;
    if (m?.acKind !== 'PodManifest' || !Array.isArray(m.apps)) throw new Stage1Error('invalid pod manifest');
    if (m.apps.length === 0) throw new Stage1Error('the pod manifest has no apps');
    const seen = new Set<string>();
    for (const a of m.apps) {
      if (typeof a.name !== 'string' || !/^[a-z0-9]+([-._~/][a-z0-9]+)*$/.test(a.name)) {
        throw new Stage1Error(`invalid app name ${JSON.stringify(a.name)}`);
      }
      if (seen.has(a.name)) throw new Stage1Error(`duplicate app name "${a.name}"`);
      seen.add(a.name);
    }
    return m;
  }

  readImageManifest(app: string): ImageManifest {
    for (const p of [path.join(this.appDir(app), 'manifest'), path.join(this.dir, 'appsinfo', app, 'manifest')]) {
      if (fs.existsSync(p)) return readJson(p) as ImageManifest;
    }
    throw new Stage1Error(`no image manifest for app "${app}"`);
  }

  readPid(name: 'pid' | 'ppid' | 'pgid'): number | undefined {
    try {
      const n = Number(fs.readFileSync(this.file(name), 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }
}

export function readJson(p: string): unknown {
  let text: string;
  try {
    const st = fs.statSync(p);
    if (st.size > MAX_MANIFEST) throw new Stage1Error(`${p}: too large`);
    text = fs.readFileSync(p, 'utf8');
  } catch (e) {
    if (e instanceof Stage1Error) throw e;
    throw new Stage1Error(`cannot read ${p}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Stage1Error(`cannot parse ${p}: ${(e as Error).message}`);
  }
}

/** The app a RuntimeApp runs: the pod's `app` replaces the image's as a whole (appc §3.1). */
export function effectiveApp(rt: RuntimeApp, image: ImageManifest): App {
  const app = rt.app ?? image.app;
  if (!app) throw new Stage1Error(`app "${rt.name}" has no app section`);
  if (!app.exec || app.exec.length === 0) throw new Stage1Error(`app "${rt.name}" has no exec`);
  return app;
}

/** Write a file atomically (temp file + rename). */
export function writeFileAtomic(p: string, data: string | Uint8Array, mode = 0o640): void {
  const tmp = `${p}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data, { mode });
  fs.renameSync(tmp, p);
}

/** systemd EnvironmentFile syntax: `NAME=value`, double-quoted with C escapes when needed. */
export function formatEnvFile(env: [string, string][]): string {
  return env
    .map(([k, v]) =>
      /^[A-Za-z0-9_./:,@%+=-]*$/.test(v)
        ? `${k}=${v}\n`
        : `${k}="${v.replace(/[\\"$`]/g, (c) => '\\' + c).replace(/\n/g, '\\n')}"\n`,
    )
    .join('');
}

export function parseEnvFile(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const k = line.slice(0, eq);
    let v = line.slice(eq + 1);
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) {
      v = v.slice(1, -1).replace(/\\(n|.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push([k, v]);
  }
  return out;
}

/**
 * `$pod/runtime-config` as rkt's stage1 writes it (the run options `rkt status` and tools read back).
 * `Mutable` is always false: no flavor supports mutable pods.
 */
export function writeRuntimeConfig(
  pod: PodDir,
  args: Pick<RunArgs, 'debug' | 'resolvConfMode' | 'hostsMode' | 'net' | 'interactive' | 'disablePaths' | 'disableCapabilities' | 'disableSeccomp'>,
  o: { hostname: string; ipc: string },
): void {
  writeFileAtomic(
    pod.file('runtime-config'),
    JSON.stringify({
      Hostname: o.hostname,
      Debug: args.debug,
      Mutable: false,
      ResolvConfMode: args.resolvConfMode,
      EtcHostsMode: args.hostsMode,
      NetList: args.net,
      Interactive: args.interactive,
      InsecureOptions: { DisablePaths: args.disablePaths, DisableCapabilities: args.disableCapabilities, DisableSeccomp: args.disableSeccomp },
      IPCMode: o.ipc,
    }),
    0o640,
  );
}
