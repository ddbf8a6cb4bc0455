/**
 * The pod manifest stage0 writes (`$pod/pod`): generated from the images and the command line as
 * rkt does, or taken from `--pod-manifest`. Either way it is validated with @rkt/appc before any
 * stage1 sees it.
 */
import {
  invalidArgument,
  type App,
  type AppcIsolator,
  type EnvVar,
  type ExposedPort,
  type ImageManifest,
  type Mount,
  type PodManifest,
  type RuntimeApp,
  type Volume,
} from '@rkt/api';
import { checkPodManifest, podManifestToJson, sanitizeACName } from '@rkt/appc/schema';
import type { AppOptions } from './options.js';

/** rkt writes its own version as the pod manifest's acVersion. */
export const POD_MANIFEST_AC_VERSION = '1.30.0';
export const MUTABLE_ANNOTATION = 'coreos.com/rkt/stage1/mutable';

export interface ResolvedApp {
  imageId: string;
  manifest: ImageManifest;
  options: AppOptions;
}

export interface PodSpec {
  apps: ResolvedApp[];
  /** `--mount` before any image. */
  globalMounts: Mount[];
  volumes: Volume[];
  ports: ExposedPort[];
  /** `--inherit-env`: the caller's environment (lowest precedence, never overrides the image). */
  inheritedEnv?: Array<[string, string]>;
  envFromFile: Array<[string, string]>;
  explicitEnv: Array<[string, string]>;
  userAnnotations?: Record<string, string>;
  userLabels?: Record<string, string>;
  /** uid/gid for an app section created by `--exec` when the image has none. */
  callerUid: number;
  callerGid: number;
  /** Whether ports are allowed (false with --net=host / --net=none). */
  portsAllowed?: boolean;
}

/** The last component of an image name, sanitised into an AC Name (rkt's imageNameToAppName). */
export function appNameFromImageName(name: string): string {
  const last = name.split('/').pop() ?? name;
  const s = sanitizeACName(last);
  if (!s) throw invalidArgument(`error converting image name to app name: cannot make an app name from ${JSON.stringify(name)} (use --name)`);
  return s;
}

function mergeEnv(env: EnvVar[], pairs: Iterable<[string, string]>, override: boolean): void {
  for (const [name, value] of pairs) {
    const i = env.findIndex((e) => e.name === name);
    if (i < 0) env.push({ name, value });
    else if (override) env[i] = { name, value };
  }
}

/** Per-app mounts first, then global ones; the first mount for a path wins. */
export function mergeMounts(global: readonly Mount[], perApp: readonly Mount[]): Mount[] {
  const seen = new Set<string>();
  const out: Mount[] = [];
  for (const m of [...perApp, ...global]) {
    if (seen.has(m.path)) continue;
    seen.add(m.path);
    out.push(m);
  }
  return out;
}

const CAPS_NAMES = ['os/linux/capabilities-retain-set', 'os/linux/capabilities-remove-set'];
const SECCOMP_NAMES = ['os/linux/seccomp-retain-set', 'os/linux/seccomp-remove-set'];

function replaceIsolators(list: AppcIsolator[], names: readonly string[], by: AppcIsolator): AppcIsolator[] {
  const out = list.filter((i) => !names.includes(i.name));
  out.push(by);
  return out;
}

