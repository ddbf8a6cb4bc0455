/**
 * Public parse/validate entry points for image and pod manifests.
 *
 * Input may be JSON text (string or bytes) or an already-parsed value. Verdicts equal the
 * reference `actool validate` (appc 0.8.11); see decode.ts for how its quirks are reproduced.
 */
import { invalidArgument, type ImageManifest, type PodManifest } from '@rkt/api';
import { Decoder, decodeImageManifest, decodeKind, decodePodManifest, type Problem, type ValidateOptions } from './decode.js';
import { fromPlain, type JNode, JsonSyntaxError, parseJson } from './json.js';

export type ManifestInput = string | Uint8Array | unknown;

function toNode(input: ManifestInput, d: Decoder): JNode | undefined {
  try {
    if (typeof input === 'string' || input instanceof Uint8Array) return parseJson(input);
    return fromPlain(input);
  } catch (e) {
    if (e instanceof JsonSyntaxError) d.add('', 'json-syntax', `the manifest is not valid JSON: ${e.message}`);
    else d.add('', 'json-value', `the manifest is not a JSON value: ${(e as Error).message}`);
    return undefined;
  }
}

export interface ImageManifestResult {
  manifest: ImageManifest | undefined;
  problems: Problem[];
}
export interface PodManifestResult {
  manifest: PodManifest | undefined;
  problems: Problem[];
}

/** Decode and validate; `manifest` is undefined when the input is not JSON at all. */
export function checkImageManifest(input: ManifestInput, options: ValidateOptions = {}): ImageManifestResult {
  const d = new Decoder(options);
  const node = toNode(input, d);
  const manifest = node ? decodeImageManifest(d, node) : undefined;
  return { manifest, problems: d.problems };
}

export function checkPodManifest(input: ManifestInput, options: ValidateOptions = {}): PodManifestResult {
  const d = new Decoder(options);
  const node = toNode(input, d);
  const manifest = node ? decodePodManifest(d, node) : undefined;
  return { manifest, problems: d.problems };
}

/** Every broken rule of an image manifest (empty when valid). Never throws. */
export function validateImageManifest(input: ManifestInput, options: ValidateOptions = {}): Problem[] {
  return checkImageManifest(input, options).problems;
}

/** Every broken rule of a pod manifest (empty when valid). Never throws. */
export function validatePodManifest(input: ManifestInput, options: ValidateOptions = {}): Problem[] {
  return checkPodManifest(input, options).problems;
}

export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `${p.path || '(root)'}: [${p.rule}] ${p.message}`).join('\n');
}

function fail(kind: string, problems: Problem[]): never {
  const first = problems[0]!;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  throw invalidArgument(`invalid ${kind}: ${first.message}${more}`, {
    details: { path: first.path, rule: first.rule, problems },
  });
}

/**
 * Parse and validate an image manifest. Returns it normalised as the reference decodes it
 * (canonical key names, unknown keys dropped, port `count` defaulted to 1, `app.environment`
 * always a list). Throws RktError INVALID_ARGUMENT with `details.path` and `details.problems`.
 */
export function parseImageManifest(input: ManifestInput, options: ValidateOptions = {}): ImageManifest {
  const r = checkImageManifest(input, options);
  if (r.problems.length > 0 || !r.manifest) fail('ImageManifest', r.problems);
  return r.manifest;
}

/** Parse and validate a pod manifest (empty volumes get mode 0755, uid 0, gid 0). */
export function parsePodManifest(input: ManifestInput, options: ValidateOptions = {}): PodManifest {
  const r = checkPodManifest(input, options);
  if (r.problems.length > 0 || !r.manifest) fail('PodManifest', r.problems);
  return r.manifest;
}

export type AnyManifest = { kind: 'ImageManifest'; manifest: ImageManifest } | { kind: 'PodManifest'; manifest: PodManifest };

export interface ManifestCheck {
  /** The kind found in `acKind`, when it is one. */
  kind: 'ImageManifest' | 'PodManifest' | undefined;
  manifest: ImageManifest | PodManifest | undefined;
  problems: Problem[];
}

/**
 * What `actool validate --type=manifest` does: read acKind/acVersion first, then validate as
 * that kind. A missing or unknown acKind is a problem at path `acKind`.
 */
export function checkManifest(input: ManifestInput, options: ValidateOptions = {}): ManifestCheck {
  const d = new Decoder(options);
  const node = toNode(input, d);
  if (!node) return { kind: undefined, manifest: undefined, problems: d.problems };
  const k = decodeKind(d, node);
  if (d.problems.length > 0) return { kind: undefined, manifest: undefined, problems: d.problems };
  if (k.acKind === 'ImageManifest') return { kind: k.acKind, manifest: decodeImageManifest(d, node), problems: d.problems };
  if (k.acKind === 'PodManifest') return { kind: k.acKind, manifest: decodePodManifest(d, node), problems: d.problems };
  d.add('acKind', 'required', 'acKind must be set to "ImageManifest" or "PodManifest"');
  return { kind: undefined, manifest: undefined, problems: d.problems };
}

/** Parse a manifest of either kind (by its acKind). Throws like parseImageManifest. */
export function parseManifest(input: ManifestInput, options: ValidateOptions = {}): AnyManifest {
  const r = checkManifest(input, options);
  if (r.problems.length > 0 || !r.manifest || !r.kind) fail(r.kind ?? 'manifest', r.problems);
  return r.kind === 'ImageManifest'
    ? { kind: 'ImageManifest', manifest: r.manifest as ImageManifest }
    : { kind: 'PodManifest', manifest: r.manifest as PodManifest };
}
