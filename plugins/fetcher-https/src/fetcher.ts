/**
 * The https fetcher (`rkt.fetcher.v1`, id `https`): ACIs by http(s) URL, and by appc name through
 * discovery. It downloads; it does not verify. The core checks the signature and the image.
 *
 * Order (security.md §4): the detached signature is fetched before the image body. A 202 on the
 * signature means "not ready yet": the image is downloaded, then the signature is asked for once more.
 */
import { readFile } from 'node:fs/promises';
import type { FetchOptions, FetchResult, Fetcher, ImageRef, RemoteCacheInfo } from '@rkt/api';
import { ErrorCodes, invalidArgument, isRktError, notFound, unavailable, untrusted } from '@rkt/api';
import { downloadAci } from './download.js';
import { abortedError, checkScheme, openUrl, readBody, showUrl, statusError, type TransportOptions } from './http.js';

/** What discovery must produce for the fetcher: the first endpoint's image and signature URLs. */
export interface DiscoveredImage {
  aci: string;
  signature: string;
}

export interface DiscoveryRequest {
  name: string;
  labels: Record<string, string>;
  /** Transport settings discovery must honour (TLS, http, credentials, abort). */
  transport: TransportOptions;
}

export type Discover = (request: DiscoveryRequest) => Promise<DiscoveredImage>;

export interface HttpsFetcherOptions {
  /** Extra CA certificates (PEM) trusted besides the system roots. */
  extraCa?: readonly string[];
  /** A PEM file with extra CA certificates, read at the first fetch. */
  caFile?: string;
  userAgent?: string;
  /** Redirects followed per request (rkt: 10). */
  maxRedirects?: number;
  /** Socket idle timeout (ms). */
  timeoutMs?: number;
  /** Largest image accepted (bytes). */
  maxImageBytes?: number;
  /** Largest signature accepted (bytes). */
  maxSignatureBytes?: number;
  /** appc discovery (default: @rkt/appc discovery through this fetcher's transport). */
  discover?: Discover;
  /** Port appended to discovery hosts (the appc reference's `--port`), for loopback tests. */
  discoveryPort?: number;
  /** Clock, for max-age freshness. */
  now?: () => Date;
}

export const DEFAULT_USER_AGENT = 'rkt-ts/0.1.0';
const GiB = 1024 * 1024 * 1024;

type SignatureAnswer = { kind: 'bytes'; bytes: Uint8Array } | { kind: 'deferred' } | { kind: 'none' };

function signatureUrlFor(aci: URL): URL {
  const u = new URL(aci);
  u.pathname += '.asc';
  return u;
}

function remoteOf(cached: RemoteCacheInfo): NonNullable<FetchResult['remote']> {
  return {
    url: cached.url,
    ...(cached.etag !== undefined ? { etag: cached.etag } : {}),
    ...(cached.maxAge !== undefined ? { maxAge: cached.maxAge } : {}),
  };
}

export class HttpsFetcher implements Fetcher {
  readonly id = 'https';
  readonly #opts: HttpsFetcherOptions;
  #ca: Promise<readonly string[]> | undefined;

  constructor(options: HttpsFetcherOptions = {}) {
    this.#opts = options;
  }

  async fetch(ref: ImageRef, options: FetchOptions): Promise<FetchResult> {
    if (options.signal?.aborted) throw abortedError(ref.raw, options.signal.reason);
    switch (ref.kind) {
      case 'url':
        return this.#fetchUrl(ref.url, undefined, undefined, options);
      case 'name':
        return this.#fetchName(ref.name, ref.labels, options);
      default:
        throw invalidArgument(`the https fetcher cannot fetch ${ref.kind} image reference ${JSON.stringify(ref.raw)}`);
    }
  }

