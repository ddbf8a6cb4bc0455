/**
 * Stage0's image path: classify an image argument, find it in the store or fetch it through the
 * fetcher contribution that serves it, check its signature while it streams into the store, and
 * fetch its dependencies. Used by `rkt fetch`, `rkt prepare` and `rkt run`.
 */
import { Transform, type Readable } from 'node:stream';
import { inject, injectable } from './di.js';
import {
  Fetcher,
  Store,
  POINT_URIS,
  internal,
  invalidArgument,
  notFound,
  untrusted,
  type DigestSource,
  type FetchOptions,
  type ImageInfo,
  type ImageManifest,
  type ImageRef,
  type PullPolicy,
  type ProgressSink,
} from '@rkt/api';
import { ExtensionHostToken, RuntimeContext } from './engine.js';
import type { ExtensionHost } from './extension-host.js';
import { authHeadersFor } from './rkt-config.js';
import { hostLabels, parseAppcName, parseImageRef } from './image-ref.js';

export interface FetchImageOptions {
  pullPolicy: PullPolicy;
  signaturePath?: string;
  /** Also fetch dependencies (default true). */
  withDependencies?: boolean;
  progress?: ProgressSink;
  log(message: string): void;
  debug(message: string): void;
}

/** Checks a detached signature while the image streams, then against the keys for its name. */
export interface SignatureCheck {
  /** node:crypto hash algorithms the signature needs over the signed bytes. */
  readonly hashAlgorithms: readonly string[];
  update(chunk: Uint8Array): void;
  /**
   * Throws an `untrusted` error naming the image and the reason. Returns the signer. With
   * `hashes` (one per algorithm in `hashAlgorithms`, computed by someone else over exactly the
   * signed bytes), what `update` saw is ignored.
   */
  verify(imageName: string, hashes?: Record<string, DigestSource>): Promise<{ fingerprint: string; identities: string[] }>;
}

export type SignatureCheckFactory = (signature: Uint8Array) => Promise<SignatureCheck>;

const BUILTIN_SCHEMES = new Set(['file', 'http', 'https']);

@injectable()
export class ImageService {
  private signatureChecks: SignatureCheckFactory | undefined;

  constructor(
    @inject(RuntimeContext) private readonly ctx: RuntimeContext,
    @inject(ExtensionHostToken) private readonly host: ExtensionHost,
  ) {}

  /** Plug in signature verification (the keystore); without it, only `--insecure-options=image` fetches work. */
  useSignatureChecks(factory: SignatureCheckFactory): void {
    this.signatureChecks = factory;
  }

  async store(): Promise<Store> {
    return this.host.activateDefault(Store);
  }

  /** URL schemes served by installed fetcher plugins. */
  pluginSchemes(): Set<string> {
    const out = new Set<string>();
    for (const r of this.host.candidates(POINT_URIS.fetcher))
      for (const s of r.decl.match?.schemes ?? []) if (!BUILTIN_SCHEMES.has(s)) out.add(s.toLowerCase());
    return out;
  }

  parse(raw: string): ImageRef {
    return parseImageRef(raw, this.pluginSchemes());
  }

  /** Fetch (or find, per the pull policy) one image argument; returns the stored image. */
  async fetch(raw: string, opts: FetchImageOptions): Promise<ImageInfo> {
    const ref = this.parse(raw);
    const info = await this.fetchRef(ref, opts);
    if (opts.withDependencies !== false) await this.fetchDependencies(info.id, opts, new Set([info.id]));
    return info;
  }

  private async fetchRef(ref: ImageRef, opts: FetchImageOptions): Promise<ImageInfo> {
    const store = await this.store();
    if (ref.kind === 'hash') {
      const id = await store.images.resolveId(ref.id);
      return (await store.images.getInfo(id))!;
    }
    if (ref.kind === 'name') {
      const labels = { ...hostLabels(), ...ref.labels };
      if (opts.pullPolicy !== 'update') {
        const hit = await store.images.findByName(ref.name, labels);
        if (hit) {
          opts.debug(`using image from local store for image name ${ref.raw}`);
          return hit;
        }
        if (opts.pullPolicy === 'never')
          throw notFound(`unable to fetch image from image name ${ref.raw}: either image was not found in the store or store was disabled and fetching from remote yielded nothing or it is disabled`);
      }
      return this.download({ ...ref, labels }, opts, store);
    }
    if (ref.kind === 'url') {
      const cached = await store.images.remote(ref.url.href);
      if (opts.pullPolicy !== 'update' && cached) {
        const info = await store.images.getInfo(cached.imageId);
        if (info) {
          opts.debug(`using image from local store for URL ${ref.raw}`);
          return info;
        }
      }
      if (opts.pullPolicy === 'never')
        throw notFound(`unable to fetch image from URL ${ref.raw}: the image is not in the store and --pull-policy=never`);
      return this.download(ref, opts, store, cached);
    }
    return this.download(ref, opts, store);
  }

  private async fetcherFor(ref: ImageRef): Promise<{ id: string; instance: Fetcher }> {
    const scheme = ref.kind === 'url' ? ref.url.protocol.replace(/:$/, '').toLowerCase() : ref.kind === 'path' ? 'file' : undefined;
    const found = await this.host.activateMatching(Fetcher, (d) => {
      const m = d.match ?? {};
      if (m.kinds && !m.kinds.includes(ref.kind)) return false;
      if (scheme && m.schemes) return m.schemes.map((s) => s.toLowerCase()).includes(scheme);
      return Boolean(m.kinds?.includes(ref.kind));
    });
    if (!found)
      throw invalidArgument(
        `no fetcher for ${JSON.stringify(ref.raw)}${scheme ? ` (scheme "${scheme}")` : ''}: see 'rkt plugins' for installed fetchers`,
      );
    return found;
  }

