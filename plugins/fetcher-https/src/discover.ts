/**
 * Adapter from the fetcher's `Discover` to appc discovery in @rkt/appc. Discovery pages are
 * fetched through this plugin's transport (`openUrl`), so the same rules hold as for images:
 * credentials only over https and only to the first host, no https→http redirect unless
 * plain http is allowed, TLS per `--insecure-options=tls`, abort through the signal.
 */
import { ErrorCodes, isRktError, notFound } from '@rkt/api';
import { discoverAciEndpoints, type HttpGetOptions, type HttpGetter, type HttpResponse } from '@rkt/appc';
import type { Discover, DiscoveryRequest } from './fetcher.js';
import { abortedError, openUrl, type TransportOptions } from './http.js';

/** appc `arch` label values for Node's `process.arch` (rkt's defaults). */
const APPC_ARCH: Record<string, string> = {
  x64: 'amd64',
  ia32: 'i386',
  arm64: 'aarch64',
  arm: 'armv7l',
  ppc64: 'ppc64le',
  s390x: 's390x',
};

/** Fill the `os` and `arch` labels with the host's values when absent (rkt §4.4). */
export function withDefaultLabels(labels: Record<string, string>): Record<string, string> {
  return {
    ...labels,
    os: labels.os ?? 'linux',
    arch: labels.arch ?? APPC_ARCH[process.arch] ?? process.arch,
  };
}

/** An appc HttpGetter over this plugin's transport. */
export class TransportGetter implements HttpGetter {
  constructor(private readonly transport: TransportOptions) {}

  async get(url: string, options: HttpGetOptions = {}): Promise<HttpResponse> {
    // Per-request headers from discovery are not used: credentials come from `headersFor`,
    // which openUrl applies only where that is safe.
    const t: TransportOptions = {
      ...this.transport,
      allowHttp: this.transport.allowHttp,
      insecureTls: this.transport.insecureTls || options.insecureTls === true,
    };
    if (options.timeoutMs !== undefined) t.timeoutMs = options.timeoutMs;
    const { res, url: final } = await openUrl(new URL(url), { Accept: 'text/html' }, t);
    return { status: res.statusCode ?? 0, url: final.toString(), headers: res.headers, body: res };
  }
}

export interface AppcDiscoverOptions {
  /** Port appended to discovery hosts (the reference's `--port`; for tests on loopback). */
  port?: number;
}

/** Discovery through @rkt/appc: first prefix with endpoints, first endpoint of it. */
export function appcDiscover(options: AppcDiscoverOptions = {}): Discover {
  return async ({ name, labels, transport }: DiscoveryRequest) => {
    const app = { name, labels: withDefaultLabels(labels) };
    try {
      const { endpoints } = await discoverAciEndpoints(app, {
        getter: new TransportGetter(transport),
        insecureTls: transport.insecureTls,
        insecureHttp: transport.allowHttp,
        timeoutMs: transport.timeoutMs,
        ...(options.port !== undefined ? { port: options.port } : {}),
        ...(transport.signal ? { signal: transport.signal } : {}),
      });
      const first = endpoints[0]!;
      return { aci: first.aci, signature: first.asc };
    } catch (err) {
      if (transport.signal?.aborted) throw abortedError(`discovery of ${name}`, transport.signal.reason);
      if (isRktError(err) && err.code === ErrorCodes.NOT_FOUND) {
        const attempts = (err.details?.attempts ?? []) as Array<{ prefix: string; error: string }>;
        const why = attempts.map((a) => `${a.prefix}: ${a.error}`).join('; ');
        throw notFound(`${err.message}${why ? ` (${why})` : ''}`, { cause: err, ...(err.details ? { details: err.details } : {}) });
      }
      throw err;
    }
  };
}