  async #transport(options: FetchOptions): Promise<TransportOptions> {
    const extra = [...(this.#opts.extraCa ?? []), ...(await this.#fileCa())];
    const t: TransportOptions = {
      insecureTls: options.insecure.tls,
      allowHttp: options.insecure.http,
      headersFor: (host) => options.headersFor(host),
      extraCa: extra,
      userAgent: this.#opts.userAgent ?? DEFAULT_USER_AGENT,
      maxRedirects: this.#opts.maxRedirects ?? 10,
      timeoutMs: this.#opts.timeoutMs ?? 60_000,
      debug: (m) => options.debug(m),
    };
    if (options.signal) t.signal = options.signal;
    return t;
  }

  #fileCa(): Promise<readonly string[]> {
    const file = this.#opts.caFile;
    if (!file) return Promise.resolve([]);
    this.#ca ??= readFile(file, 'utf8').then(
      (pem) => [pem],
      (err: unknown) => {
        this.#ca = undefined;
        throw invalidArgument(`https fetcher: cannot read caFile ${file}: ${(err as Error).message}`, { cause: err });
      },
    );
    return this.#ca;
  }

  async #fetchName(name: string, labels: Record<string, string>, options: FetchOptions): Promise<FetchResult> {
    if (options.pullPolicy === 'never') {
      throw notFound(`image ${name} is not in the store and the pull policy is "never"`);
    }
    // @rkt/appc is loaded only when a name is fetched.
    const discover =
      this.#opts.discover ??
      (await import('./discover.js')).appcDiscover(
        this.#opts.discoveryPort !== undefined ? { port: this.#opts.discoveryPort } : {},
      );
    const transport = await this.#transport(options);
    options.debug(`searching for app image ${name}`);
    const found = await discover({ name, labels, transport });
    let aci: URL;
    let sig: URL;
    try {
      aci = new URL(found.aci);
      sig = new URL(found.signature);
    } catch {
      throw unavailable(`discovery of ${name} gave an invalid URL: ${found.aci} / ${found.signature}`);
    }
    options.debug(`discovered ${name}: image ${showUrl(aci)}, signature ${showUrl(sig)}`);
    return this.#fetchUrl(aci, sig, name, options);
  }

  async #fetchUrl(aci: URL, sigUrl: URL | undefined, trustName: string | undefined, options: FetchOptions): Promise<FetchResult> {
    checkScheme(aci, options.insecure.http, 'image URL');
    const withTrust = (r: FetchResult): FetchResult => (trustName !== undefined ? { ...r, trustName } : r);

    const cached = options.cached?.url === aci.toString() ? options.cached : undefined;
    if (options.pullPolicy === 'never') {
      if (cached) return withTrust({ notModified: true, signature: null, remote: remoteOf(cached) });
      throw notFound(`image ${showUrl(aci)} is not in the store and the pull policy is "never"`);
    }
    if (cached && options.pullPolicy === 'new') {
      options.debug(`using image from local store for URL ${showUrl(aci)}`);
      return withTrust({ notModified: true, signature: null, remote: remoteOf(cached) });
    }
    if (cached?.maxAge !== undefined && cached.maxAge > 0) {
      const now = (this.#opts.now ?? (() => new Date()))().getTime();
      if (cached.downloadTime.getTime() + cached.maxAge * 1000 > now) {
        options.debug(`image ${showUrl(aci)} is fresh (max-age ${cached.maxAge}s), not fetching`);
        return withTrust({ notModified: true, signature: null, remote: remoteOf(cached) });
      }
    }

    const transport = await this.#transport(options);
    const sigTarget = sigUrl ?? signatureUrlFor(aci);
    let signature: SignatureAnswer;
    if (options.signaturePath !== undefined) {
      signature = { kind: 'bytes', bytes: await this.#readLocalSignature(options.signaturePath) };
    } else {
      signature = await this.#fetchSignature(sigTarget, transport, options);
    }

    options.debug(`remote fetching from URL ${showUrl(aci)}`);
    const dl = await downloadAci(aci, transport, {
      tmpDir: options.tmpDir,
      ...(cached?.etag !== undefined ? { ifNoneMatch: cached.etag } : {}),
      ...(options.progress ? { progress: options.progress } : {}),
      label: 'Downloading ACI',
      maxBytes: this.#opts.maxImageBytes ?? 16 * GiB,
    });
    const remote: NonNullable<FetchResult['remote']> = {
      url: aci.toString(),
      ...(dl.etag !== undefined ? { etag: dl.etag } : {}),
      ...(dl.maxAge !== undefined ? { maxAge: dl.maxAge } : {}),
    };
    if (dl.notModified) {
      options.debug(`image ${showUrl(aci)} not modified (HTTP 304)`);
      return withTrust({
        notModified: true,
        signature: signature.kind === 'bytes' ? signature.bytes : null,
        remote,
      });
    }
    try {
      if (signature.kind === 'deferred') {
        signature = await this.#fetchSignature(sigTarget, transport, options);
        if (signature.kind === 'deferred') {
          throw unavailable(`signature ${showUrl(sigTarget)} is still not available (HTTP 202 twice)`);
        }
      }
    } catch (err) {
      dl.stream.destroy();
      throw err;
    }
    return withTrust({
      aci: dl.stream,
      signature: signature.kind === 'bytes' ? signature.bytes : null,
      remote,
    });
  }

  async #readLocalSignature(path: string): Promise<Uint8Array> {
    try {
      return await readFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw notFound(`signature file ${path} does not exist`, { cause: err });
      throw unavailable(`cannot read signature file ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  async #fetchSignature(url: URL, transport: TransportOptions, options: FetchOptions): Promise<SignatureAnswer> {
    const optional = options.insecure.image;
    try {
      checkScheme(url, options.insecure.http, 'signature URL');
      const { res, url: final } = await openUrl(url, {}, transport);
      const status = res.statusCode ?? 0;
      if (status === 202) {
        res.resume();
        options.debug(`signature ${showUrl(url)} not ready yet (HTTP 202), will retry after the image`);
        return { kind: 'deferred' };
      }
      if (status !== 200) {
        res.resume();
        throw statusError(status, final, 'fetching signature');
      }
      const max = this.#opts.maxSignatureBytes ?? 1024 * 1024;
      options.progress?.start('Downloading signature');
      try {
        const bytes = await readBody(res, final, max, transport.signal);
        options.progress?.advance(bytes.length);
        return { kind: 'bytes', bytes };
      } finally {
        options.progress?.done();
      }
    } catch (err) {
      if (options.signal?.aborted) throw abortedError(url, options.signal.reason);
      if (optional) {
        options.debug(`no signature (${(err as Error).message}); allowed by --insecure-options=image`);
        return { kind: 'none' };
      }
      if (!isRktError(err) || err.code !== ErrorCodes.NOT_FOUND) throw err;
      const why = err.message;
      throw untrusted(
        `cannot fetch the signature of the image: ${why} (use --insecure-options=image to fetch without a signature)`,
        { cause: err },
      );
    }
  }
}
