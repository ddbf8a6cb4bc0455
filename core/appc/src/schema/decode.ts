/**
 * Decoding of appc manifests that reproduces the reference implementation's verdicts: the
 * reference decodes with Go's encoding/json into typed structs whose UnmarshalJSON methods
 * validate. This module walks the JSON tree the same way — case-insensitive keys, last duplicate
 * wins (but every occurrence is validated), `null` handled per Go type, numbers typed as Go
 * ints/uints — and records every rule broken, with its JSON path, instead of stopping at the
 * first one.
 */
import type {
  Annotation,
  App,
  AppcIsolator,
  Dependency,
  EnvVar,
  EventHandler,
  ExposedPort,
  ImageManifest,
  Label,
  Mount,
  MountPoint,
  PodManifest,
  Port,
  RuntimeApp,
  RuntimeImage,
  Volume,
} from '@rkt/api';
import { type JNode, toPlain } from './json.js';
import {
  acIdentifierError,
  acKindError,
  acNameError,
  acVersionError,
  AC_IDENTIFIER_REGEX,
  AC_NAME_REGEX,
  ENV_NAME_REGEX,
  imageIdError,
  isFullImageId,
  osArchError,
} from './names.js';
import { goTrimSpace, httpUrlError, isGoIP, parseQuantity, rfc3339Error } from './values.js';

/** One broken rule. `path` is a JSON path into the document (`app.exec[0]`, `labels[2].name`). */
export interface Problem {
  path: string;
  rule: string;
  message: string;
}

export interface ValidateOptions {
  /**
   * Also apply rules the spec states but the reference implementation does not enforce:
   * strict AC Identifier/Name grammar (no separator runs), `mountPoints[].path` required,
   * absolute `pathWhitelist` entries, reified pods (apps present, `image.id` a full sha512 ID),
   * `mounts[].volume`/`path` required, and `workingDirectory`-like absolute exec for handlers is
   * NOT required (the spec allows PATH lookup). Off by default: verdicts then equal `actool`.
   */
  strict?: boolean;
}

export class Decoder {
  readonly problems: Problem[] = [];
  constructor(readonly options: ValidateOptions = {}) {}
  add(path: string, rule: string, message: string): void {
    // Every message names the offending path.
    let msg = message;
    if (path !== '' && !message.startsWith(`${path}: `)) {
      const colon = message.indexOf(': ');
      const head = colon > 0 ? message.slice(0, colon) : '';
      // "app: user is required" at app.user → "app.user: user is required"
      msg = head !== '' && path.startsWith(head) && !/\s/.test(head) ? `${path}: ${message.slice(colon + 2)}` : `${path}: ${message}`;
    }
    this.problems.push({ path, rule, message: msg });
  }
}

/* ------------------------------------------------------------------ paths */

const SIMPLE_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;
export function pathKey(base: string, key: string): string {
  const k = SIMPLE_KEY.test(key) ? key : `[${JSON.stringify(key)}]`;
  if (base === '') return k.startsWith('[') ? `$${k}` : k;
  return k.startsWith('[') ? `${base}${k}` : `${base}.${k}`;
}
export const pathIndex = (base: string, i: number): string => `${base === '' ? '$' : base}[${i}]`;
const where = (path: string) => (path === '' ? 'the document' : path);

/* ------------------------------------------------------------------ Go kinds */

const kindName = (n: JNode): string =>
  n.t === 'bool' ? 'boolean' : n.t === 'null' ? 'null' : n.t === 'number' ? 'number' : n.t;

function typeError(d: Decoder, n: JNode, path: string, want: string): void {
  d.add(path, 'type', `${where(path)}: expected ${want}, got ${kindName(n)}`);
}

/** A Go `string` field: null is a no-op (undefined here). */
function goString(d: Decoder, n: JNode, path: string): string | undefined {
  if (n.t === 'string') return n.value;
  if (n.t !== 'null') typeError(d, n, path, 'a string');
  return undefined;
}

