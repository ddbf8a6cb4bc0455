/**
 * `rkt gc` and `rkt rm` (rkt §7): mark exited/aborted pods by renaming them into the garbage dirs,
 * expire old prepared pods, and sweep garbage under an exclusive lock: stage1's gc entrypoint, then
 * every leftover mount, then the stage1 rootfs, then the pod directory.
 */
import { lstatSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Store, type Store as StoreT } from '@rkt/api';
import type { Engine } from '../engine.js';
import { Pod, PodFiles, PodState, walkPods } from './pod.js';
import { isMountPoint, mountOverlay, unmountAll } from './mounts.js';
import { callEntrypoint, Entrypoint, entrypointPath, readStage1Manifest, supportsGcLocalConfig } from './stage1.js';
import { mkdirp } from './render.js';

export interface GcLog {
  out(m: string): void;
  err(m: string): void;
  debug(m: string): void;
}

export interface GcOptions {
  gracePeriodMs: number;
  expirePreparedMs: number;
  markOnly: boolean;
}

function ctimeMs(path: string): number | undefined {
  try {
    return lstatSync(path).ctimeMs;
  } catch {
    return undefined;
  }
}

export function markExited(dataDir: string, log: GcLog): void {
  walkPods(dataDir, ['run'], (p) => {
    if (p.state !== PodState.Exited) return;
    log.err(`moving pod ${JSON.stringify(p.uuid)} to garbage`);
    try {
      p.toExitedGarbage();
    } catch (e) {
      log.err(`rename error: ${(e as Error).message}`);
    }
  });
}

export function markAborted(dataDir: string, log: GcLog): void {
  walkPods(dataDir, ['prepare'], (p) => {
    if (p.state !== PodState.AbortedPrepare) return;
    log.err(`moving failed prepare ${JSON.stringify(p.uuid)} to garbage`);
    try {
      p.toGarbage();
    } catch (e) {
      log.err(`rename error: ${(e as Error).message}`);
    }
  });
}

export function expirePrepared(dataDir: string, expireMs: number, log: GcLog): void {
  walkPods(dataDir, ['prepared'], (p) => {
    const c = ctimeMs(p.path);
    if (c === undefined || Date.now() <= c + expireMs) return;
    log.err(`moving expired prepared pod ${JSON.stringify(p.uuid)} to garbage`);
    try {
      p.toGarbage();
    } catch (e) {
      log.err(`rename error: ${(e as Error).message}`);
    }
  });
}

export interface DeleteContext {
  engine: Engine;
  log: GcLog;
  store?: StoreT;
}

async function storeOf(ctx: DeleteContext): Promise<StoreT> {
  ctx.store ??= await ctx.engine.host.activateDefault(Store);
  return ctx.store;
}

/** Remount the stage1 overlay when it is not mounted (after a reboot, or a manual unmount). */
async function mountStage1IfNeeded(pod: Pod, ctx: DeleteContext): Promise<boolean> {
  if (!pod.usesOverlay()) return false;
  const target = pod.file(PodFiles.stage1Rootfs);
  if (isMountPoint(target)) return false;
  const id = pod.stage1TreeStoreId();
  const tree = await (await storeOf(ctx)).trees.get(id);
  if (!tree) throw new Error(`error getting stage1 tree ${id}: not in the tree store`);
  const upper = pod.file(join('overlay', id, 'upper'));
  const work = pod.file(join('overlay', id, 'work'));
  mkdirp(target);
  mountOverlay(join(tree.path, 'rootfs'), upper, work, target);
  return true;
}

/**
 * Delete a pod we hold exclusively locked in exited-garbage or garbage. Returns false (after
 * reporting) when something stays behind; the pod manifest is then kept so that a later gc retries.
 */
