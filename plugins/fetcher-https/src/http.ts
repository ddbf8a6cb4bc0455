/**
 * One HTTP(S) GET with rkt's transport rules:
 *  - credentials (`headersFor(host)`) only over https, and never after a redirect left the first host;
 *  - redirects followed by hand (at most `maxRedirects`), an https→http redirect refused unless
 *    plain http is allowed, and only http/https targets;
 *  - TLS verified against the system roots plus `extraCa`, or not at all with insecure `tls`;
 *  - an idle timeout, abort through `signal`, errors as RktErrors naming the URL.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { permissionDenied, notFound, RktError, unavailable, untrusted, ErrorCodes } from '@rkt/api';

export interface TransportOptions {
  /** Accept any certificate (`--insecure-options=tls`). */
  insecureTls: boolean;
  /** Allow plain http URLs and https→http redirects (`--insecure-options=http`). */
  allowHttp: boolean;
  /** Authorization headers for a `host[:port]` (auth.d); sent only over https to the first host. */
  headersFor?: (host: string) => Record<string, string>;
  /** Extra CA certificates (PEM) trusted besides the system roots. */
  extraCa?: readonly string[];
  userAgent: string;
  signal?: AbortSignal;
  maxRedirects: number;
  /** Socket idle timeout in milliseconds. */
  timeoutMs: number;
  debug?: (message: string) => void;
}

export interface OpenedResponse {
  res: http.IncomingMessage;
  /** The URL that answered (after redirects). */
  url: URL;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

const CERT_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

/** A URL for messages: no credentials, no query beyond what identifies it. */
export function showUrl(u: URL | string): string {
  let url: URL;
  try {
    url = new URL(String(u));
  } catch {
    return String(u);
  }
  url.username = '';
  url.password = '';
  return url.toString();
}

export function abortedError(url: URL | string, reason: unknown): RktError {
  return new RktError(ErrorCodes.UNAVAILABLE, `fetching ${showUrl(url)} aborted`, {
    cause: reason,
    details: { aborted: true },
  });
}

/** Map a transport failure (request or response stream) to an RktError naming the URL. */
export function transportError(err: unknown, url: URL, signal?: AbortSignal): RktError {
  if (typeof err === 'object' && err !== null && (err as { rktError?: unknown }).rktError === true) {
    return err as RktError;
  }
  if (signal?.aborted) return abortedError(url, signal.reason);
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && CERT_ERRORS.has(e.code)) {
    return untrusted(
      `TLS certificate of ${url.host} not trusted fetching ${showUrl(url)}: ${e.message} ` +
        '(use --insecure-options=tls to skip certificate verification)',
      { cause: err },
    );
  }
  return unavailable(`fetching ${showUrl(url)} failed: ${e?.message ?? String(err)}`, { cause: err });
}

/** Check that fetching this URL is allowed at all. */
export function checkScheme(url: URL, allowHttp: boolean, what = 'URL'): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:') {
    if (allowHttp) return;
    throw untrusted(
      `refusing to fetch ${what} ${showUrl(url)} over plain http (use --insecure-options=http to allow it)`,
    );
  }
  throw untrusted(`unsupported scheme ${url.protocol.replace(/:$/, '')} in ${what} ${showUrl(url)}`);
}

/** Error for a final non-success status. */
export function statusError(status: number, url: URL, what: string): RktError {
  const msg = `${what} ${showUrl(url)}: HTTP ${status} ${http.STATUS_CODES[status] ?? ''}`.trimEnd();
  if (status === 401 || status === 403)
    return permissionDenied(`${msg} (are credentials for ${url.host} configured in auth.d?)`);
  if (status === 404 || status === 410) return notFound(msg);
  return unavailable(msg);
}

