/**
 * The manifest edits of `actool patch-manifest` (appc 0.8.11) as a library. Option values are
 * the flag strings, with the same formats and the same (quirky) semantics as the reference:
 *
 *  - `exec` is split on single spaces and replaces `app.exec` (creating `app` when missing);
 *  - every other app edit needs an app (or `exec`);
 *  - `capability` / `revokeCapability` replace all capability isolators by one retain/remove set;
 *  - `mounts`, `ports`, `isolators` append (several entries separated by `:`);
 *  - `seccompMode` (`remove|retain[,errno=EXXX]`) with `seccompSet` replaces seccomp isolators;
 *  - `manifest` replaces the whole manifest verbatim (patchManifestBytes only).
 *
 * An empty string means "flag not given", as in the reference. The result is validated like the
 * reference's MarshalJSON does; failures throw RktError INVALID_ARGUMENT.
 */
import { invalidArgument, type App, type AppcIsolator, type ImageManifest, type MountPoint, type Port } from '@rkt/api';
import { Decoder, decodeIsolator } from './decode.js';
import { parseJson } from './json.js';
import { checkImageManifest, parseImageManifest } from './manifest.js';
import { acIdentifierError, acNameError } from './names.js';
import { goAtoi, goParseBool, goParseUint, parseParams, parseQuery } from './query.js';
import { imageManifestToJson } from './serialize.js';

export interface PatchManifestOptions {
  /** `--manifest`: replacement manifest bytes, used verbatim (only by patchManifestBytes). */
  manifest?: string | Uint8Array;
  /** `--name`: new AC Identifier. */
  name?: string;
  /** `--exec`: command line, split on single spaces. */
  exec?: string;
  user?: string;
  group?: string;
  /** `--supplementary-groups`: comma-separated integers; replaces the list. */
  supplementaryGroups?: string;
  /** `--capability`: comma-separated names; becomes the only capabilities-retain-set. */
  capability?: string;
  /** `--revoke-capability`: comma-separated names; becomes the only capabilities-remove-set. */
  revokeCapability?: string;
  /** `--mounts`: `name,path=/p,readOnly=true[:name2,...]`; appended. */
  mounts?: string;
  /** `--ports`: `name,protocol=tcp,port=80[,count=1][,socketActivated=true][:...]`; appended. */
  ports?: string;
  /** `--isolators`: `resource/cpu,request=50m,limit=100m[:os/linux/no-new-privileges,true:...]`; appended. */
  isolators?: string;
  /** `--seccomp-mode`: `remove` or `retain`, optionally `,errno=EXXX`. */
  seccompMode?: string;
  /** `--seccomp-set`: comma-separated syscall names (needs seccompMode). */
  seccompSet?: string;
}

const given = (s: string | undefined): s is string => s !== undefined && s !== '';
const bad = (msg: string, path?: string): never => {
  throw invalidArgument(msg, { details: path ? { path } : {} });
};

const CAP_NAMES = ['os/linux/capabilities-remove-set', 'os/linux/capabilities-retain-set'];
const SECCOMP_NAMES = ['os/linux/seccomp-remove-set', 'os/linux/seccomp-retain-set'];
const RESOURCE_NAMES = new Set([
  'resource/block-bandwidth',
  'resource/block-iops',
  'resource/cpu',
  'resource/memory',
  'resource/network-bandwidth',
]);

/** Remove every isolator named in `names`, then append `iso` (types.ReplaceIsolatorsByName). */
function replaceIsolators(app: App, iso: AppcIsolator, names: string[]): void {
  app.isolators = [...(app.isolators ?? []).filter((i) => !names.includes(i.name)), iso];
}

/** types.MountPointFromString. */
export function mountPointFromString(s: string): MountPoint {
  const params = parseParams('name=' + s);
  const mp: MountPoint = { name: '', path: '' };
  for (const [k, v] of params) {
    if (k === 'name') {
      const e = acNameError(v);
      if (e) throw new Error(e);
      mp.name = v;
    } else if (k === 'path') mp.path = v;
    else if (k === 'readOnly') mp.readOnly = goParseBool(v);
    else throw new Error(`unknown mountpoint parameter ${JSON.stringify(k)}`);
  }
  if (mp.name === '') throw new Error('name must be set');
  if (mp.path === '') throw new Error('path must be set');
  return mp;
}