/** The command-line isolator overrides (rkt's prepareIsolators). */
export function applyIsolatorOverrides(app: App, o: AppOptions): void {
  let iso = [...(app.isolators ?? [])];
  if (o.memory) iso.push(o.memory);
  if (o.cpu) iso.push(o.cpu);
  if (o.cpuShares !== undefined) iso = replaceIsolators(iso, ['os/linux/cpu-shares'], { name: 'os/linux/cpu-shares', value: o.cpuShares });
  if (o.oomScoreAdj !== undefined) iso = replaceIsolators(iso, ['os/linux/oom-score-adj'], { name: 'os/linux/oom-score-adj', value: o.oomScoreAdj });
  if (o.capsRetain && o.capsRemove) throw invalidArgument('error: cannot use both --caps-retain and --caps-remove on the same image');
  if (o.capsRetain) iso = replaceIsolators(iso, CAPS_NAMES, { name: CAPS_NAMES[0]!, value: { set: o.capsRetain } });
  else if (o.capsRemove) iso = replaceIsolators(iso, CAPS_NAMES, { name: CAPS_NAMES[1]!, value: { set: o.capsRemove } });
  if (o.seccomp) {
    const name = o.seccomp.mode === 'retain' ? SECCOMP_NAMES[0]! : SECCOMP_NAMES[1]!;
    iso = replaceIsolators(iso, SECCOMP_NAMES, { name, value: { set: o.seccomp.set, ...(o.seccomp.errno ? { errno: o.seccomp.errno } : {}) } });
  }
  if (iso.length > 0) app.isolators = iso;
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** One RuntimeApp from an image and its command-line options (rkt's generateRuntimeApp + env merging). */
export function runtimeApp(r: ResolvedApp, spec: PodSpec): RuntimeApp {
  const o = r.options;
  const m = r.manifest;
  const name = o.name ?? appNameFromImageName(m.name);
  if (!m.app && o.exec === undefined)
    throw invalidArgument(`error: image ${r.imageId} has no app section and --exec argument is not provided`);
  const app: App = clone(m.app) ?? { user: String(spec.callerUid), group: String(spec.callerGid) };
  if (o.exec !== undefined) app.exec = [o.exec];
  if (o.args) app.exec = [...(app.exec ?? []), ...o.args];
  if (o.workingDir) app.workingDirectory = o.workingDir;
  applyIsolatorOverrides(app, o);
  if (o.user) app.user = o.user;
  if (o.group) app.group = o.group;
  if (o.supplementaryGIDs) app.supplementaryGIDs = o.supplementaryGIDs;
  if (o.userAnnotations) app.userAnnotations = { ...(app.userAnnotations ?? {}), ...o.userAnnotations };
  if (o.userLabels) app.userLabels = { ...(app.userLabels ?? {}), ...o.userLabels };
  // Environment, lowest precedence first: inherited (never over the image's) < image <
  // --set-env-file < --set-env < --environment.
  const env: EnvVar[] = [...(app.environment ?? [])];
  if (spec.inheritedEnv) mergeEnv(env, spec.inheritedEnv, false);
  mergeEnv(env, spec.envFromFile, true);
  mergeEnv(env, spec.explicitEnv, true);
  mergeEnv(env, o.environment, true);
  if (env.length > 0) app.environment = env;
  const ra: RuntimeApp = {
    name,
    image: { name: m.name, id: r.imageId, ...(m.labels && m.labels.length ? { labels: m.labels } : {}) },
    app,
  };
  if (o.readOnlyRootFS) ra.readOnlyRootFS = true;
  const mounts = mergeMounts(spec.globalMounts, o.mounts);
  if (mounts.length) ra.mounts = mounts;
  if (o.annotations.length) ra.annotations = o.annotations;
  return ra;
}

/** rkt's ForwardedPorts checks. */
export function checkPorts(pm: PodManifest): void {
  const seen = new Set<string>();
  for (const p of pm.ports ?? []) {
    const key = `${p.hostIP ?? ''}:${p.hostPort}`;
    const owners = pm.apps.filter((a) => (a.app?.ports ?? []).some((ap) => ap.name === p.name));
    if (!p.podPort) {
      if (owners.length === 0) throw invalidArgument(`port name ${JSON.stringify(p.name)} could not be found in any apps`);
      if (owners.length > 1) throw invalidArgument(`port name ${JSON.stringify(p.name)} defined multiple times`);
    }
    const proto = p.podPort?.protocol ?? owners[0]?.app?.ports?.find((ap) => ap.name === p.name)?.protocol ?? 'tcp';
    const k = `${proto}/${key}`;
    if (seen.has(k)) throw invalidArgument(`duplicate port forwarding: ${proto} ${key}`);
    seen.add(k);
  }
}

/** Validate a pod manifest with @rkt/appc; the first problem names the field. */
export function validatePodManifestBytes(bytes: string | Uint8Array, source: string): PodManifest {
  const r = checkPodManifest(bytes);
  if (r.problems.length > 0 || !r.manifest) {
    const p = r.problems[0];
    throw invalidArgument(`${source}: invalid pod manifest: ${p ? p.message : 'not a pod manifest'}`, { details: { problems: r.problems } });
  }
  return r.manifest;
}

/** Generate, serialise (Go style) and validate the pod manifest from the command line. */
export function generatePodManifest(spec: PodSpec): { manifest: PodManifest; json: string } {
  const apps: RuntimeApp[] = [];
  for (const r of spec.apps) {
    const ra = runtimeApp(r, spec);
    if (apps.some((a) => a.name === ra.name)) throw invalidArgument(`error: multiple apps with name ${ra.name}`);
    apps.push(ra);
  }
  // Every --mount must name a --volume, or a mount point of its app (stage1 then makes an
  // implicit empty volume, as rkt).
  for (const [i, ra] of apps.entries()) {
    for (const mt of ra.mounts ?? []) {
      const known = spec.volumes.some((v) => v.name === mt.volume) || (ra.app?.mountPoints ?? []).some((mp) => mp.name === mt.volume);
      if (!known) throw invalidArgument(`--mount volume=${mt.volume},target=${mt.path} (app ${spec.apps[i]!.options.image}): no --volume named ${JSON.stringify(mt.volume)}`);
    }
  }
  const seenVol = new Set<string>();
  for (const v of spec.volumes) {
    if (seenVol.has(v.name)) throw invalidArgument(`--volume ${v.name}: volume given twice`);
    seenVol.add(v.name);
  }
  if (spec.ports.length > 0 && spec.portsAllowed === false) throw invalidArgument('--port cannot be used with --net=host or --net=none');
  const pm: PodManifest = {
    acKind: 'PodManifest',
    acVersion: POD_MANIFEST_AC_VERSION,
    apps,
    volumes: spec.volumes,
    ports: spec.ports,
    annotations: [{ name: MUTABLE_ANNOTATION, value: 'false' }],
    ...(spec.userAnnotations && Object.keys(spec.userAnnotations).length ? { userAnnotations: spec.userAnnotations } : {}),
    ...(spec.userLabels && Object.keys(spec.userLabels).length ? { userLabels: spec.userLabels } : {}),
  };
  if (pm.volumes!.length === 0) delete pm.volumes;
  if (pm.ports!.length === 0) delete pm.ports;
  checkPorts(pm);
  const json = podManifestToJson(pm);
  const manifest = validatePodManifestBytes(json, 'generated pod manifest');
  return { manifest, json };
}

/** Go's json.MarshalIndent(…, "", "\t") layout, from the 4-space layout of podManifestToJson. */
export function tabIndent(fourSpaced: string): string {
  return fourSpaced.replace(/^((?: {4})+)/gm, (m) => '\t'.repeat(m.length / 4));
}

export function prettyPodManifest(pm: PodManifest): string {
  return tabIndent(podManifestToJson(pm, { pretty: true }));
}