function requestOnce(url: URL, headers: Record<string, string>, opts: TransportOptions): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const common: http.RequestOptions = {
      method: 'GET',
      headers,
      agent: false,
      signal: opts.signal,
    };
    let req: http.ClientRequest;
    if (url.protocol === 'https:') {
      const tlsOpts: https.RequestOptions = { ...common, rejectUnauthorized: !opts.insecureTls };
      if (!opts.insecureTls && opts.extraCa && opts.extraCa.length > 0) {
        tlsOpts.ca = [...tls.rootCertificates, ...opts.extraCa];
      }
      req = https.request(url, tlsOpts);
    } else {
      req = http.request(url, common);
    }
    req.setTimeout(opts.timeoutMs, () => {
      req.destroy(unavailable(`fetching ${showUrl(url)} timed out after ${opts.timeoutMs} ms without data`));
    });
    req.on('response', (res) => {
      // The idle timeout keeps applying while the body is read.
      resolve(res);
    });
    req.on('error', (err) => reject(transportError(err, url, opts.signal)));
    req.end();
  });
}

/**
 * GET `url`, following redirects under the rules above. Resolves with the final response, whose
 * status may be anything but a redirect; the caller reads (or discards) the body.
 */
export async function openUrl(
  start: URL,
  extraHeaders: Record<string, string>,
  opts: TransportOptions,
): Promise<OpenedResponse> {
  checkScheme(start, opts.allowHttp);
  const firstHost = start.host;
  let leftFirstHost = false;
  let url = start;
  for (let hop = 0; ; hop++) {
    if (opts.signal?.aborted) throw abortedError(url, opts.signal.reason);
    const headers: Record<string, string> = { 'User-Agent': opts.userAgent, ...extraHeaders };
    if (url.host !== firstHost) leftFirstHost = true;
    if (url.protocol === 'https:' && !leftFirstHost && opts.headersFor) {
      Object.assign(headers, opts.headersFor(url.host));
    }
    const res = await requestOnce(url, headers, opts);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (!REDIRECTS.has(status) || location === undefined) return { res, url };
    res.resume();
    if (hop >= opts.maxRedirects) {
      throw unavailable(`fetching ${showUrl(start)}: more than ${opts.maxRedirects} redirects`);
    }
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw unavailable(`fetching ${showUrl(url)}: invalid redirect location ${JSON.stringify(location)}`);
    }
    if (url.protocol === 'https:' && next.protocol === 'http:' && !opts.allowHttp) {
      throw untrusted(
        `refusing redirect from ${showUrl(url)} to plain http ${showUrl(next)} ` +
          '(use --insecure-options=http to allow it)',
      );
    }
    checkScheme(next, opts.allowHttp, 'redirect target');
    opts.debug?.(`redirected from ${showUrl(url)} to ${showUrl(next)}`);
    url = next;
  }
}

/** Read a whole (small) body, refusing more than `maxBytes` and anything short of Content-Length. */
export async function readBody(res: http.IncomingMessage, url: URL, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
  const expected = contentLength(res);
  if (expected !== undefined && expected > maxBytes) {
    res.destroy();
    throw unavailable(`${showUrl(url)}: body of ${expected} bytes exceeds the limit of ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > maxBytes) {
        res.destroy();
        throw unavailable(`${showUrl(url)}: body exceeds the limit of ${maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    throw transportError(err, url, signal);
  }
  if (!res.complete || (expected !== undefined && n !== expected)) {
    throw unavailable(`${showUrl(url)}: body truncated (got ${n} of ${expected ?? 'unknown'} bytes)`);
  }
  return Buffer.concat(chunks);
}

export function contentLength(res: http.IncomingMessage): number | undefined {
  const v = res.headers['content-length'];
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/** `Cache-Control` max-age in seconds; 0 for no-cache/no-store; undefined when absent. */
export function parseMaxAge(header: string | undefined): number | undefined {
  if (!header) return undefined;
  let maxAge: number | undefined;
  for (const part of header.split(',')) {
    const d = part.trim().toLowerCase();
    if (d === 'no-cache' || d === 'no-store') return 0;
    const m = /^max-age\s*=\s*"?(\d+)"?$/.exec(d);
    if (m) maxAge = Number(m[1]);
  }
  return maxAge;
}
