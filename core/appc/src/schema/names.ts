/**
 * AC Identifier / AC Name / AC Kind, SemVer, image ID (hash) and label rules of appc 0.8.11
 * (spec types.md), with the reference library's exact acceptance (see the notes on each).
 */

/** Strict spec grammar for an AC Identifier. */
export const AC_IDENTIFIER_REGEX = /^[a-z0-9]+([-._~/][a-z0-9]+)*$/;
/** Strict spec grammar for an AC Name. */
export const AC_NAME_REGEX = /^[a-z0-9]+([-][a-z0-9]+)*$/;

const INVALID_ID_CHARS = /[^a-z0-9\-._~/]/;
const INVALID_ID_CHARS_G = /[^a-z0-9\-._~/]/g;
const INVALID_ID_EDGES = /(^[-._~/]+)|([-._~/]+$)/;
const INVALID_ID_EDGES_G = /(^[-._~/]+)|([-._~/]+$)/g;
const INVALID_NAME_CHARS = /[^a-z0-9-]/;
const INVALID_NAME_CHARS_G = /[^a-z0-9-]/g;
const INVALID_NAME_EDGES = /(^-+)|(-+$)/;
const INVALID_NAME_EDGES_G = /(^-+)|(-+$)/g;

/**
 * Why `s` is not an AC Identifier, or undefined when it is one. Like the reference, only the
 * character class and the edges are checked, so runs of separators (`a//b`) are accepted.
 */
export function acIdentifierError(s: string): string | undefined {
  if (s.length === 0) return 'ACIdentifier cannot be empty';
  if (INVALID_ID_CHARS.test(s)) return 'ACIdentifier must contain only lower case alphanumeric characters plus "-._~/"';
  if (INVALID_ID_EDGES.test(s)) return 'ACIdentifier must start and end with only lower case alphanumeric characters';
  return undefined;
}

/** Why `s` is not an AC Name, or undefined. Reference acceptance (`a--b` passes). */
export function acNameError(s: string): string | undefined {
  if (s.length === 0) return 'ACName cannot be empty';
  if (INVALID_NAME_CHARS.test(s)) return 'ACName must contain only lower case alphanumeric characters plus "-"';
  if (INVALID_NAME_EDGES.test(s)) return 'ACName must start and end with only lower case alphanumeric characters';
  return undefined;
}

/** True when `s` is accepted as an AC Identifier. `strict` applies the spec regex (no separator runs). */
export function isACIdentifier(s: unknown, strict = false): s is string {
  if (typeof s !== 'string') return false;
  return strict ? AC_IDENTIFIER_REGEX.test(s) : acIdentifierError(s) === undefined;
}

/** True when `s` is accepted as an AC Name. `strict` applies the spec regex (no `--`). */
export function isACName(s: unknown, strict = false): s is string {
  if (typeof s !== 'string') return false;
  return strict ? AC_NAME_REGEX.test(s) : acNameError(s) === undefined;
}

/**
 * Suggest an AC Identifier for `s`: lower-case it, replace every invalid character with `_`,
 * strip separator characters at the edges. Returns undefined when nothing valid is left.
 * (Non-normative helper, like the reference's SanitizeACIdentifier.)
 */
export function sanitizeACIdentifier(s: string): string | undefined {
  const out = goToLower(s).replace(INVALID_ID_CHARS_G, '_').replace(INVALID_ID_EDGES_G, '');
  return out === '' ? undefined : out;
}

/**
 * Suggest an AC Name for `s`: lower-case it, replace every invalid character with `-`, strip
 * `-` at the edges. Returns undefined when nothing valid is left. (Like SanitizeACName.)
 */
export function sanitizeACName(s: string): string | undefined {
  const out = goToLower(s).replace(INVALID_NAME_CHARS_G, '-').replace(INVALID_NAME_EDGES_G, '');
  return out === '' ? undefined : out;
}

