/** What `rkt list` and `rkt status` print: rkt's api/v1 Pod JSON, the key=value text, table rows. */
import type { PodManifest } from '@rkt/api';
import { fullTime, relativeTime } from '../format.js';
import { Pod, PodState, type NetInfo } from './pod.js';

export interface V1Mount {
  name: string;
  container_path: string;
  host_path: string;
  read_only: boolean;
}
export interface V1App {
  name: string;
  state: 'unknown' | 'created' | 'running' | 'exited';
  created_at?: number;
  started_at?: number;
  finished_at?: number;
  exit_code?: number;
  image_id: string;
  mounts?: V1Mount[];
  user_annotations?: Record<string, string>;
  user_labels?: Record<string, string>;
}
export interface V1Pod {
  name: string;
  state: string;
  networks?: NetInfo[];
  app_names?: string[];
  apps?: V1App[];
  created_at?: number;
  started_at?: number;
  user_annotations?: Record<string, string>;
  user_labels?: Record<string, string>;
}

/** Go's zero time.Time in the full layout (what rkt prints for a pod not yet created). */
const GO_ZERO_TIME = '0001-01-01 00:00:00 +0000 UTC';
const ns = (d: Date) => d.getTime() * 1_000_000;
const secs = (d: Date) => Math.floor(d.getTime() / 1000);

function appStateFromPod(s: PodState | 'gone'): V1App['state'] {
  switch (s) {
    case PodState.Prepared:
      return 'created';
    case PodState.Running:
      return 'running';
    case PodState.Deleting:
    case PodState.ExitedDeleting:
    case PodState.Exited:
    case PodState.ExitedGarbage:
    case PodState.Garbage:
      return 'exited';
    default:
      return 'unknown';
  }
}

/** rkt's lib.NewPodFromInternalPod (immutable pods). Throws for pods without a creation time. */
export function v1Pod(p: Pod): V1Pod {
  const pod: V1Pod = { name: p.uuid, state: p.state };
  const nets = p.networks();
  if (nets.length) pod.networks = nets;
  const created = p.creationTime();
  if (!created || created.getTime() <= 0) throw new Error(`pod ${p.uuid}: invalid creation time`);
  if (!p.manifestAvailable()) {
    pod.created_at = secs(created);
    const started0 = p.startTime();
    if (started0) pod.started_at = secs(started0);
    return pod;
  }
  const m = p.manifest();
  pod.app_names = m.apps.map((a) => a.name);
  const started = p.startTime();
  const finished = p.gcMarkedTime();
  const vols = new Map((m.volumes ?? []).map((v) => [v.name, v]));
  pod.apps = m.apps.map((ra) => {
    const app: V1App = { name: ra.name, state: appStateFromPod(p.state), image_id: ra.image.id };
    app.created_at = ns(created);
    const code = p.appExitCode(ra.name);
    if (code !== undefined) {
      app.state = 'exited';
      app.exit_code = code;
    }
    if (started) app.started_at = ns(started);
    if (finished) app.finished_at = ns(finished);
    const mounts = (ra.mounts ?? []).map((mt) => {
      const v = mt.appVolume ?? vols.get(mt.volume);
      return { name: mt.volume, container_path: mt.path, host_path: v?.source ?? '', read_only: Boolean(v?.readOnly) };
    });
    if (mounts.length) app.mounts = mounts;
    if (ra.app?.userAnnotations && Object.keys(ra.app.userAnnotations).length) app.user_annotations = ra.app.userAnnotations;
    if (ra.app?.userLabels && Object.keys(ra.app.userLabels).length) app.user_labels = ra.app.userLabels;
    return app;
  });
  if (!pod.apps.length) delete pod.apps;
  if (!pod.app_names.length) delete pod.app_names;
  pod.created_at = secs(created);
  if (started) pod.started_at = secs(started);
  if (m.userAnnotations && Object.keys(m.userAnnotations).length) pod.user_annotations = m.userAnnotations;
  if (m.userLabels && Object.keys(m.userLabels).length) pod.user_labels = m.userLabels;
  // Go's field order
  return {
    name: pod.name,
    state: pod.state,
    ...(pod.networks ? { networks: pod.networks } : {}),
    ...(pod.app_names ? { app_names: pod.app_names } : {}),
    ...(pod.apps ? { apps: pod.apps } : {}),
    ...(pod.created_at !== undefined ? { created_at: pod.created_at } : {}),
    ...(pod.started_at !== undefined ? { started_at: pod.started_at } : {}),
    ...(pod.user_annotations ? { user_annotations: pod.user_annotations } : {}),
    ...(pod.user_labels ? { user_labels: pod.user_labels } : {}),
  };
}

