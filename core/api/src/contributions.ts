/**
 * A plugin declares its contributions as data in package.json:
 *
 *   "rkt": { "contributes": [ { "point": "rkt.fetcher.v1", "id": "https",
 *            "match": { "schemes": ["https"] }, "entry": "./dist/fetcher.js",
 *            "requires": { "points": ["rkt.store.v1"], "binaries": ["xz"] } } ] }
 *
 * The core reads that without importing the plugin, and imports `entry` only when a command
 * needs the point. The entry's default export is the value of `defineContribution(...)`.
 */
import type * as errors from './errors.js';
import type { ImageRef } from './points.js';
import type { Token } from './tokens.js';

export interface ContributionMatch {
  /** URL schemes this contribution serves (fetchers). */
  schemes?: string[];
  /** Image reference kinds it serves (fetchers): url, path, name, hash. */
  kinds?: ImageRef['kind'][];
}

export interface ContributionRequires {
  /** Points that must be activated first; available through `ctx.get`. */
  points?: string[];
  /** Executables that must be on PATH (or absolute paths that must exist). */
  binaries?: string[];
  /** Files or directories that must exist on the host. */
  paths?: string[];
  /** Must run as root. */
  root?: boolean;
}

export interface ContributionDecl {
  point: string;
  id: string;
  entry: string;
  description?: string;
  match?: ContributionMatch;
  requires?: ContributionRequires;
}

export interface PluginManifestSection {
  contributes: ContributionDecl[];
}

export interface RuntimePaths {
  /** `--dir`, the data dir (default /var/lib/rkt). */
  dataDir: string;
  systemConfigDir: string;
  localConfigDir: string;
  userConfigDir?: string;
  /** Where stage1 images are looked up (`paths.d` `stage1-images`). */
  stage1ImagesDir: string;
}

/** Runtime helpers handed to plugins, so that a plugin needs no runtime dependency on us. */
export type RktRuntimeApi = Pick<
  typeof errors,
  | 'RktError'
  | 'ErrorCodes'
  | 'skipPlugin'
  | 'invalidArgument'
  | 'notFound'
  | 'unavailable'
  | 'failedPrecondition'
  | 'untrusted'
  | 'internal'
  | 'isRktError'
>;

export interface ActivationContext {
  readonly point: string;
  readonly id: string;
  readonly pluginName: string;
  readonly pluginRoot: string;
  /** This contribution's section of the CLI settings (`plugins["<point>.<id>"]`), or {}. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly paths: Readonly<RuntimePaths>;
  readonly debug: boolean;
  readonly api: RktRuntimeApi;
  /** An activated instance of a point listed in `requires.points`. */
  get<T>(token: Token<T>): T;
  /** Resolve an executable on PATH; undefined when absent. */
  which(name: string): string | undefined;
  log(message: string): void;
}

export interface ContributionModule<T> {
  readonly rktContribution: 1;
  readonly point: string;
  init(ctx: ActivationContext): T | Promise<T>;
}

/** Wrap a contribution's init function (containerd's InitFn). */
export function defineContribution<T>(
  point: Token<T>,
  init: (ctx: ActivationContext) => T | Promise<T>,
): ContributionModule<T> {
  return { rktContribution: 1, point: Symbol.keyFor(point) ?? '', init };
}