export async function deletePod(pod: Pod, ctx: DeleteContext): Promise<boolean> {
  const { log } = ctx;
  const st = pod.state;
  if (st !== PodState.ExitedDeleting && st !== PodState.Deleting) {
    log.err(`non-garbage pod ${JSON.stringify(pod.uuid)} (status ${JSON.stringify(st)}), skipped`);
    return false;
  }
  if (pod.dir === 'exited-garbage') {
    try {
      await mountStage1IfNeeded(pod, ctx);
      const s1 = readStage1Manifest(pod.path);
      let gcPath: string | undefined;
      try {
        gcPath = entrypointPath(pod.path, s1, Entrypoint.gc);
      } catch {
        log.debug(`stage1 of pod ${pod.uuid} has no gc entrypoint`);
      }
      if (gcPath) {
        const args = [...(ctx.engine.context.debug ? ['--debug'] : [])];
        if (supportsGcLocalConfig(s1.interfaceVersion)) args.push('--local-config', ctx.engine.context.paths.localConfigDir);
        args.push(pod.uuid);
        const r = callEntrypoint(pod.path, gcPath, args);
        if (r.error || r.status !== 0)
          log.err(`problem performing stage1 GC on ${JSON.stringify(pod.uuid)}: ${r.error ? r.error.message : `exit status ${r.status}`}`);
      }
    } catch (e) {
      log.err(`skipping stage1 GC: ${(e as Error).message}`);
    }
  }
  await (await import('../mds/client.js')).unregisterIfMarked(pod.dataDir, pod, log.err);
  // Contained networking (runtime/net): CNI DEL, port chains, netns — also after a reboot.
  await (await import('../net/pod-net.js')).teardownWithPlugins(ctx.engine.host, pod.path, pod.uuid, log.err, log.debug);
  const errors = unmountAll(pod.path);
  if (errors.length) {
    log.err(`GC of leftover mounts for pod ${JSON.stringify(pod.uuid)} failed: ${errors.join('; ')}`);
    return false;
  }
  // The stage1 rootfs (or the overlay upper holding it) first: on failure the manifest stays.
  try {
    const s1 = pod.usesOverlay() ? pod.file(join('overlay', pod.stage1TreeStoreId(), 'upper')) : pod.file(PodFiles.stage1Rootfs);
    rmSync(s1, { recursive: true, force: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      log.err(`unable to remove pod rootfs ${JSON.stringify(pod.uuid)}: ${(e as Error).message}`);
      return false;
    }
  }
  try {
    rmSync(pod.path, { recursive: true, force: true });
  } catch (e) {
    log.err(`unable to remove pod ${JSON.stringify(pod.uuid)}: ${(e as Error).message}`);
    return false;
  }
  return true;
}

async function sweep(dataDir: string, dir: 'exited-garbage' | 'garbage', graceMs: number, ctx: DeleteContext): Promise<void> {
  const pods: Pod[] = [];
  walkPods(dataDir, [dir], (p) => void pods.push(new Pod(dataDir, p.uuid)));
  for (const p of pods) {
    p.refresh();
    if (p.dir !== dir) continue;
    if (dir === 'exited-garbage') {
      const c = ctimeMs(p.path);
      if (c === undefined) continue;
      if (Date.now() <= c + graceMs) {
        ctx.log.err(`pod ${JSON.stringify(p.uuid)} not removed: still within grace period (${formatGoDuration(graceMs)})`);
        continue;
      }
    }
    try {
      if (!p.tryExclusiveLock()) continue;
    } catch {
      continue; // renamed or removed by a racing gc
    }
    try {
      ctx.log.out(`Garbage collecting pod ${JSON.stringify(p.uuid)}`);
      await deletePod(p, ctx);
    } finally {
      p.close();
    }
  }
}

export async function gcPods(engine: Engine, o: GcOptions, log: GcLog): Promise<void> {
  const dataDir = engine.context.paths.dataDir;
  const ctx: DeleteContext = { engine, log };
  markExited(dataDir, log);
  markAborted(dataDir, log);
  if (o.markOnly) return;
  expirePrepared(dataDir, o.expirePreparedMs, log);
  await sweep(dataDir, 'exited-garbage', o.gracePeriodMs, ctx);
  await sweep(dataDir, 'garbage', 0, ctx);
}

/** `rkt rm` of one pod: refuse live states, mark, lock, delete. */
export async function removePod(pod: Pod, ctx: DeleteContext): Promise<boolean> {
  const q = JSON.stringify(pod.uuid);
  switch (pod.state) {
    case PodState.Running:
      ctx.log.err(`pod ${q} is currently running`);
      return false;
    case PodState.Embryo:
    case PodState.Preparing:
      ctx.log.err(`pod ${q} is currently being prepared`);
      return false;
    case PodState.Deleting:
    case PodState.ExitedDeleting:
      ctx.log.err(`pod ${q} is currently being deleted`);
      return false;
    case PodState.AbortedPrepare:
      ctx.log.err(`moving failed prepare ${q} to garbage`);
      pod.toGarbage();
      break;
    case PodState.Prepared:
      ctx.log.err(`moving expired prepared pod ${q} to garbage`);
      pod.toGarbage();
      break;
    case PodState.Exited:
      pod.toExitedGarbage();
      break;
    default:
      break;
  }
  if (!pod.dir) {
    ctx.log.err(`pod ${q} was removed meanwhile`);
    return false;
  }
  if (!pod.tryExclusiveLock()) {
    ctx.log.err(`unable to acquire exclusive lock: pod ${q} is locked by another process`);
    return false;
  }
  pod.refresh();
  return deletePod(pod, ctx);
}

/** Go's time.Duration String(): 30m0s, 24h0m0s, 1.5s, 0s. */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  let rest = Math.abs(ms);
  if (rest < 1000) return `${neg ? '-' : ''}${rest}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  const sText = Number.isInteger(s) ? String(s) : String(Number(s.toFixed(9)));
  let out = '';
  if (h) out += `${h}h${m}m`;
  else if (m) out += `${m}m`;
  out += `${sText}s`;
  return (neg ? '-' : '') + out;
}
