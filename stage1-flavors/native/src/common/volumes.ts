/**
 * Volumes and mount points of an app (appc §6.7, rkt.md §3.3): every app mount point is matched by
 * name to a pod volume (or an inline `appVolume`); a mount point without one gets an implicit
 * `empty` volume (with a warning). `empty` volumes live in the stage1 rootfs and are shared by the
 * apps that mount them; `host` sources must exist.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { App, PodManifest, RuntimeApp, Volume } from '@rkt/api';
import { Stage1Error, type Logger } from './log.js';
import type { PodDir } from './pod.js';

export interface AppMount {
  volume: string;
  kind: 'host' | 'empty';
  /** Host path to bind. */
  source: string;
  /** Path inside the app. */
  target: string;
  readOnly: boolean;
  recursive: boolean;
}

function cleanTarget(p: string, app: string): string {
  if (!p.startsWith('/')) throw new Stage1Error(`app "${app}": mount path "${p}" is not absolute`);
  const c = path.posix.normalize(p);
  if (c === '/') throw new Stage1Error(`app "${app}": cannot mount a volume on /`);
  return c.replace(/\/$/, '');
}

function prepareEmpty(pod: PodDir, v: Volume): string {
  const dir = pod.volumeDir(v.name);
  if (!fs.existsSync(dir)) {
    const mode = v.mode !== undefined ? parseInt(v.mode, 8) : 0o755;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new Stage1Error(`volume "${v.name}": invalid mode "${v.mode}"`);
    fs.mkdirSync(dir, { recursive: true });
    fs.chownSync(dir, v.uid ?? 0, v.gid ?? 0);
    fs.chmodSync(dir, mode);
  }
  return dir;
}

export function appMounts(
  pod: PodDir,
  manifest: PodManifest,
  rt: RuntimeApp,
  app: App,
  log: Logger,
  defaultRecursive: boolean,
): AppMount[] {
  const vols = new Map((manifest.volumes ?? []).map((v) => [v.name, v]));
  const out: AppMount[] = [];
  const byTarget = new Map<string, AppMount>();
  const add = (v: Volume, target: string, mpReadOnly: boolean) => {
    let source: string;
    if (v.kind === 'host') {
      if (!v.source || !v.source.startsWith('/')) throw new Stage1Error(`volume "${v.name}": host source must be an absolute path`);
      try {
        source = fs.realpathSync(v.source);
      } catch {
        throw new Stage1Error(`volume "${v.name}": host source "${v.source}" does not exist`);
      }
    } else if (v.kind === 'empty') {
      source = prepareEmpty(pod, v);
    } else {
      throw new Stage1Error(`volume "${v.name}": unknown kind "${v.kind}"`);
    }
    const m: AppMount = {
      volume: v.name,
      kind: v.kind,
      source,
      target,
      readOnly: Boolean(v.readOnly) || mpReadOnly,
      recursive: v.kind === 'host' ? (v.recursive ?? defaultRecursive) : false,
    };
    if (byTarget.has(target)) throw new Stage1Error(`app "${rt.name}": two volumes mounted on ${target}`);
    byTarget.set(target, m);
    out.push(m);
  };
  const mps = new Map((app.mountPoints ?? []).map((mp) => [mp.name, mp]));
  const used = new Set<string>();
  for (const m of rt.mounts ?? []) {
    const v = m.appVolume ?? vols.get(m.volume);
    if (!v) throw new Stage1Error(`app "${rt.name}": mount refers to undefined volume "${m.volume}"`);
    const mp = mps.get(m.volume);
    used.add(m.volume);
    add(v, cleanTarget(m.path || mp?.path || '', rt.name), Boolean(mp?.readOnly));
  }
  for (const mp of app.mountPoints ?? []) {
    if (used.has(mp.name)) continue;
    const v = vols.get(mp.name);
    if (v) {
      add(v, cleanTarget(mp.path, rt.name), Boolean(mp.readOnly));
    } else {
      log.warn(`no volume specified for mount point "${mp.name}" of app "${rt.name}", using an empty volume`);
      add({ name: `${rt.name.replace(/\//g, '_')}-${mp.name}`, kind: 'empty' }, cleanTarget(mp.path, rt.name), Boolean(mp.readOnly));
    }
  }
  const targets = [...byTarget.keys()];
  for (const a of targets) for (const b of targets) {
    if (a !== b && b.startsWith(a + '/')) throw new Stage1Error(`app "${rt.name}": nested volume targets ${a} and ${b}`);
  }
  return out;
}