  private async download(
    ref: ImageRef,
    opts: FetchImageOptions,
    store: Store,
    cached?: Awaited<ReturnType<Store['images']['remote']>>,
  ): Promise<ImageInfo> {
    const { id: fetcherId, instance: fetcher } = await this.fetcherFor(ref);
    opts.debug(`fetching ${ref.raw} with the ${fetcherId} fetcher`);
    const insecure = this.ctx.insecure;
    const fetchOptions: FetchOptions = {
      insecure,
      pullPolicy: opts.pullPolicy,
      ...(opts.signaturePath ? { signaturePath: opts.signaturePath } : {}),
      headersFor: (host) => authHeadersFor(this.ctx.rktConfig, host),
      ...(cached ? { cached } : {}),
      tmpDir: store.tmpDir,
      ...(opts.progress ? { progress: opts.progress } : {}),
      debug: opts.debug,
    };
    const result = await fetcher.fetch(ref, fetchOptions);
    if (result.notModified) {
      if (!cached) throw invalidArgument(`${fetcherId} fetcher answered "not modified" for ${ref.raw}, but nothing is cached`);
      await store.images.setRemote({ ...cached, downloadTime: new Date() });
      opts.debug(`image for ${ref.raw} not modified, using the stored copy`);
      return (await store.images.getInfo(cached.imageId))!;
    }
    if (!result.aci) throw invalidArgument(`${fetcherId} fetcher returned no image for ${ref.raw}`);

    let check: SignatureCheck | undefined;
    if (!insecure.image) {
      if (!result.signature) {
        result.aci.destroy();
        throw untrusted(`no signature found for image ${JSON.stringify(ref.raw)} (use --signature, or --insecure-options=image to skip the check)`);
      }
      if (!this.signatureChecks) {
        result.aci.destroy();
        throw untrusted(`cannot verify the signature of ${JSON.stringify(ref.raw)}: no keystore available`);
      }
      check = await this.signatureChecks(result.signature);
    }

    // The store hashes the bytes for us when it can (one pass over the image); else tee them.
    const storeHashes = check !== undefined && store.images.hashesSource === true;
    const body = check && !storeHashes ? tee(result.aci, (c) => check!.update(c)) : result.aci;
    const expectName = ref.kind === 'name' ? ref : undefined;
    let signer: { fingerprint: string; identities: string[] } | undefined;
    const info = await store.images.importAci(body, {
      ...(result.remote ? { remote: result.remote } : {}),
      ...(storeHashes ? { sourceHashes: check!.hashAlgorithms } : {}),
      beforeCommit: async ({ manifest, sourceHashes }) => {
        if (expectName) checkNameAndLabels(expectName, manifest);
        if (check) {
          if (storeHashes && !sourceHashes) throw internal('the store computed no source hashes for the signature check');
          signer = await check.verify(result.trustName ?? manifest.name, storeHashes ? sourceHashes : undefined);
        }
      },
    });
    opts.progress?.done();
    if (signer) opts.log(`signature verified:\n${signer.identities.map((i) => `  ${i}`).join('\n')}`);
    return info;
  }

  private async fetchDependencies(id: string, opts: FetchImageOptions, seen: Set<string>): Promise<void> {
    const store = await this.store();
    const manifest = await store.images.manifest(id);
    for (const dep of manifest.dependencies ?? []) {
      let depId: string | undefined;
      if (dep.imageID) {
        try {
          depId = await store.images.resolveId(dep.imageID);
        } catch {
          depId = undefined;
        }
      }
      if (!depId) {
        const labels = Object.fromEntries((dep.labels ?? []).map((l) => [l.name, l.value]));
        const raw = [dep.imageName, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)].join(',');
        const info = await this.fetchRef({ kind: 'name', raw, name: dep.imageName, labels }, { ...opts, pullPolicy: opts.pullPolicy === 'update' ? 'new' : opts.pullPolicy });
        if (dep.imageID && info.id !== dep.imageID && !info.id.startsWith(dep.imageID))
          throw invalidArgument(`dependency ${dep.imageName} of ${manifest.name}: fetched image ${info.id} does not match imageID ${dep.imageID}`);
        depId = info.id;
      }
      if (!seen.has(depId)) {
        seen.add(depId);
        await this.fetchDependencies(depId, opts, seen);
      }
    }
  }
}

/** Pass every chunk to `onChunk` on its way through. */
function tee(src: Readable, onChunk: (c: Uint8Array) => void): Readable {
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        onChunk(chunk);
        cb(null, chunk);
      } catch (e) {
        cb(e as Error);
      }
    },
  });
  src.on('error', (e) => t.destroy(e));
  return src.pipe(t);
}

/** A name fetch must yield an image with that name and every requested label. */
export function checkNameAndLabels(want: { raw: string; name: string; labels: Record<string, string> }, m: ImageManifest): void {
  if (m.name !== want.name)
    throw untrusted(`image fetched for ${JSON.stringify(want.raw)} is named ${JSON.stringify(m.name)}, not ${JSON.stringify(want.name)}`);
  const have = Object.fromEntries((m.labels ?? []).map((l) => [l.name, l.value]));
  for (const [k, v] of Object.entries(want.labels))
    if (have[k] !== v)
      throw untrusted(`image fetched for ${JSON.stringify(want.raw)} has label ${k}=${JSON.stringify(have[k] ?? '')}, expected ${JSON.stringify(v)}`);
}

export { parseAppcName };
