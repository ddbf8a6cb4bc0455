/**
 * The HTTP GET used by discovery (and reusable by the https fetcher and `actool discover`):
 * an injectable interface plus a default implementation over node:http/node:https.
 */
import type * as http from 'node:http';
import type { Readable } from 'node:stream';
import { invalidArgument, unavailable } from '@rkt/api';

export interface HttpGetOptions {
  /** Extra request headers for this request (merged over the per-host ones). */
  headers?: Record<string, string>;
  /** Skip TLS certificate verification. */
  insecureTls?: boolean;
  /** Allow plain http: URLs, including an https → http redirect. */
  allowHttp?: boolean;
  /** Per-request timeout (connect and idle), milliseconds. */
  timeoutMs?: number;
  maxRedirects?: number;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  /** The URL finally answered, after redirects. */
  url: string;
  headers: http.IncomingHttpHeaders;
  /** The body as a stream; consume it or call `body.destroy()`. */
  body: Readable;
}

/** GET a URL. Implementations follow redirects; non-2xx statuses are returned, not thrown. */
export interface HttpGetter {
  get(url: string, options?: HttpGetOptions): Promise<HttpResponse>;
}

export interface NodeHttpGetterOptions {
  /** Default for `insecureTls`. */
  insecureTls?: boolean;
  /** Extra CA certificates (PEM) to trust, added to Node's default set. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Headers to send to a host (`host` or `host:port`, as in the URL), e.g. authentication. */
  hostHeaders?: Record<string, Record<string, string>>;
  /** Default timeout in milliseconds (20 s like the reference's dial timeout). */
  timeoutMs?: number;
  /** Default redirect limit (10). */
  maxRedirects?: number;
  userAgent?: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The default getter: node:https / node:http, redirects followed, https → http refused unless allowed. */
export class NodeHttpGetter implements HttpGetter {
  constructor(private readonly defaults: NodeHttpGetterOptions = {}) {}

  async get(url: string, options: HttpGetOptions = {}): Promise<HttpResponse> {
    const max = options.maxRedirects ?? this.defaults.maxRedirects ?? 10;
    let current = new URL(url);
    for (let hop = 0; ; hop++) {
      if (current.protocol !== 'https:' && current.protocol !== 'http:')
        throw invalidArgument(`unsupported URL scheme ${JSON.stringify(current.protocol)} in ${current.href}`, { details: { url: current.href } });
      if (current.protocol === 'http:' && !options.allowHttp && hop === 0)
        throw invalidArgument(`refusing plain http URL ${current.href} (insecure http not allowed)`, { details: { url: current.href } });
      const res = await this.once(current, options);
      const loc = res.headers.location;
      if (!REDIRECTS.has(res.status) || loc === undefined) return res;
      res.body.resume();
      if (hop >= max) throw unavailable(`stopped after ${max} redirects at ${current.href}`, { details: { url: current.href } });
      const next = new URL(loc, current);
      if (current.protocol === 'https:' && next.protocol === 'http:' && !options.allowHttp)
        throw unavailable(`refusing redirect from ${current.href} to insecure ${next.href}`, { details: { url: next.href } });
      current = next;
    }
  }

  private async once(u: URL, options: HttpGetOptions): Promise<HttpResponse> {
    // Loaded on first use: importing this library (e.g. for manifests, in every `rkt run`) must
    // not pay for node:http/https/tls.
    const [http, https, tls] = await Promise.all([import('node:http'), import('node:https'), import('node:tls')]);
    const timeout = options.timeoutMs ?? this.defaults.timeoutMs ?? 20_000;
    const headers: Record<string, string> = {
      'user-agent': this.defaults.userAgent ?? 'rkt-ts (appc discovery)',
      ...(this.defaults.hostHeaders?.[u.host] ?? {}),
      ...(options.headers ?? {}),
    };
    const insecure = options.insecureTls ?? this.defaults.insecureTls ?? false;
    return new Promise<HttpResponse>((resolve, reject) => {
      const common = { method: 'GET', headers, timeout, signal: options.signal };
      const onRes = (res: http.IncomingMessage) => {
        res.setTimeout(timeout, () => res.destroy(unavailable(`timed out reading ${u.href}`)));
        resolve({ status: res.statusCode ?? 0, url: u.href, headers: res.headers, body: res });
      };
      const req =
        u.protocol === 'https:'
          ? https.request(u, { ...common, rejectUnauthorized: !insecure, ...(this.defaults.ca ? { ca: withDefaultCas(tls.rootCertificates, this.defaults.ca) } : {}) }, onRes)
          : http.request(u, common, onRes);
      req.on('timeout', () => req.destroy(unavailable(`timed out after ${timeout} ms requesting ${u.href}`)));
      req.on('error', (e) => reject(e));
      req.end();
    });
  }
}

function withDefaultCas(rootCertificates: readonly string[], extra: string | Buffer | Array<string | Buffer>): Array<string | Buffer> {
  // Supplying `ca` replaces Node's bundle; keep the bundle and add ours.
  return [...rootCertificates, ...(Array.isArray(extra) ? extra : [extra])];
}

/** Read a whole body, refusing more than `maxBytes`. */
export async function readBody(body: Readable, maxBytes = 8 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += b.length;
    if (total > maxBytes) {
      body.destroy();
      throw unavailable(`response body larger than ${maxBytes} bytes`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}