/** types.PortFromString (count stays 0 when not given, as in the reference). */
export function portFromString(s: string): Port {
  const params = parseParams('name=' + s);
  const p: Port = { name: '', protocol: '', port: 0, count: 0, socketActivated: false };
  for (const [k, v] of params) {
    if (k === 'name') {
      const e = acNameError(v);
      if (e) throw new Error(e);
      p.name = v;
    } else if (k === 'protocol') p.protocol = v;
    else if (k === 'port') p.port = Number(goParseUint(v, 16));
    else if (k === 'count') p.count = Number(goParseUint(v, 16));
    else if (k === 'socketActivated') p.socketActivated = goParseBool(v);
    else throw new Error(`unknown port parameter ${JSON.stringify(k)}`);
  }
  if (p.port > 65535 || p.port < 1) throw new Error('port must be in 1-65535 range');
  if (p.port + (p.count ?? 0) > 65536) throw new Error('end of port range must be in 1-65535 range');
  return p;
}

function decodeIsolatorText(text: string): AppcIsolator {
  const d = new Decoder();
  const iso = decodeIsolator(d, parseJson(text), 'isolator');
  if (d.problems.length > 0) throw new Error(d.problems[0]!.message);
  return iso;
}

/** One `--isolators` entry, as the reference builds and decodes it. */
export function isolatorFromString(is: string): AppcIsolator {
  let q: Map<string, string[]>;
  try {
    q = parseQuery(('name=' + is).replace(/,/g, '&'));
  } catch (e) {
    throw new Error(`cannot parse isolator ${JSON.stringify(is)}: ${(e as Error).message}`);
  }
  let name = '';
  const values: string[] = [];
  for (const [k, v] of q) {
    if (v.length > 1) throw new Error(`cannot parse isolator ${JSON.stringify(is)}: label ${k} with multiple values`);
    if (k === 'name') {
      const e = acIdentifierError(v[0]!);
      if (e) throw new Error(`cannot parse isolator ${JSON.stringify(is)}: ${e}`);
      name = v[0]!;
    } else values.push(`"${k}": "${v[0]}"`);
  }
  let text = `{"name": "${name}", "value": { ${values.join(', ')} }}`;
  let ok = RESOURCE_NAMES.has(name);
  if (name === 'os/linux/no-new-privileges' || name === 'os/linux/oom-score-adj') {
    ok = true;
    const kv = is.split(',');
    if (kv.length !== 2) throw new Error(`isolator ${name}: invalid format`);
    text = `{ "name": "${name}", "value": ${kv[1]} }`;
  }
  if (!ok) throw new Error(`isolator ${name} is not supported for patching`);
  try {
    return decodeIsolatorText(text);
  } catch (e) {
    throw new Error(`cannot unmarshal isolator ${text}: ${(e as Error).message}`);
  }
}

/** Seccomp isolator from --seccomp-mode / --seccomp-set (parseSeccompArgs). */
export function seccompIsolatorFromArgs(mode: string, set: string): AppcIsolator {
  let errno = '';
  let m = '';
  for (const a of mode.split(',')) {
    const kv = a.split('=');
    if (kv.length === 1) m = kv[0]!;
    else if (kv.length === 2) {
      if (kv[0] === 'errno') errno = kv[1]!;
      else throw new Error(`invalid seccomp-mode optional argument: ${a}`);
    } else throw new Error(`cannot parse seccomp-mode argument: ${a}`);
  }
  if (m !== 'remove' && m !== 'retain') throw new Error(`cannot parse seccomp isolator: unknown seccomp mode ${m}`);
  const name = m === 'remove' ? 'os/linux/seccomp-remove-set' : 'os/linux/seccomp-retain-set';
  const value = { set: set.split(','), errno };
  try {
    decodeIsolatorText(JSON.stringify({ name, value }));
  } catch (e) {
    throw new Error(`cannot parse seccomp isolator: ${(e as Error).message}`);
  }
  return { name, value };
}

/**
 * Apply the patch-manifest edits to a (valid) image manifest; returns a new manifest, the input
 * is not modified. Throws RktError INVALID_ARGUMENT on a bad option or an invalid result.
 */
export function patchManifest(input: ImageManifest, options: PatchManifestOptions): ImageManifest {
  return applyPatch(input, options).validated;
}