/** strings.ToLower works per code point; JS toLowerCase may change length (İ → i̇); keep per-char. */
function goToLower(s: string): string {
  let out = '';
  for (const ch of s) {
    const l = ch.toLowerCase();
    out += [...l].length === 1 ? l : ch;
  }
  return out;
}

/* ------------------------------------------------------------------ AC Kind */

export const AC_KINDS = ['ImageManifest', 'PodManifest'] as const;
export type ACKind = (typeof AC_KINDS)[number];

export function acKindError(s: string): string | undefined {
  if (s === 'ImageManifest' || s === 'PodManifest') return undefined;
  if (s === '') return 'ACKind must be set';
  return `bad ACKind: ${s}`;
}

/* ------------------------------------------------------------------ SemVer */

export interface SemVer {
  major: bigint;
  minor: bigint;
  patch: bigint;
  preRelease: string;
  metadata: string;
}

const SEMVER_IDENT = /^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$/;
const INT64_MAX = (1n << 63n) - 1n;

function goParseInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s);
  if (v > INT64_MAX || v < -INT64_MAX - 1n) return undefined;
  return v;
}

/**
 * Parse a SemVer the way the reference (coreos/go-semver) does: `MAJOR.MINOR.PATCH[-pre][+meta]`,
 * numbers are int64 (leading zeros accepted). Returns a reason string on failure.
 */
export function parseSemVer(s: string): SemVer | string {
  let version = s;
  let metadata = '';
  const plus = version.indexOf('+');
  if (plus >= 0) {
    metadata = version.slice(plus + 1);
    version = version.slice(0, plus);
  }
  let preRelease = '';
  const dash = version.indexOf('-');
  if (dash >= 0) {
    preRelease = version.slice(dash + 1);
    version = version.slice(0, dash);
  }
  const parts = splitN(version, '.', 3);
  if (parts.length !== 3) return `${version} is not in dotted-tri format`;
  if (preRelease !== '' && !SEMVER_IDENT.test(preRelease)) return `${preRelease} is not a valid semver identifier`;
  if (metadata !== '' && !SEMVER_IDENT.test(metadata)) return `${metadata} is not a valid semver identifier`;
  const nums: bigint[] = [];
  for (const p of parts) {
    const v = goParseInt64(p);
    if (v === undefined) return `invalid version number ${JSON.stringify(p)}`;
    nums.push(v);
  }
  return { major: nums[0]!, minor: nums[1]!, patch: nums[2]!, preRelease, metadata };
}

/** Why `s` is not an acceptable acVersion, or undefined. */
export function acVersionError(s: string): string | undefined {
  const v = parseSemVer(s);
  if (typeof v === 'string') return `SemVer is bad: ${v}`;
  if (v.major === 0n && v.minor === 0n && v.patch === 0n && v.preRelease === '' && v.metadata === '')
    return 'SemVer cannot be zero';
  return undefined;
}