/** A Go `bool` field. */
function goBool(d: Decoder, n: JNode, path: string): boolean | undefined {
  if (n.t === 'bool') return n.value;
  if (n.t !== 'null') typeError(d, n, path, 'a boolean');
  return undefined;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

/** A Go `int` (64-bit) field: the number must be written as an integer (no fraction/exponent). */
function goInt(d: Decoder, n: JNode, path: string): bigint | undefined {
  if (n.t === 'null') return undefined;
  if (n.t !== 'number') {
    typeError(d, n, path, 'an integer');
    return undefined;
  }
  if (!/^-?[0-9]+$/.test(n.raw) || BigInt(n.raw) < INT64_MIN || BigInt(n.raw) > INT64_MAX) {
    d.add(path, 'type', `${where(path)}: ${n.raw} is not a 64-bit integer`);
    return undefined;
  }
  return BigInt(n.raw);
}

/** A Go `uint` (64-bit) field: non-negative integer literal. */
function goUint(d: Decoder, n: JNode, path: string): bigint | undefined {
  if (n.t === 'null') return undefined;
  if (n.t !== 'number') {
    typeError(d, n, path, 'a non-negative integer');
    return undefined;
  }
  if (!/^[0-9]+$/.test(n.raw) || BigInt(n.raw) > UINT64_MAX) {
    d.add(path, 'type', `${where(path)}: ${n.raw} is not an unsigned 64-bit integer`);
    return undefined;
  }
  return BigInt(n.raw);
}

const toNum = (b: bigint): number => Number(b);

/**
 * The string an UnmarshalJSON-with-validation type sees: json.Unmarshal into a string, so null
 * gives "" (and is then validated), a non-string is a type error (undefined).
 */
function unmarshalString(d: Decoder, n: JNode, path: string): string | undefined {
  if (n.t === 'string') return n.value;
  if (n.t === 'null') return '';
  typeError(d, n, path, 'a string');
  return undefined;
}

/** Go's case-insensitive key match (ASCII folding plus the Kelvin sign and long s). */
function foldKey(k: string): string {
  return k.replace(/\u212A/g, 'k').replace(/\u017F/g, 's').replace(/[A-Z]/g, (c) => c.toLowerCase());
}

type Handlers = Record<string, (n: JNode, path: string) => void>;

/**
 * Decode an object into a Go struct: each key (in document order, duplicates included) goes to
 * the field it folds to; unknown keys are ignored. Returns 'null' for JSON null (a no-op in Go),
 * false for a type mismatch, true for an object.
 */
function goStruct(d: Decoder, n: JNode, path: string, what: string, handlers: Handlers): boolean | 'null' {
  if (n.t === 'null') return 'null';
  if (n.t !== 'object') {
    typeError(d, n, path, `an object (${what})`);
    return false;
  }
  const folded = new Map<string, (n: JNode, path: string) => void>();
  for (const [name, h] of Object.entries(handlers)) folded.set(foldKey(name), h);
  for (const [key, value] of n.entries) {
    const exact = Object.prototype.hasOwnProperty.call(handlers, key) ? handlers[key] : undefined;
    const h = exact ?? folded.get(foldKey(key));
    if (h) h(value, pathKey(path, key));
  }
  return true;
}

/** A Go slice: null → undefined (nil), array → items, else a type error. */
function goSlice<T>(d: Decoder, n: JNode, path: string, what: string, item: (n: JNode, path: string, i: number) => T): T[] | undefined {
  if (n.t === 'null') return undefined;
  if (n.t !== 'array') {
    typeError(d, n, path, `an array (${what})`);
    return undefined;
  }
  return n.items.map((it, i) => item(it, pathIndex(path, i), i));
}

/** A Go map[string]string. */
function goStringMap(d: Decoder, n: JNode, path: string): Record<string, string> | undefined {
  if (n.t === 'null') return undefined;
  if (n.t !== 'object') {
    typeError(d, n, path, 'an object of strings');
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [k, v] of n.entries) {
    const s = goString(d, v, pathKey(path, k));
    Object.defineProperty(out, k, { value: s ?? '', enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/* ------------------------------------------------------------------ named string types */

function acIdentifier(d: Decoder, n: JNode, path: string): string | undefined {
  const s = unmarshalString(d, n, path);
  if (s === undefined) return undefined;
  const err = acIdentifierError(s);
  if (err) d.add(path, 'ac-identifier', `${where(path)}: ${JSON.stringify(s)} is not an AC Identifier: ${err}`);
  else if (d.options.strict && !AC_IDENTIFIER_REGEX.test(s))
    d.add(path, 'ac-identifier-strict', `${where(path)}: ${JSON.stringify(s)} has consecutive separators (spec grammar)`);
  return s;
}

function acName(d: Decoder, n: JNode, path: string): string | undefined {
  const s = unmarshalString(d, n, path);
  if (s === undefined) return undefined;
  const err = acNameError(s);
  if (err) d.add(path, 'ac-name', `${where(path)}: ${JSON.stringify(s)} is not an AC Name: ${err}`);
  else if (d.options.strict && !AC_NAME_REGEX.test(s))
    d.add(path, 'ac-name-strict', `${where(path)}: ${JSON.stringify(s)} has consecutive dashes (spec grammar)`);
  return s;
}

function acKind(d: Decoder, n: JNode, path: string): string | undefined {
  const s = unmarshalString(d, n, path);
  if (s === undefined) return undefined;
  const err = acKindError(s);
  if (err) d.add(path, 'ac-kind', `${where(path)}: ${err} (must be "ImageManifest" or "PodManifest")`);
  return s;
}

function semVer(d: Decoder, n: JNode, path: string): string | undefined {
  const s = unmarshalString(d, n, path);
  if (s === undefined) return undefined;
  const err = acVersionError(s);
  if (err) {
    d.add(path, 'semver', `${where(path)}: ${JSON.stringify(s)} is not a valid SemVer 2.0.0 version: ${err}`);
    return undefined;
  }
  return s;
}

function hash(d: Decoder, n: JNode, path: string): string | undefined {
  const s = unmarshalString(d, n, path);
  if (s === undefined) return undefined;
  const err = imageIdError(s);
  if (err) d.add(path, 'image-id', `${where(path)}: ${JSON.stringify(s)} is not an image ID (sha512-<hex>): ${err}`);
  return s;
}

/* ------------------------------------------------------------------ labels / annotations */

function labels(d: Decoder, n: JNode, path: string): Label[] | undefined {
  const list = goSlice(d, n, path, 'labels', (it, p) => {
    const l: Label = { name: '', value: '' };
    goStruct(d, it, p, 'label', {
      name: (v, vp) => (l.name = acIdentifier(d, v, vp) ?? l.name),
      value: (v, vp) => (l.value = goString(d, v, vp) ?? l.value),
    });
    return l;
  });
  if (!list) return undefined;
  const seen = new Map<string, string>();
  list.forEach((l, i) => {
    const p = pathIndex(path, i);
    if (l.name === 'name') d.add(pathKey(p, 'name'), 'label-name', `${p}: a label may not be called "name"`);
    else if (seen.has(l.name)) d.add(pathKey(p, 'name'), 'duplicate', `${p}: duplicate labels of name ${JSON.stringify(l.name)}`);
    seen.set(l.name, l.value);
  });
  const e = osArchError(seen);
  if (e) {
    const i = list.findIndex((l) => l.name === (e.startsWith('bad os') ? 'os' : 'arch'));
    d.add(i >= 0 ? pathKey(pathIndex(path, i), 'value') : path, 'os-arch', `${path}: ${e}`);
  }
  return list;
}

function annotations(d: Decoder, n: JNode, path: string): Annotation[] | undefined {
  const list = goSlice(d, n, path, 'annotations', (it, p) => {
    const a: Annotation = { name: '', value: '' };
    goStruct(d, it, p, 'annotation', {
      name: (v, vp) => (a.name = acIdentifier(d, v, vp) ?? a.name),
      value: (v, vp) => (a.value = goString(d, v, vp) ?? a.value),
    });
    return a;
  });
  if (!list) return undefined;
  const seen = new Map<string, number>();
  list.forEach((a, i) => {
    if (seen.has(a.name)) {
      const p = pathIndex(path, i);
      d.add(pathKey(p, 'name'), 'duplicate', `${p}: duplicate annotations of name ${JSON.stringify(a.name)}`);
    } else seen.set(a.name, i);
  });
  const check = (name: string, f: (v: string) => string | undefined, rule: string) => {
    const i = seen.get(name);
    if (i === undefined) return;
    const err = f(list[i]!.value);
    if (err) d.add(pathKey(pathIndex(path, i), 'value'), rule, `${pathIndex(path, i)} (${name}): ${err}`);
  };
  check('created', rfc3339Error, 'date');
  check('homepage', httpUrlError, 'url');
  check('documentation', httpUrlError, 'url');
  return list;
}

/* ------------------------------------------------------------------ isolators */

export const RESOURCE_ISOLATORS = [
  'resource/block-bandwidth',
  'resource/block-iops',
  'resource/cpu',
  'resource/memory',
  'resource/network-bandwidth',
] as const;
export const LINUX_ISOLATORS = [
  'os/linux/capabilities-retain-set',
  'os/linux/capabilities-remove-set',
  'os/linux/no-new-privileges',
  'os/linux/seccomp-remove-set',
  'os/linux/seccomp-retain-set',
  'os/linux/oom-score-adj',
  'os/linux/cpu-shares',
  'os/linux/selinux-context',
] as const;
export const UNIX_ISOLATORS = ['os/unix/sysctl'] as const;
/** Every isolator name the reference knows (and validates). */
export const KNOWN_ISOLATORS: ReadonlySet<string> = new Set<string>([...RESOURCE_ISOLATORS, ...LINUX_ISOLATORS, ...UNIX_ISOLATORS]);
/** Isolators that may appear more than once in one app. */
const MULTIPLE_ALLOWED = new Set<string>([
  ...RESOURCE_ISOLATORS,
  'os/linux/capabilities-retain-set',
  'os/linux/capabilities-remove-set',
  'os/linux/no-new-privileges',
]);
const CONFLICTS: Record<string, string> = {
  'os/linux/seccomp-retain-set': 'os/linux/seccomp-remove-set',
  'os/linux/seccomp-remove-set': 'os/linux/seccomp-retain-set',
};

/** A resource quantity as Quantity.UnmarshalJSON reads it (raw text between quotes, trimmed). */
function quantity(d: Decoder, n: JNode, path: string): string | undefined {
  if (n.t === 'null') return undefined;
  const raw = n.t === 'string' ? n.raw : n.t === 'number' ? n.raw : n.t === 'bool' ? String(n.value) : n.t === 'object' ? '{' : '[';
  const text = goTrimSpace(raw);
  const q = parseQuantity(text);
  if (typeof q === 'string') {
    d.add(path, 'quantity', `${path}: ${JSON.stringify(text)} is not a resource quantity: ${q}`);
    return undefined;
  }
  return text;
}

/** Validate the value of a known isolator (the reference's per-type UnmarshalJSON + AssertValid). */
function isolatorValue(d: Decoder, name: string, n: JNode, path: string): void {
  const need = (cond: boolean, rule: string, msg: string) => {
    if (!cond) d.add(path, rule, `${path} (${name}): ${msg}`);
  };
  if (name.startsWith('resource/')) {
    let def: boolean | undefined;
    let request: string | undefined;
    let hasRequest = false;
    const ok = goStruct(d, n, path, `${name} value`, {
      default: (v, p) => (def = goBool(d, v, p) ?? def),
      request: (v, p) => {
        request = quantity(d, v, p);
        hasRequest = v.t !== 'null';
      },
      limit: (v, p) => void quantity(d, v, p),
    });
    if (ok !== true) return;
    void request;
    if (name === 'resource/cpu' || name === 'resource/memory') need(def !== true, 'isolator-value', 'default must be false');
    else {
      need(def === true, 'isolator-value', 'default must be true');
      if (def === true) need(!hasRequest, 'isolator-value', 'request not supported by this resource, must be empty');
    }
    return;
  }
  switch (name) {
    case 'os/linux/capabilities-retain-set':
    case 'os/linux/capabilities-remove-set': {
      let set: string[] | undefined;
      const ok = goStruct(d, n, path, `${name} value`, {
        set: (v, p) => (set = goSlice(d, v, p, 'capability names', (x, xp) => goString(d, x, xp) ?? '')),
      });
      if (ok === true) need((set?.length ?? 0) > 0, 'isolator-value', 'set must be non-empty');
      return;
    }
    case 'os/linux/no-new-privileges':
      if (n.t !== 'bool' && n.t !== 'null') typeError(d, n, path, 'a boolean (no-new-privileges)');
      return;
    case 'os/linux/seccomp-remove-set':
    case 'os/linux/seccomp-retain-set': {
      let set: string[] | undefined;
      let errno = '';
      const ok = goStruct(d, n, path, `${name} value`, {
        set: (v, p) => (set = goSlice(d, v, p, 'syscall names', (x, xp) => goString(d, x, xp) ?? '')),
        errno: (v, p) => (errno = goString(d, v, p) ?? errno),
      });
      if (ok !== true) return;
      if ((set?.length ?? 0) === 0) {
        need(false, 'isolator-value', 'set must be non-empty');
        return;
      }
      if (errno === '') return;
      [...errno].forEach((c, i) => {
        if (i === 0 && c !== 'E') need(false, 'isolator-value', `errno must start with an 'E' character, got ${errno}`);
        else if (!/^[\p{Lu}\p{N}]$/u.test(c))
          need(false, 'isolator-value', `errno can only contain upper case or numeric characters, got ${errno}`);
      });
      return;
    }
    case 'os/linux/oom-score-adj':
    case 'os/linux/cpu-shares': {
      const v = goInt(d, n, path) ?? 0n;
      if (n.t !== 'null' && n.t !== 'number') return;
      if (name === 'os/linux/oom-score-adj') need(v >= -1000n && v <= 1000n, 'isolator-value', `must be between -1000 and 1000, got ${v}`);
      else need(v >= 2n && v <= 262144n, 'isolator-value', `must be between 2 and 262144, got ${v}`);
      return;
    }
    case 'os/linux/selinux-context': {
      const c = { user: '', role: '', type: '', level: '' };
      const ok = goStruct(d, n, path, `${name} value`, {
        user: (v, p) => (c.user = goString(d, v, p) ?? c.user),
        role: (v, p) => (c.role = goString(d, v, p) ?? c.role),
        type: (v, p) => (c.type = goString(d, v, p) ?? c.type),
        level: (v, p) => (c.level = goString(d, v, p) ?? c.level),
      });
      if (ok !== true && ok !== 'null') return;
      for (const f of ['user', 'role', 'type'] as const)
        if (c[f] === '' || c[f].includes(':')) return need(false, 'isolator-value', `invalid ${f} value ${JSON.stringify(c[f])}`);
      need(c.level !== '', 'isolator-value', `invalid level value ${JSON.stringify(c.level)}`);
      return;
    }
    case 'os/unix/sysctl':
      goStringMap(d, n, path);
      return;
  }
}

interface DecodedIsolator extends AppcIsolator {
  known: boolean;
}

function isolator(d: Decoder, n: JNode, path: string): DecodedIsolator {
  let name = '';
  let value: JNode | undefined;
  let valuePath = pathKey(path, 'value');
  goStruct(d, n, path, 'isolator', {
    name: (v, p) => (name = acIdentifier(d, v, p) ?? name),
    value: (v, p) => {
      value = v.t === 'null' ? undefined : v;
      valuePath = p;
    },
  });
  const known = KNOWN_ISOLATORS.has(name);
  if (known) {
    if (value === undefined) d.add(valuePath, 'isolator-value', `${path} (${name}): value is required`);
    else isolatorValue(d, name, value, valuePath);
  }
  return { name, value: value === undefined ? null : toPlain(value), known };
}

/** The app-level set rules (types.Isolators.assertValid). */
function checkIsolatorSet(d: Decoder, list: DecodedIsolator[], path: string): void {
  const seen = new Set<string>();
  list.forEach((iso, i) => {
    const p = pathIndex(path, i);
    if (!iso.known) {
      d.add(pathKey(p, 'name'), 'isolator-unknown', `${p}: invalid isolator: ${JSON.stringify(iso.name)} is not a known isolator (unknown isolators are refused inside an app)`);
      return;
    }
    if (seen.has(iso.name) && !MULTIPLE_ALLOWED.has(iso.name))
      d.add(p, 'isolator-duplicate', `${p}: isolators set contains too many instances of type ${iso.name}`);
    const c = CONFLICTS[iso.name];
    if (c && seen.has(c)) d.add(p, 'isolator-conflict', `${p}: isolators set contains incompatible types (${iso.name} and ${c})`);
    seen.add(iso.name);
  });
}

/** Decode one isolator object (name + value validated as the reference's Isolator.UnmarshalJSON). */
export function decodeIsolator(d: Decoder, n: JNode, path: string): AppcIsolator {
  const { name, value } = isolator(d, n, path);
  return { name, value };
}

const stripKnown = (list: DecodedIsolator[]): AppcIsolator[] => list.map(({ name, value }) => ({ name, value }));

/* ------------------------------------------------------------------ app */

function port(d: Decoder, n: JNode, path: string): Port {
  const pt: Port = { name: '', protocol: '', port: 0, count: 0, socketActivated: false };
  let portN = 0n;
  let count = 0n;
  goStruct(d, n, path, 'port', {
    name: (v, p) => (pt.name = acName(d, v, p) ?? pt.name),
    protocol: (v, p) => (pt.protocol = goString(d, v, p) ?? pt.protocol),
    port: (v, p) => (portN = goUint(d, v, p) ?? portN),
    count: (v, p) => (count = goUint(d, v, p) ?? count),
    socketActivated: (v, p) => (pt.socketActivated = goBool(d, v, p) ?? pt.socketActivated),
  });
  if (portN > 65535n || portN < 1n) d.add(pathKey(path, 'port'), 'port-range', `${path}: port must be in 1-65535 range (got ${portN})`);
  else if (BigInt.asUintN(64, portN + count) > 65536n)
    d.add(pathKey(path, 'count'), 'port-range', `${path}: end of port range must be in 1-65535 range (port ${portN} + count ${count})`);
  pt.port = toNum(portN);
  pt.count = count === 0n ? 1 : toNum(count);
  return pt;
}

function app(d: Decoder, n: JNode, path: string, base: App | undefined): App | undefined {
  if (n.t === 'null') return undefined;
  const a: App = base ? { ...base } : { user: '', group: '' };
  let isolators: DecodedIsolator[] | undefined = (base as { _iso?: DecodedIsolator[] } | undefined)?._iso;
  let envChecked = false;
  const ok = goStruct(d, n, path, 'app', {
    exec: (v, p) => {
      const e = goSlice(d, v, p, 'exec', (x, xp) => goString(d, x, xp) ?? '');
      if (e === undefined) delete a.exec;
      else a.exec = e;
    },
    eventHandlers: (v, p) => {
      const list = goSlice(d, v, p, 'eventHandlers', (x, xp) => {
        const h: EventHandler = { name: '', exec: [] };
        let exec: string[] | undefined;
        goStruct(d, x, xp, 'eventHandler', {
          name: (y, yp) => (h.name = goString(d, y, yp) ?? h.name),
          exec: (y, yp) => (exec = goSlice(d, y, yp, 'exec', (z, zp) => goString(d, z, zp) ?? '')),
        });
        h.exec = exec ?? [];
        if (h.name === '') d.add(pathKey(xp, 'name'), 'event-handler', `${xp}: eventHandler "name" cannot be empty`);
        else if (h.name !== 'pre-start' && h.name !== 'post-stop')
          d.add(pathKey(xp, 'name'), 'event-handler', `${xp}: bad eventHandler "name": ${JSON.stringify(h.name)} (must be "pre-start" or "post-stop")`);
        return h;
      });
      if (list === undefined) delete a.eventHandlers;
      else a.eventHandlers = list;
    },
    user: (v, p) => (a.user = goString(d, v, p) ?? a.user),
    group: (v, p) => (a.group = goString(d, v, p) ?? a.group),
    supplementaryGIDs: (v, p) => {
      const g = goSlice(d, v, p, 'supplementaryGIDs', (x, xp) => toNum(goInt(d, x, xp) ?? 0n));
      if (g === undefined) delete a.supplementaryGIDs;
      else a.supplementaryGIDs = g;
    },
    workingDirectory: (v, p) => {
      const w = goString(d, v, p);
      if (w !== undefined) a.workingDirectory = w;
    },
    environment: (v, p) => {
      envChecked = true;
      const env = goSlice(d, v, p, 'environment', (x, xp) => {
        const e: EnvVar = { name: '', value: '' };
        goStruct(d, x, xp, 'environment variable', {
          name: (y, yp) => (e.name = goString(d, y, yp) ?? e.name),
          value: (y, yp) => (e.value = goString(d, y, yp) ?? e.value),
        });
        return e;
      });
      if (env) {
        const seen = new Set<string>();
        env.forEach((e, i) => {
          const ep = pathKey(pathIndex(p, i), 'name');
          if (e.name === '') d.add(ep, 'env-name', `${ep}: environment variable name must not be empty`);
          else if (!ENV_NAME_REGEX.test(e.name))
            d.add(ep, 'env-name', `${ep}: environment variable does not have valid identifier ${JSON.stringify(e.name)} (must match ${ENV_NAME_REGEX.source})`);
          else if (seen.has(e.name)) d.add(ep, 'duplicate', `${ep}: duplicate environment variable of name ${JSON.stringify(e.name)}`);
          seen.add(e.name);
        });
      }
      a.environment = env ?? [];
    },
    mountPoints: (v, p) => {
      const mps = goSlice(d, v, p, 'mountPoints', (x, xp) => {
        const mp: MountPoint = { name: '', path: '' };
        goStruct(d, x, xp, 'mountPoint', {
          name: (y, yp) => (mp.name = acName(d, y, yp) ?? mp.name),
          path: (y, yp) => (mp.path = goString(d, y, yp) ?? mp.path),
          readOnly: (y, yp) => {
            const b = goBool(d, y, yp);
            if (b !== undefined) mp.readOnly = b;
          },
        });
        if (d.options.strict && mp.path === '') d.add(pathKey(xp, 'path'), 'required', `${xp}: path must be set`);
        if (d.options.strict && mp.name === '') d.add(pathKey(xp, 'name'), 'required', `${xp}: name must be set`);
        return mp;
      });
      if (mps === undefined) delete a.mountPoints;
      else a.mountPoints = mps;
    },
    ports: (v, p) => {
      const ps = goSlice(d, v, p, 'ports', (x, xp) => port(d, x, xp));
      if (ps === undefined) delete a.ports;
      else a.ports = ps;
    },
    isolators: (v, p) => {
      isolators = goSlice(d, v, p, 'isolators', (x, xp) => isolator(d, x, xp));
    },
    userAnnotations: (v, p) => {
      const m = goStringMap(d, v, p);
      if (m === undefined) delete a.userAnnotations;
      else a.userAnnotations = { ...(a.userAnnotations ?? {}), ...m };
    },
    userLabels: (v, p) => {
      const m = goStringMap(d, v, p);
      if (m === undefined) delete a.userLabels;
      else a.userLabels = { ...(a.userLabels ?? {}), ...m };
    },
  });
  if (ok !== true) return base;
  void envChecked;
  if (a.user === '') d.add(pathKey(path, 'user'), 'required', `${path}: user is required`);
  if (a.group === '') d.add(pathKey(path, 'group'), 'required', `${path}: group is required`);
  if (a.workingDirectory !== undefined && a.workingDirectory !== '' && !a.workingDirectory.startsWith('/'))
    d.add(pathKey(path, 'workingDirectory'), 'absolute-path', `${path}.workingDirectory: ${JSON.stringify(a.workingDirectory)} must be an absolute path`);
  if (a.workingDirectory === '') delete a.workingDirectory;
  const handlerNames = new Set<string>();
  (a.eventHandlers ?? []).forEach((h, i) => {
    if (handlerNames.has(h.name)) {
      const hp = pathKey(pathIndex(pathKey(path, 'eventHandlers'), i), 'name');
      d.add(hp, 'duplicate', `${hp}: only one eventHandler of name ${JSON.stringify(h.name)} allowed`);
    }
    handlerNames.add(h.name);
  });
  if (isolators) {
    checkIsolatorSet(d, isolators, pathKey(path, 'isolators'));
    a.isolators = stripKnown(isolators);
  } else delete a.isolators;
  if (a.environment === undefined) a.environment = [];
  Object.defineProperty(a, '_iso', { value: isolators, enumerable: false, configurable: true });
  return a;
}

/* ------------------------------------------------------------------ image manifest */

function dependency(d: Decoder, n: JNode, path: string): Dependency {
  const dep: Dependency = { imageName: '' };
  goStruct(d, n, path, 'dependency', {
    imageName: (v, p) => (dep.imageName = acIdentifier(d, v, p) ?? dep.imageName),
    imageID: (v, p) => {
      if (v.t === 'null') delete dep.imageID;
      else {
        const h = hash(d, v, p);
        if (h !== undefined) dep.imageID = h;
      }
    },
    labels: (v, p) => {
      const l = labels(d, v, p);
      if (l === undefined) delete dep.labels;
      else dep.labels = l;
    },
    size: (v, p) => {
      const s = goUint(d, v, p);
      if (s !== undefined) dep.size = toNum(s);
    },
  });
  if (dep.imageName === '') d.add(pathKey(path, 'imageName'), 'required', `${path}: imageName cannot be empty`);
  if (dep.size === 0) delete dep.size;
  return dep;
}

export function decodeImageManifest(d: Decoder, n: JNode): ImageManifest {
  let kind: string | undefined;
  let version: string | undefined;
  let name = '';
  const m: Partial<ImageManifest> = {};
  const ok = goStruct(d, n, '', 'ImageManifest', {
    acKind: (v, p) => (kind = acKind(d, v, p) ?? kind),
    acVersion: (v, p) => (version = semVer(d, v, p) ?? version),
    name: (v, p) => (name = acIdentifier(d, v, p) ?? name),
    labels: (v, p) => {
      const l = labels(d, v, p);
      if (l === undefined) delete m.labels;
      else m.labels = l;
    },
    app: (v, p) => {
      const a = app(d, v, p, m.app);
      if (a === undefined) delete m.app;
      else m.app = a;
    },
    annotations: (v, p) => {
      const a = annotations(d, v, p);
      if (a === undefined) delete m.annotations;
      else m.annotations = a;
    },
    dependencies: (v, p) => {
      const deps = goSlice(d, v, p, 'dependencies', (x, xp) => dependency(d, x, xp));
      if (deps === undefined) delete m.dependencies;
      else m.dependencies = deps;
    },
    pathWhitelist: (v, p) => {
      const w = goSlice(d, v, p, 'pathWhitelist', (x, xp) => {
        const s = goString(d, x, xp) ?? '';
        if (d.options.strict && !s.startsWith('/')) d.add(xp, 'absolute-path', `${xp}: ${JSON.stringify(s)} must be an absolute path`);
        return s;
      });
      if (w === undefined) delete m.pathWhitelist;
      else m.pathWhitelist = w;
    },
  });
  if (ok !== false) {
    if (kind !== 'ImageManifest')
      d.add('acKind', 'ac-kind', `acKind: missing or bad ACKind (must be "ImageManifest")${kind ? `, got ${JSON.stringify(kind)}` : ''}`);
    if (version === undefined && !d.problems.some((p) => p.rule === 'semver')) d.add('acVersion', 'required', 'acVersion must be set');
    if (name === '' && !d.problems.some((p) => p.path === 'name')) d.add('name', 'required', 'name must be set');
  }
  const out: ImageManifest = { acKind: 'ImageManifest', acVersion: version ?? '', name, ...m };
  return out;
}

/* ------------------------------------------------------------------ pod manifest */

function volume(d: Decoder, n: JNode, path: string): Volume {
  const v: Volume = { name: '', kind: '' };
  let source = '';
  goStruct(d, n, path, 'volume', {
    name: (x, p) => (v.name = acName(d, x, p) ?? v.name),
    kind: (x, p) => (v.kind = goString(d, x, p) ?? v.kind),
    source: (x, p) => (source = goString(d, x, p) ?? source),
    readOnly: (x, p) => {
      if (x.t === 'null') delete v.readOnly;
      else {
        const b = goBool(d, x, p);
        if (b !== undefined) v.readOnly = b;
      }
    },
    recursive: (x, p) => {
      if (x.t === 'null') delete v.recursive;
      else {
        const b = goBool(d, x, p);
        if (b !== undefined) v.recursive = b;
      }
    },
    mode: (x, p) => {
      if (x.t === 'null') delete v.mode;
      else {
        const s = goString(d, x, p);
        if (s !== undefined) v.mode = s;
      }
    },
    uid: (x, p) => {
      if (x.t === 'null') delete v.uid;
      else {
        const i = goInt(d, x, p);
        if (i !== undefined) v.uid = toNum(i);
      }
    },
    gid: (x, p) => {
      if (x.t === 'null') delete v.gid;
      else {
        const i = goInt(d, x, p);
        if (i !== undefined) v.gid = toNum(i);
      }
    },
  });
  if (source !== '') v.source = source;
  if (v.kind === 'empty') {
    v.mode ??= '0755';
    v.uid ??= 0;
    v.gid ??= 0;
  }
  const bad = (field: string, rule: string, msg: string) => d.add(pathKey(path, field), rule, `${path}: ${msg}`);
  if (v.name === '') bad('name', 'required', 'name must be set');
  else if (v.kind === 'empty') {
    if (source !== '') bad('source', 'volume', 'source for empty volume must be empty');
  } else if (v.kind === 'host') {
    if (source === '') bad('source', 'volume', 'source for host volume cannot be empty');
    else if (v.mode !== undefined) bad('mode', 'volume', 'mode for host volume cannot be set');
    else if (v.uid !== undefined) bad('uid', 'volume', 'uid for host volume cannot be set');
    else if (v.gid !== undefined) bad('gid', 'volume', 'gid for host volume cannot be set');
    else if (!source.startsWith('/')) bad('source', 'absolute-path', `source for host volume must be absolute path (got ${JSON.stringify(source)})`);
  } else bad('kind', 'volume-kind', `unrecognized volume kind ${JSON.stringify(v.kind)}: should be one of "empty", "host"`);
  return v;
}

function runtimeImage(d: Decoder, n: JNode, path: string, base: RuntimeImage | undefined): RuntimeImage {
  const img: RuntimeImage = base ? { ...base } : { id: '' };
  goStruct(d, n, path, 'image', {
    name: (v, p) => {
      if (v.t === 'null') delete img.name;
      else {
        const s = acIdentifier(d, v, p);
        if (s !== undefined) img.name = s;
      }
    },
    id: (v, p) => (img.id = hash(d, v, p) ?? img.id),
    labels: (v, p) => {
      const l = labels(d, v, p);
      if (l === undefined) delete img.labels;
      else img.labels = l;
    },
  });
  return img;
}

function runtimeApp(d: Decoder, n: JNode, path: string): RuntimeApp {
  const ra: RuntimeApp = { name: '', image: { id: '' } };
  let sawImage = false;
  goStruct(d, n, path, 'runtime app', {
    name: (v, p) => (ra.name = acName(d, v, p) ?? ra.name),
    image: (v, p) => {
      sawImage = true;
      ra.image = runtimeImage(d, v, p, ra.image);
    },
    app: (v, p) => {
      const a = app(d, v, p, ra.app);
      if (a === undefined) delete ra.app;
      else ra.app = a;
    },
    readOnlyRootFS: (v, p) => {
      const b = goBool(d, v, p);
      if (b !== undefined) ra.readOnlyRootFS = b;
    },
    mounts: (v, p) => {
      const ms = goSlice(d, v, p, 'mounts', (x, xp) => {
        const m: Mount = { volume: '', path: '' };
        goStruct(d, x, xp, 'mount', {
          volume: (y, yp) => (m.volume = acName(d, y, yp) ?? m.volume),
          path: (y, yp) => (m.path = goString(d, y, yp) ?? m.path),
          appVolume: (y, yp) => {
            if (y.t === 'null') delete m.appVolume;
            else m.appVolume = volume(d, y, yp);
          },
        });
        if (d.options.strict) {
          if (m.volume === '') d.add(pathKey(xp, 'volume'), 'required', `${xp}: volume must be set`);
          if (m.path === '') d.add(pathKey(xp, 'path'), 'required', `${xp}: path must be set`);
        }
        return m;
      });
      if (ms === undefined) delete ra.mounts;
      else ra.mounts = ms;
    },
    annotations: (v, p) => {
      const a = annotations(d, v, p);
      if (a === undefined) delete ra.annotations;
      else ra.annotations = a;
    },
  });
  if (ra.readOnlyRootFS === false) delete ra.readOnlyRootFS;
  if (d.options.strict) {
    if (!sawImage || ra.image.id === '') d.add(pathKey(pathKey(path, 'image'), 'id'), 'required', `${path}: image.id is required in a reified pod`);
    else if (!isFullImageId(ra.image.id))
      d.add(pathKey(pathKey(path, 'image'), 'id'), 'image-id-strict', `${path}.image.id: must be sha512- and 128 lowercase hex digits`);
    if (ra.name === '') d.add(pathKey(path, 'name'), 'required', `${path}: name must be set`);
  }
  return ra;
}

export function decodePodManifest(d: Decoder, n: JNode): PodManifest {
  let kind: string | undefined;
  let version: string | undefined;
  const m: Partial<PodManifest> = {};
  let apps: RuntimeApp[] | undefined;
  const ok = goStruct(d, n, '', 'PodManifest', {
    acVersion: (v, p) => (version = semVer(d, v, p) ?? version),
    acKind: (v, p) => (kind = acKind(d, v, p) ?? kind),
    apps: (v, p) => {
      apps = goSlice(d, v, p, 'apps', (x, xp) => runtimeApp(d, x, xp));
      const seen = new Set<string>();
      (apps ?? []).forEach((a, i) => {
        const ap = pathKey(pathIndex(p, i), 'name');
        if (seen.has(a.name)) d.add(ap, 'duplicate', `${ap}: duplicate apps of name ${JSON.stringify(a.name)}`);
        seen.add(a.name);
      });
    },
    volumes: (v, p) => {
      const vols = goSlice(d, v, p, 'volumes', (x, xp) => volume(d, x, xp));
      if (vols === undefined) delete m.volumes;
      else m.volumes = vols;
    },
    isolators: (v, p) => {
      const isos = goSlice(d, v, p, 'isolators', (x, xp) => isolator(d, x, xp));
      if (isos === undefined) delete m.isolators;
      else m.isolators = stripKnown(isos);
    },
    annotations: (v, p) => {
      const a = annotations(d, v, p);
      if (a === undefined) delete m.annotations;
      else m.annotations = a;
    },
    ports: (v, p) => {
      const ps = goSlice(d, v, p, 'ports', (x, xp) => {
        const ep: ExposedPort = { name: '', hostPort: 0 };
        goStruct(d, x, xp, 'exposed port', {
          name: (y, yp) => (ep.name = acName(d, y, yp) ?? ep.name),
          hostPort: (y, yp) => (ep.hostPort = toNum(goUint(d, y, yp) ?? BigInt(ep.hostPort))),
          hostIP: (y, yp) => {
            if (y.t === 'null') delete ep.hostIP;
            else if (y.t !== 'string') typeError(d, y, yp, 'an IP address string');
            else if (y.value === '') delete ep.hostIP;
            else if (!isGoIP(y.value)) d.add(yp, 'ip', `${yp}: invalid IP address ${JSON.stringify(y.value)}`);
            else ep.hostIP = y.value;
          },
          podPort: (y, yp) => {
            if (y.t === 'null') delete ep.podPort;
            else ep.podPort = port(d, y, yp);
          },
        });
        return ep;
      });
      if (ps === undefined) delete m.ports;
      else m.ports = ps;
    },
    userAnnotations: (v, p) => {
      const x = goStringMap(d, v, p);
      if (x === undefined) delete m.userAnnotations;
      else m.userAnnotations = { ...(m.userAnnotations ?? {}), ...x };
    },
    userLabels: (v, p) => {
      const x = goStringMap(d, v, p);
      if (x === undefined) delete m.userLabels;
      else m.userLabels = { ...(m.userLabels ?? {}), ...x };
    },
  });
  if (ok !== false) {
    if (kind !== 'PodManifest')
      d.add('acKind', 'ac-kind', `acKind: missing or bad ACKind (must be "PodManifest")${kind ? `, got ${JSON.stringify(kind)}` : ''}`);
    const seen = new Set<string>();
    (m.volumes ?? []).forEach((v, i) => {
      if (seen.has(v.name)) {
        const vp = pathKey(pathIndex('volumes', i), 'name');
        d.add(vp, 'duplicate', `${vp}: duplicate volume name ${JSON.stringify(v.name)}`);
      }
      seen.add(v.name);
    });
    if (d.options.strict) {
      if (version === undefined) d.add('acVersion', 'required', 'acVersion must be set');
      if (!apps || apps.length === 0) d.add('apps', 'required', 'apps: a pod needs at least one app');
    }
  }
  return { acVersion: version ?? '', acKind: 'PodManifest', apps: apps ?? [], ...m };
}

/** What actool validate decodes first: only acVersion and acKind, both validated when present. */
export function decodeKind(d: Decoder, n: JNode): { acKind?: string; acVersion?: string } {
  const out: { acKind?: string; acVersion?: string } = {};
  goStruct(d, n, '', 'manifest', {
    acVersion: (v, p) => {
      const s = semVer(d, v, p);
      if (s !== undefined) out.acVersion = s;
    },
    acKind: (v, p) => {
      const s = acKind(d, v, p);
      if (s !== undefined) out.acKind = s;
    },
  });
  return out;
}
