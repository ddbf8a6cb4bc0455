/**
 * The five extension points. Interface and token share a name; the token's URI carries the
 * point's version. A contribution names the URI in its package.json (`rkt.contributes[].point`).
 */
import type { Readable } from 'node:stream';
import type { AppcIsolator, ImageManifest, Label } from './appc.js';
import { token } from './tokens.js';

export const POINT_URIS = {
  stage1: 'rkt.stage1.v1',
  fetcher: 'rkt.fetcher.v1',
  store: 'rkt.store.v1',
  isolator: 'rkt.isolator.v1',
  network: 'rkt.network.v1',
} as const;
export type PointUri = (typeof POINT_URIS)[keyof typeof POINT_URIS];

/* ---------------------------------------------------------------- shared values */

/** What the user typed as an image, classified as rkt does (§3.2 of rkt.md). */
export type ImageRef =
  | { kind: 'url'; raw: string; url: URL }
  | { kind: 'path'; raw: string; path: string }
  | { kind: 'name'; raw: string; name: string; labels: Record<string, string> }
  | { kind: 'hash'; raw: string; id: string };

/** `--insecure-options`, expanded (all-fetch etc. resolved). */
export interface InsecureOptions {
  image: boolean;
  tls: boolean;
  http: boolean;
  pubkey: boolean;
  capabilities: boolean;
  paths: boolean;
  seccomp: boolean;
}

export type PullPolicy = 'never' | 'new' | 'update';

export interface ProgressSink {
  start(label: string, total?: number): void;
  advance(bytes: number): void;
  done(): void;
}

/* ---------------------------------------------------------------- Fetcher */

export interface RemoteCacheInfo {
  url: string;
  etag?: string;
  /** Cache-Control max-age in seconds. */
  maxAge?: number;
  downloadTime: Date;
  imageId: string;
}

export interface FetchOptions {
  insecure: InsecureOptions;
  pullPolicy: PullPolicy;
  /** Explicit detached signature (`--signature`). */
  signaturePath?: string;
  /** Authorization headers for a host, from auth.d (https only). */
  headersFor(host: string): Record<string, string>;
  /** What the store remembers about this URL, for conditional requests. */
  cached?: RemoteCacheInfo;
  /** A directory inside the store where the fetcher may write temporary files. */
  tmpDir: string;
  progress?: ProgressSink;
  signal?: AbortSignal;
  debug(message: string): void;
}

export interface FetchResult {
  /** The fetched image; any appc compression. Ignored when `notModified`. */
  aci?: Readable;
  /** Detached armored signature; `null` when the source has none. */
  signature: Uint8Array | null;
  /** Name the signature must be trusted for (discovery name, or the manifest's name if absent). */
  trustName?: string;
  /** Cache facts to store with the image (for URLs). */
  remote?: Omit<RemoteCacheInfo, 'imageId' | 'downloadTime'>;
  /** The cached copy is still current (HTTP 304 or fresh max-age). */
  notModified?: boolean;
}

export interface Fetcher {
  readonly id: string;
  fetch(ref: ImageRef, options: FetchOptions): Promise<FetchResult>;
}
export const Fetcher = token<Fetcher>(POINT_URIS.fetcher);

/* ---------------------------------------------------------------- Store */

export interface ImageInfo {
  id: string;
  name: string;
  labels: Label[];
  importTime: Date;
  lastUsed: Date;
  /** Size of the stored blob in bytes. */
  size: number;
  /** Size of rendered trees in bytes (0 when not rendered). */
  treeSize: number;
}

/** A hash over some data, finalised on demand with optional suffix bytes (e.g. an OpenPGP trailer). */
export interface DigestSource {
  digestWith(...suffix: Uint8Array[]): Promise<Buffer>;
}

export interface ImportOptions {
  remote?: Omit<RemoteCacheInfo, 'imageId' | 'downloadTime'>;
  /**
   * Called once the whole image is received, hashed and its manifest parsed, but before it
   * becomes visible in the store (before the rename and the index row). Throwing aborts the
   * import and leaves nothing behind: this is where the signature is checked, so that an
   * untrusted body is never stored.
   */
  beforeCommit?(image: { id: string; manifest: ImageManifest; sourceHashes?: Record<string, DigestSource> }): Promise<void>;
  /**
   * node:crypto hash algorithms (e.g. `['sha512']`) to compute over the *source bytes exactly as
   * given* (compressed or not) — what a detached signature covers. Only honoured by stores whose
   * `hashesSource` is true; the hashes reach `beforeCommit`. A store that
   * hashes the uncompressed tar for the ImageID anyway can reuse that pass for an uncompressed
   * source, so a signed fetch reads and hashes its bytes once.
   */
  sourceHashes?: readonly string[];
}