/** rkt's `net:ip4=ADDR` per network; an IPv6 address (rkt-ts) is added as `ip6=ADDR`. */
export function fmtNets(nets: NetInfo[]): string {
  return nets
    .map((n) => {
      const ip6 = typeof n.ip6 === 'string' ? n.ip6.split('/')[0] : undefined;
      const parts = n.ip || !ip6 ? [`ip4=${n.ip ?? ''}`] : [];
      if (ip6) parts.push(`ip6=${ip6}`);
      return `${n.netName ?? ''}:${parts.join(',')}`;
    })
    .join(', ');
}

/** `rkt status` text: key=value lines in rkt's order. */
export async function statusText(p: Pod, waitPid: (p: Pod) => Promise<number | undefined>): Promise<string> {
  const lines: string[] = [];
  const state = p.state;
  lines.push(`state=${state}`);
  const created = p.creationTime();
  lines.push(`created=${created ? fullTime(created) : GO_ZERO_TIME}`);
  const started = p.startTime();
  if (started) lines.push(`started=${fullTime(started)}`);
  if (state === PodState.Running) lines.push(`networks=${fmtNets(p.networks())}`);
  if (state === PodState.Running || state === PodState.Deleting || state === PodState.ExitedDeleting || state === PodState.Exited || state === PodState.ExitedGarbage) {
    const pid = await waitPid(p);
    if (pid !== undefined) lines.push(`pid=${pid}`);
    lines.push(`exited=${state === PodState.Exited || state === PodState.ExitedGarbage}`);
    if (state !== PodState.Running) {
      const m = p.manifest();
      for (const a of m.apps) {
        const c = p.appExitCode(a.name);
        if (c !== undefined) lines.push(`app-${a.name}=${c}`);
      }
    }
  }
  return lines.map((l) => l + '\n').join('');
}

/** The rows one pod contributes to `rkt list`. */
export function listRows(p: Pod, full: boolean, errors: string[]): string[][] {
  let manifest: PodManifest | undefined;
  if (p.manifestAvailable()) {
    try {
      manifest = p.manifest();
    } catch (e) {
      errors.push(`Unable to read pod ${p.uuid} manifest:\n  ${(e as Error).message}`);
      return [];
    }
  }
  const fmt = (d: Date | undefined) => (d ? (full ? fullTime(d) : relativeTime(d)) : '');
  let uuid = full ? p.uuid : p.uuid.slice(0, 8);
  let state: string = p.state;
  let nets = fmtNets(p.networks());
  let created = fmt(p.creationTime());
  let started = fmt(p.startTime());
  const rows: string[][] = [];
  const apps = manifest?.apps ?? [];
  if (apps.length === 0) {
    rows.push(full ? [uuid, '-', '-', '-', state, created, started, nets] : [uuid, '-', '-', state, created, started, nets]);
    return rows;
  }
  for (const a of apps) {
    let imageName: string;
    try {
      const im = p.appImageManifest(a.name);
      const version = (im.labels ?? []).find((l) => l.name === 'version')?.value;
      imageName = version ? `${im.name}:${version}` : im.name;
    } catch (e) {
      errors.push(`pod ${p.uuid} ImageManifest could not be loaded: ${(e as Error).message}`);
      imageName = '--';
    }
    const imageId = full ? a.image.id.slice(0, 19) : '';
    rows.push(full ? [uuid, a.name, imageName, imageId, state, created, started, nets] : [uuid, a.name, imageName, state, created, started, nets]);
    uuid = '';
    state = '';
    nets = '';
    created = '';
    started = '';
  }
  return rows;
}
