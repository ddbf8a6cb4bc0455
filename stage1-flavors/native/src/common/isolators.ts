/**
 * The built-in appc isolators, as `Isolator` extension-point objects (names, validate, apply into
 * `AppRuntimeSettings`). Flavors translate the settings to their runtime; another isolator plugin
 * can add names by passing its own objects to `runtimeSettings`. Isolators nobody handles are
 * reported (appc: the ACE must tell the user which isolators it ignored).
 */
import type { AppcIsolator, AppRuntimeSettings, Isolator } from '@rkt/api';

class IsolatorError extends Error {}

const QUANTITY = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A Kubernetes-style resource quantity ("128Mi", "500m", "1e3") as a number of base units. */
export function parseQuantity(v: unknown, what: string): number {
  const s = typeof v === 'number' ? String(v) : v;
  if (typeof s !== 'string') throw new IsolatorError(`${what}: quantity must be a string`);
  const m = QUANTITY.exec(s);
  if (!m || !/^[+-]?(\d+\.?\d*|\.\d+)$/.test(m[1]!)) throw new IsolatorError(`${what}: invalid quantity "${s}"`);
  const n = Number(m[1]);
  const suf = m[2]!;
  let mult: number | undefined = SUFFIX[suf];
  if (mult === undefined && /^[eE][-+]?\d+$/.test(suf)) mult = 10 ** Number(suf.slice(1));
  if (mult === undefined) throw new IsolatorError(`${what}: invalid quantity suffix "${suf}"`);
  return n * mult;
}

function obj(i: AppcIsolator, path: string): Record<string, unknown> {
  if (typeof i.value !== 'object' || i.value === null || Array.isArray(i.value)) {
    throw new IsolatorError(`${path}: value of ${i.name} must be an object`);
  }
  return i.value as Record<string, unknown>;
}

function stringSet(i: AppcIsolator, path: string): string[] {
  const set = obj(i, path).set;
  if (!Array.isArray(set) || set.length === 0 || !set.every((x) => typeof x === 'string' && x !== '')) {
    throw new IsolatorError(`${path}: ${i.name} needs a non-empty "set" of strings`);
  }
  return set as string[];
}

function resourceLimit(i: AppcIsolator, path: string): unknown {
  const v = obj(i, path);
  if (v.default === true) throw new IsolatorError(`${path}: ${i.name} must not set "default"`);
  return v.limit ?? v.request;
}

function intValue(i: AppcIsolator, path: string, min: number, max: number): number {
  if (typeof i.value !== 'number' || !Number.isInteger(i.value) || i.value < min || i.value > max) {
    throw new IsolatorError(`${path}: ${i.name} must be an integer in ${min}..${max}`);
  }
  return i.value;
}

function def(names: string[], validate: (i: AppcIsolator, p: string) => void, apply: (i: AppcIsolator, s: AppRuntimeSettings) => void): Isolator {
  return { names, validate, apply: (i, s) => { validate(i, i.name); apply(i, s); } };
}

const seccompApply = (mode: 'retain' | 'remove') => (i: AppcIsolator, s: AppRuntimeSettings) => {
  const v = obj(i, i.name);
  const spec: NonNullable<AppRuntimeSettings['seccomp']> = { mode, set: stringSet(i, i.name) };
  if (typeof v.errno === 'string' && v.errno !== '') spec.errno = v.errno;
  if (s.seccomp && s.seccomp.mode !== mode) throw new IsolatorError('seccomp retain and remove sets cannot be combined');
  if (s.seccomp) throw new IsolatorError(`${i.name} may appear only once`);
  s.seccomp = spec;
};