export interface ImageStore {
  /** True when `importAci` honours `ImportOptions.sourceHashes`. */
  readonly hashesSource?: boolean;
  /**
   * Store an ACI (any appc compression). Idempotent: importing a stored image returns its info
   * (and records `options.remote`).
   */
  importAci(source: Readable, options?: ImportOptions): Promise<ImageInfo>;
  /** Full id or unique prefix (`sha512-0123…`); ambiguous prefixes are an error. */
  resolveId(idOrPrefix: string): Promise<string>;
  getInfo(id: string): Promise<ImageInfo | undefined>;
  /** The best match by name and labels (newest import wins), as rkt. */
  findByName(name: string, labels: Record<string, string>): Promise<ImageInfo | undefined>;
  list(): Promise<ImageInfo[]>;
  manifest(id: string): Promise<ImageManifest>;
  openAci(id: string): Readable;
  remove(id: string): Promise<void>;
  remote(url: string): Promise<RemoteCacheInfo | undefined>;
  /** Record or refresh the fetch cache for a URL (e.g. after a 304); the image must be stored. */
  setRemote(info: RemoteCacheInfo): Promise<void>;
  markUsed(id: string): Promise<void>;
}

export interface RenderedTree {
  /** Tree id (derived from the image id and its resolved dependencies). */
  id: string;
  /** Directory holding `manifest` and `rootfs/`. */
  path: string;
  /** The image the tree was rendered for. */
  imageId: string;
  /** Every image extracted into the tree, in extraction order (dependencies first, the image last). */
  layers: string[];
  /** Bytes of the rendered tree. */
  size: number;
}

export interface TreeStore {
  render(imageId: string): Promise<RenderedTree>;
  /**
   * Extract one image (its `manifest` and `rootfs/`, no dependencies) into `dir`, which must be
   * empty or absent, with the same safe extraction as rendering (`rkt image extract`).
   */
  extract(imageId: string, dir: string): Promise<void>;
  get(treeId: string): Promise<RenderedTree | undefined>;
  remove(treeId: string): Promise<void>;
  list(): Promise<RenderedTree[]>;
}

export interface StoreGcOptions {
  /** Tree ids referenced by pods (prepare, prepared, run, exited-garbage); every other tree goes. */
  referencedTrees: Iterable<string>;
  /** Remove images not used within this many milliseconds; images are kept when absent. */
  imageGracePeriodMs?: number;
  /** Images used by running pods: never removed. */
  imagesInUse?: Iterable<string>;
}

export interface StoreGcReport {
  removedTrees: string[];
  removedImages: string[];
  /** Leftover temporary files/dirs of dead or interrupted operations that were deleted. */
  reclaimedTemp: number;
  /** Per-object failures; gc goes on past them. */
  errors: string[];
}

export interface Store {
  readonly images: ImageStore;
  readonly trees: TreeStore;
  /** A directory inside the store for fetchers' temporary files (same file system as the blobs). */
  readonly tmpDir: string;
  /** `rkt image gc`: unreferenced trees, unused images, stale temporary files. */
  gc(options: StoreGcOptions): Promise<StoreGcReport>;
  close(): void;
}
export const Store = token<Store>(POINT_URIS.store);

/* ---------------------------------------------------------------- Isolator */

/** The runtime knobs an isolator sets; stage1 flavors translate these to their runtime. */
export interface AppRuntimeSettings {
  capabilities?: { retain?: string[]; remove?: string[] };
  memoryLimitBytes?: number;
  cpuMilli?: number;
  cpuShares?: number;
  oomScoreAdj?: number;
  noNewPrivileges?: boolean;
  seccomp?: { mode: 'retain' | 'remove'; set: string[]; errno?: string };
  unixSysctl?: Record<string, string>;
}

export interface Isolator {
  /** The appc isolator names this handles, e.g. `resource/memory`. */
  readonly names: readonly string[];
  /** Throws INVALID_ARGUMENT naming the field when the value is malformed. */
  validate(isolator: AppcIsolator, path: string): void;
  apply(isolator: AppcIsolator, settings: AppRuntimeSettings): void;
}
export const Isolator = token<Isolator>(POINT_URIS.isolator);

/* ---------------------------------------------------------------- Network */

export interface NetConf {
  cniVersion?: string;
  name: string;
  type?: string;
  plugins?: NetConf[];
  [key: string]: unknown;
}

export interface Network {
  readonly id: string;
  /** CNI `type` values this net plugin supplies. */
  readonly cniTypes: readonly string[];
  /** A default configuration for a network of this kind. */
  defaults(name: string): NetConf;
  /** Throws INVALID_ARGUMENT naming the field. */
  validate(conf: NetConf, source: string): void;
  /** Absolute path of the CNI binary for `type`, searching `cniPath`. */
  findBinary(type: string, cniPath: readonly string[]): string | undefined;
  /**
   * After DEL: remove what the plugin leaves behind when it could not see the pod's netns any
   * more (after a reboot or a lost netns), e.g. masquerade rules. Idempotent; returns problems.
   * `wrap` prefixes the commands it runs (e.g. `nsenter --net=…` to act in another netns).
   */
  cleanup?(conf: NetConf, containerId: string, o?: { wrap?: readonly string[] }): Promise<string[]>;
}
export const Network = token<Network>(POINT_URIS.network);

/* ---------------------------------------------------------------- Stage1 */

export interface Stage1 {
  readonly id: string;
  /** Stage1 interface versions (rkt's `coreos.com/rkt/stage1/interface-version`). */
  readonly interfaceVersions: readonly number[];
  /** File name the image is installed as, `stage1-<id>.aci`. */
  readonly imageFileName: string;
  /** Build this flavor's stage1 ACI into `outDir`; returns the file's path. */
  buildImage(outDir: string): Promise<string>;
}
export const Stage1 = token<Stage1>(POINT_URIS.stage1);
