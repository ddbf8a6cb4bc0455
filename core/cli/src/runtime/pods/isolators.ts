/**
 * The Isolator extension point at prepare time.
 *
 * Every isolator of the pod and of its apps (an app's pod-manifest section, else its image's) is
 * checked by the `rkt.isolator.v1` contributions before the pod exists, so a malformed value is an
 * error that names the app, the isolator and the field (exit 254, nothing created).
 *
 * The appc standard isolators are interpreted by the stage1 (the shared stage1 library); appc only
 * allows other names at pod level (an app's isolators must be standard ones). A pod-level isolator
 * with another name that a contribution handles is applied by that contribution here, to every
 * app, and the result goes to the stage1 in `$pod/isolator-settings.json` (the app's own
 * isolators still win over it): that is how a third-party isolator reaches every flavor built on
 * the shared stage1 library. Names nobody handles are left to the stage1, which reports them.
 */
import {
  invalidArgument,
  Isolator,
  POINT_URIS,
  type AppcIsolator,
  type AppRuntimeSettings,
  type ImageManifest,
  type PodManifest,
} from '@rkt/api';
import { KNOWN_ISOLATORS } from '@rkt/appc/schema';
import type { ExtensionHost } from '../extension-host.js';

/** `$pod/isolator-settings.json`. */
export const ISOLATOR_SETTINGS_FILE = 'isolator-settings.json';

export interface IsolatorSettingsFile {
  /** Per app name: the settings computed in stage0, and the app isolator names they cover. */
  apps: Record<string, { settings: AppRuntimeSettings; handled: string[] }>;
  /** Pod-level isolator names applied in stage0 (the stage1 does not report them as unknown). */
  pod: { handled: string[] };
}

/** The active contributions by isolator name (the first contribution to claim a name keeps it). */
async function isolatorsByName(host: ExtensionHost, warn: (m: string) => void): Promise<Map<string, { id: string; iso: Isolator }>> {
  const out = new Map<string, { id: string; iso: Isolator }>();
  for (const rec of host.candidates(POINT_URIS.isolator)) {
    let iso: Isolator;
    try {
      iso = await host.activate(Isolator, rec.decl.id);
    } catch {
      continue; // recorded by the host: `rkt plugins` says why
    }
    for (const n of iso.names) {
      const had = out.get(n);
      if (had) warn(`isolator ${n}: handled by "${had.id}", ignoring the "${rec.decl.id}" contribution's claim`);
      else out.set(n, { id: rec.decl.id, iso });
    }
  }
  return out;
}

function wrap(e: unknown, where: string): never {
  const msg = (e as Error)?.message ?? String(e);
  // Isolators are told where they are and usually say it themselves.
  throw invalidArgument(msg.startsWith(where) ? msg : `${where}: ${msg}`, { cause: e });
}

/**
 * Validate every isolator of the pod and its apps; returns the stage1's settings file content, or
 * undefined when there is nothing to hand over.
 */
export async function planIsolators(
  host: ExtensionHost,
  manifest: PodManifest,
  imageManifests: ReadonlyMap<string, ImageManifest>,
  warn: (m: string) => void,
): Promise<IsolatorSettingsFile | undefined> {
  const perApp = manifest.apps.map((ra) => ({
    name: ra.name,
    isolators: (ra.app ?? imageManifests.get(ra.image.id)?.app)?.isolators ?? [],
  }));
  const podIsolators = manifest.isolators ?? [];
  if (podIsolators.length === 0 && perApp.every((a) => a.isolators.length === 0)) return undefined;
  const handlers = await isolatorsByName(host, warn);
  const check = (iso: AppcIsolator, at: string, into?: AppRuntimeSettings): boolean => {
    const h = handlers.get(iso.name);
    if (!h) return false;
    const where = `${at} (${iso.name})`;
    try {
      h.iso.validate(iso, where);
      if (into) h.iso.apply(iso, into);
    } catch (e) {
      wrap(e, where);
    }
    return true;
  };

  const podSettings: AppRuntimeSettings = {};
  const podHandled: string[] = [];
  podIsolators.forEach((iso, j) => {
    const standard = KNOWN_ISOLATORS.has(iso.name);
    if (check(iso, `pod manifest isolators[${j}]`, standard ? undefined : podSettings) && !standard) podHandled.push(iso.name);
  });
  perApp.forEach((a, i) => a.isolators.forEach((iso, j) => void check(iso, `app ${JSON.stringify(a.name)} (apps[${i}]) isolators[${j}]`)));
  if (podHandled.length === 0) return undefined;
  const out: IsolatorSettingsFile = { apps: {}, pod: { handled: podHandled } };
  for (const a of perApp) out.apps[a.name] = { settings: structuredClone(podSettings), handled: [] };
  return out;
}