export const BUILTIN_ISOLATORS: readonly Isolator[] = [
  def(['resource/memory'], (i, p) => {
    const l = resourceLimit(i, p);
    if (l !== undefined && parseQuantity(l, p) < 4096) throw new IsolatorError(`${p}: memory limit below 4096 bytes`);
  }, (i, s) => {
    const l = resourceLimit(i, i.name);
    if (l === undefined) return;
    const b = Math.ceil(parseQuantity(l, i.name));
    s.memoryLimitBytes = s.memoryLimitBytes === undefined ? b : Math.min(s.memoryLimitBytes, b);
  }),
  def(['resource/cpu'], (i, p) => {
    const l = resourceLimit(i, p);
    if (l !== undefined && parseQuantity(l, p) <= 0) throw new IsolatorError(`${p}: cpu limit must be positive`);
  }, (i, s) => {
    const l = resourceLimit(i, i.name);
    if (l === undefined) return;
    const m = Math.ceil(parseQuantity(l, i.name) * 1000);
    s.cpuMilli = s.cpuMilli === undefined ? m : Math.min(s.cpuMilli, m);
  }),
  def(['os/linux/cpu-shares'], (i, p) => void intValue(i, p, 2, 262144), (i, s) => {
    s.cpuShares = i.value as number;
  }),
  def(['os/linux/oom-score-adj'], (i, p) => void intValue(i, p, -1000, 1000), (i, s) => {
    s.oomScoreAdj = i.value as number;
  }),
  def(['os/linux/no-new-privileges'], (i, p) => {
    if (typeof i.value !== 'boolean') throw new IsolatorError(`${p}: ${i.name} must be a boolean`);
  }, (i, s) => {
    s.noNewPrivileges = (s.noNewPrivileges ?? false) || (i.value as boolean);
  }),
  def(['os/linux/capabilities-retain-set'], (i, p) => void stringSet(i, p), (i, s) => {
    s.capabilities = { ...s.capabilities, retain: [...(s.capabilities?.retain ?? []), ...stringSet(i, i.name)] };
  }),
  def(['os/linux/capabilities-remove-set'], (i, p) => void stringSet(i, p), (i, s) => {
    s.capabilities = { ...s.capabilities, remove: [...(s.capabilities?.remove ?? []), ...stringSet(i, i.name)] };
  }),
  def(['os/linux/seccomp-retain-set'], (i, p) => void stringSet(i, p), seccompApply('retain')),
  def(['os/linux/seccomp-remove-set'], (i, p) => void stringSet(i, p), seccompApply('remove')),
  def(['os/unix/sysctl'], (i, p) => {
    const v = obj(i, p);
    for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw new IsolatorError(`${p}: sysctl ${k} must be a string`);
  }, (i, s) => {
    s.unixSysctl = { ...s.unixSysctl, ...(i.value as Record<string, string>) };
  }),
];

/** All the built-in isolators as one `Isolator` (the `rkt.isolator.v1` / `appc` contribution). */
export const appcIsolator: Isolator = {
  names: BUILTIN_ISOLATORS.flatMap((i) => i.names),
  validate(iso, where) {
    const h = BUILTIN_ISOLATORS.find((x) => x.names.includes(iso.name));
    if (!h) throw new IsolatorError(`${where}: not an appc standard isolator`);
    h.validate(iso, where);
  },
  apply(iso, settings) {
    const h = BUILTIN_ISOLATORS.find((x) => x.names.includes(iso.name));
    if (!h) throw new IsolatorError(`${iso.name}: not an appc standard isolator`);
    h.apply(iso, settings);
  },
};

/**
 * Settings computed by stage0's Isolator contributions (`$pod/isolator-settings.json`): the
 * isolators they handled are not interpreted again, and their settings are the starting point.
 */
export interface ExternalSettings {
  settings: AppRuntimeSettings;
  handled: readonly string[];
}

export interface SettingsResult {
  settings: AppRuntimeSettings;
  /** Names of isolators nobody handles (to be reported). */
  ignored: string[];
}

/** Fold isolators into runtime settings; malformed values throw with the isolator's name. */
export function runtimeSettings(
  isolators: readonly AppcIsolator[] | undefined,
  extra: readonly Isolator[] = [],
  external?: ExternalSettings,
): SettingsResult {
  const settings: AppRuntimeSettings = external ? structuredClone(external.settings) : {};
  const ignored: string[] = [];
  const all = [...extra, ...BUILTIN_ISOLATORS];
  for (const iso of isolators ?? []) {
    if (external?.handled.includes(iso.name)) continue;
    const h = all.find((x) => x.names.includes(iso.name));
    if (!h) {
      ignored.push(iso.name);
      continue;
    }
    try {
      h.apply(iso, settings);
    } catch (e) {
      throw new Error(`isolator ${iso.name}: ${(e as Error).message}`);
    }
  }
  if (settings.capabilities?.retain && settings.capabilities?.remove) {
    throw new Error('capabilities retain and remove sets cannot be combined');
  }
  return { settings, ignored };
}