/** Go's strings.SplitN. */
export function splitN(s: string, sep: string, n: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (out.length < n - 1) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    out.push(rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  out.push(rest);
  return out;
}

/* ------------------------------------------------------------------ Image ID */

/**
 * Why `s` is not an image ID, or undefined. Reference rule: exactly one `-`, type `sha512`,
 * non-empty value (length and hex-ness are not checked).
 */
export function imageIdError(s: string): string | undefined {
  const elems = s.split('-');
  if (elems.length !== 2) return 'badly formatted hash string';
  if (elems[0] === '') return 'unexpected empty hash type';
  if (elems[0] !== 'sha512') return `unrecognized hash type: ${elems[0]}`;
  if (elems[1] === '') return 'unexpected empty hash value';
  return undefined;
}

/** Strict form: `sha512-` and 128 lowercase hex digits. */
export function isFullImageId(s: string): boolean {
  return /^sha512-[0-9a-f]{128}$/.test(s);
}

/* ------------------------------------------------------------------ labels */

/** os → allowed arch values, as enforced by the reference (types.ValidOSArch). */
export const VALID_OS_ARCH: Readonly<Record<string, readonly string[]>> = {
  linux: ['amd64', 'i386', 'aarch64', 'aarch64_be', 'armv6l', 'armv7l', 'armv7b', 'ppc64', 'ppc64le', 's390x'],
  freebsd: ['amd64', 'i386', 'arm'],
  darwin: ['x86_64', 'i386'],
};

/** Why this os/arch combination is refused, or undefined. An arch without os is not checked. */
export function osArchError(labels: ReadonlyMap<string, string> | Record<string, string>): string | undefined {
  const get = (k: string) => (labels instanceof Map ? labels.get(k) : (labels as Record<string, string>)[k]);
  const has = (k: string) => (labels instanceof Map ? labels.has(k) : Object.prototype.hasOwnProperty.call(labels, k));
  if (!has('os')) return undefined;
  const os = get('os')!;
  if (!Object.prototype.hasOwnProperty.call(VALID_OS_ARCH, os)) {
    return `bad os ${JSON.stringify(os)} (must be one of: [${Object.keys(VALID_OS_ARCH).sort().join(' ')}])`;
  }
  if (!has('arch')) return undefined;
  const arch = get('arch')!;
  const valid = VALID_OS_ARCH[os]!;
  if (!valid.includes(arch)) return `bad arch ${JSON.stringify(arch)} for ${os} (must be one of: [${valid.join(' ')}])`;
  return undefined;
}

/** Labels (or annotations) as a map; a later duplicate wins. */
export function labelsToMap(labels: ReadonlyArray<{ name: string; value: string }> | undefined | null): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of labels ?? []) m.set(l.name, l.value);
  return m;
}

/** Labels as a plain record (later duplicate wins). */
export function labelsToRecord(
  labels: ReadonlyArray<{ name: string; value: string }> | undefined | null,
): Record<string, string> {
  const r: Record<string, string> = Object.create(null);
  for (const l of labels ?? []) r[l.name] = l.value;
  return r;
}

/** A record/map as a label list sorted by name (like LabelsFromMap). */
export function labelsFromMap(m: ReadonlyMap<string, string> | Record<string, string>): { name: string; value: string }[] {
  const entries = m instanceof Map ? [...m.entries()] : Object.entries(m);
  return entries.map(([name, value]) => ({ name, value })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/* ------------------------------------------------------------------ environment */

export const ENV_NAME_REGEX = /^[A-Za-z_][A-Za-z_0-9.-]*$/;

/* ------------------------------------------------------------------ Go → appc os/arch */

/** Translate Node/Go platform names to appc os/arch labels (types.ToAppcOSArch). */
export function toAppcOsArch(os: string, arch: string, armVersion = ''): { os: string; arch: string } | undefined {
  const key = `${os}/${arch}`;
  const table: Record<string, [string, string]> = {
    'linux/amd64': ['linux', 'amd64'],
    'linux/x64': ['linux', 'amd64'],
    'linux/386': ['linux', 'i386'],
    'linux/ia32': ['linux', 'i386'],
    'linux/arm64': ['linux', 'aarch64'],
    'linux/ppc64': ['linux', 'ppc64'],
    'linux/ppc64le': ['linux', 'ppc64le'],
    'linux/s390x': ['linux', 's390x'],
    'freebsd/amd64': ['freebsd', 'amd64'],
    'freebsd/x64': ['freebsd', 'amd64'],
    'freebsd/386': ['freebsd', 'i386'],
    'freebsd/arm': ['freebsd', 'arm'],
    'darwin/amd64': ['darwin', 'x86_64'],
    'darwin/x64': ['darwin', 'x86_64'],
    'darwin/386': ['darwin', 'i386'],
  };
  if (key === 'linux/arm') return { os: 'linux', arch: armVersion === '7' ? 'armv7l' : 'armv6l' };
  const hit = table[key];
  return hit ? { os: hit[0], arch: hit[1] } : undefined;
}