function applyPatch(input: ImageManifest, options: PatchManifestOptions): { raw: ImageManifest; validated: ImageManifest } {
  const im: ImageManifest = structuredClone(input);
  if (given(options.name)) {
    const e = acIdentifierError(options.name);
    if (e) bad(`invalid --name ${JSON.stringify(options.name)}: ${e}`, 'name');
    im.name = options.name;
  }
  let app = im.app;
  if (given(options.exec)) {
    if (!app) {
      im.app = { user: '', group: '' };
      app = im.app;
    }
    app.exec = options.exec.split(' ');
  }
  const needsApp = [
    options.user,
    options.group,
    options.supplementaryGroups,
    options.capability,
    options.revokeCapability,
    options.mounts,
    options.ports,
    options.isolators,
    options.seccompMode,
  ].some(given);
  if (needsApp && !app) bad('no app in the supplied manifest and no exec command provided', 'app');
  const a = app as App;
  if (given(options.user)) a.user = options.user;
  if (given(options.group)) a.group = options.group;
  if (given(options.supplementaryGroups)) {
    a.supplementaryGIDs = options.supplementaryGroups.split(',').map((g) => {
      try {
        return goAtoi(g);
      } catch (e) {
        return bad(`invalid supplementary group ${JSON.stringify(g)}: ${(e as Error).message}`, 'app.supplementaryGIDs');
      }
    });
  }
  if (given(options.capability) && given(options.revokeCapability)) bad('conflicting capabilities isolators provided', 'app.isolators');
  if (given(options.capability)) {
    replaceIsolators(a, { name: 'os/linux/capabilities-retain-set', value: { set: options.capability.split(',') } }, CAP_NAMES);
  } else if (given(options.revokeCapability)) {
    replaceIsolators(a, { name: 'os/linux/capabilities-remove-set', value: { set: options.revokeCapability.split(',') } }, CAP_NAMES);
  }
  if (given(options.mounts)) {
    for (const m of options.mounts.split(':')) {
      try {
        (a.mountPoints ??= []).push(mountPointFromString(m));
      } catch (e) {
        bad(`cannot parse mount point ${JSON.stringify(m)}: ${(e as Error).message}`, 'app.mountPoints');
      }
    }
  }
  if (given(options.ports)) {
    for (const p of options.ports.split(':')) {
      try {
        (a.ports ??= []).push(portFromString(p));
      } catch (e) {
        bad(`cannot parse port ${JSON.stringify(p)}: ${(e as Error).message}`, 'app.ports');
      }
    }
  }
  if (given(options.seccompMode)) {
    try {
      replaceIsolators(a, seccompIsolatorFromArgs(options.seccompMode, options.seccompSet ?? ''), SECCOMP_NAMES);
    } catch (e) {
      bad((e as Error).message, 'app.isolators');
    }
  } else if (given(options.seccompSet)) bad('--seccomp-set specified without --seccomp-mode', 'app.isolators');
  if (given(options.isolators)) {
    for (const is of options.isolators.split(':')) {
      try {
        (a.isolators ??= []).push(isolatorFromString(is));
      } catch (e) {
        bad((e as Error).message, 'app.isolators');
      }
    }
  }
  // The reference validates while marshalling the result.
  const r = checkImageManifest(imageManifestToJson(im));
  if (r.problems.length > 0) {
    const p = r.problems[0]!;
    throw invalidArgument(`patched manifest is invalid: ${p.message}`, { details: { path: p.path, problems: r.problems } });
  }
  return { raw: im, validated: r.manifest! };
}

/**
 * What patch-manifest writes as the new `manifest` entry: the input manifest is parsed (it must
 * be valid), then either replaced verbatim by `options.manifest` or patched and re-serialised
 * as compact JSON like the reference.
 */
export function patchManifestBytes(input: string | Uint8Array, options: PatchManifestOptions): Uint8Array {
  if (
    options.manifest !== undefined &&
    options.manifest.length > 0 &&
    [options.name, options.exec, options.user, options.group, options.capability, options.mounts].some(given)
  ) {
    bad('--manifest is incompatible with other manifest editing options');
  }
  const im = parseImageManifest(input);
  if (options.manifest !== undefined && options.manifest.length > 0) {
    return typeof options.manifest === 'string' ? new TextEncoder().encode(options.manifest) : options.manifest;
  }
  return new TextEncoder().encode(imageManifestToJson(applyPatch(im, options).raw));
}
