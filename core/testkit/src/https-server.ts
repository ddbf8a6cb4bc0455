/**
 * A loopback HTTP(S) server for fetcher, discovery and trust tests.
 *
 * Routes are declarative (`route(path, {...})`): static bodies, ACIs with their `.asc`, appc
 * discovery pages, basic/bearer-protected paths, ETag/If-None-Match, Cache-Control max-age,
 * byte ranges, and deliberate misbehaviour (truncated bodies, stalls, bad Content-Range,
 * corrupted bytes, redirects anywhere). Every request is logged for assertions.
 *
 * The server only ever binds 127.0.0.1 on a random port. The HTTPS variant uses a per-run test
 * CA (see test-ca.ts); clients trust it through `caPem` (explicit `ca`) or `NODE_EXTRA_CA_CERTS=caPath`.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createTestCa, type TestCa, type TestCertificate } from './test-ca.js';

export type RouteAuth =
  | { type: 'basic'; user: string; password: string }
  | { type: 'bearer'; token: string };

export interface RouteContext {
  /** How many times this route has been requested, this request included. */
  hits: number;
  server: TestServer;
}

export interface Route {
  /** Status code; 200 by default (302 with `redirect`). */
  status?: number;
  body?: string | Uint8Array;
  contentType?: string;
  headers?: Record<string, string>;
  /** ETag to send (quoted if not already); `true` derives one from the body. Enables If-None-Match → 304. */
  etag?: string | true;
  /** Sends `Cache-Control: max-age=N`. */
  maxAge?: number;
  /** Sends this `Cache-Control` verbatim (overrides maxAge). */
  cacheControl?: string;
  /** Honour `Range: bytes=…` with 206 and send `Accept-Ranges: bytes` (default true). */
  ranges?: boolean;
  /** Require this Authorization; otherwise 401. */
  auth?: RouteAuth;
  /** Send a redirect to this location (absolute or path). */
  redirect?: string;
  /** Send only the first N body bytes (Content-Length still announces the whole) and drop the connection. */
  truncateAt?: number;
  /** Only the first N responses of this route are truncated (default: every one). */
  truncateTimes?: number;
  /** Send the first N body bytes, then stall without ending (until the client goes away or close()). */
  stallAt?: number;
  /** Answer ranges with a Content-Range that does not start where the client asked. */
  badContentRange?: boolean;
  /** Flip one byte in the middle of the body (a wrong-hash body of the right length). */
  corrupt?: boolean;
  /** Omit Content-Length (chunked transfer encoding). */
  chunked?: boolean;
  /** Full control; every other field is ignored. */
  handler?: (req: http.IncomingMessage, res: http.ServerResponse, ctx: RouteContext) => void;
}

export interface RequestRecord {
  method: string;
  /** Path and query as requested (`/a/b?ac-discovery=1`). */
  url: string;
  /** Path without the query. */
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Status sent (filled in when the response finishes; 0 if the connection was dropped first). */
  status: number;
}

export interface DiscoveryPage {
  /** `<meta name="ac-discovery" content="PREFIX TEMPLATE">` tags, in order. */
  discovery?: Array<[prefix: string, template: string]>;
  /** `<meta name="ac-discovery-pubkeys" content="PREFIX URL">` tags, in order. */
  pubkeys?: Array<[prefix: string, url: string]>;
  /** Extra raw HTML to put in <head>. */
  extraHead?: string;
}

export interface AciRouteOptions extends Omit<Route, 'body' | 'handler'> {
  /** Armored signature served at `<path>.asc`; no `.asc` route when absent. */
  signature?: string | Uint8Array;
  /** Route options for the signature (e.g. auth, status 202). */
  signatureRoute?: Omit<Route, 'body'>;
}

export interface TestServerOptions {
  /** HTTPS (default) or plain HTTP. */
  tls?: boolean;
  /** Use this CA (shared between servers) instead of creating one; it is not cleaned up on close. */
  ca?: TestCa;
  /** Serve this certificate instead of the CA's default loopback certificate. */
  certificate?: TestCertificate;
}

export interface TestServer {
  readonly scheme: 'https' | 'http';
  /** Always 127.0.0.1. */
  readonly hostname: string;
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly host: string;
  /** `https://127.0.0.1:<port>` */
  readonly origin: string;
  /** The test CA (HTTPS only). */
  readonly ca: TestCa | undefined;
  /** The CA certificate to trust (HTTPS only). */
  readonly caPem: string | undefined;
  /** Every request received, in order. */
  readonly requests: RequestRecord[];
  url(path: string): string;
  route(path: string, route: Route): TestServer;
  /** An ACI at `path` (and its signature at `path + '.asc'` when given). */
  aci(path: string, data: Uint8Array, options?: AciRouteOptions): TestServer;
  /** An appc discovery page answered at `path?ac-discovery=1`. */
  discovery(path: string, page: DiscoveryPage, route?: Omit<Route, 'body'>): TestServer;
  removeRoute(path: string): TestServer;
  /** Requests whose path (without query) equals `path`, or whose full url does. */
  requestsTo(path: string): RequestRecord[];
  clearLog(): void;
  close(): Promise<void>;
}

/** HTML for an appc discovery page. */
export function discoveryHtml(page: DiscoveryPage): string {
  const esc = (s: string) =>
    s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const metas = [
    ...(page.discovery ?? []).map(([p, t]) => `<meta name="ac-discovery" content="${esc(p)} ${esc(t)}">`),
    ...(page.pubkeys ?? []).map(([p, u]) => `<meta name="ac-discovery-pubkeys" content="${esc(p)} ${esc(u)}">`),
  ];
  return `<!DOCTYPE html>\n<html>\n<head>\n<title>discovery</title>\n${metas.join('\n')}\n${
    page.extraHead ?? ''
  }\n</head>\n<body></body>\n</html>\n`;
}

function quoteEtag(etag: string): string {
  return etag.startsWith('"') || etag.startsWith('W/') ? etag : `"${etag}"`;
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => strip(t) === strip(etag));
}

function authorized(auth: RouteAuth, header: string | undefined): boolean {
  if (header === undefined) return false;
  if (auth.type === 'basic') {
    const expected = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
    return header === expected;
  }
  return header === `Bearer ${auth.token}`;
}

/** Parse a single `bytes=start-[end]` range; undefined for anything else. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

function serveRoute(
  route: Route,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  ctx: RouteContext,
  sockets: Set<Socket>,
): void {
  if (route.handler) {
    route.handler(req, res, ctx);
    return;
  }
  if (route.auth && !authorized(route.auth, req.headers.authorization)) {
    res.writeHead(401, {
      'WWW-Authenticate': route.auth.type === 'basic' ? 'Basic realm="test"' : 'Bearer realm="test"',
      'Content-Type': 'text/plain',
    });
    res.end('unauthorized\n');
    return;
  }
  const headers: Record<string, string | number> = { ...(route.headers ?? {}) };
  if (route.redirect !== undefined) {
    res.writeHead(route.status ?? 302, { ...headers, Location: route.redirect });
    res.end();
    return;
  }
  let body = route.body === undefined ? Buffer.alloc(0) : Buffer.from(route.body);
  if (route.corrupt && body.length > 0) {
    body = Buffer.from(body);
    const i = Math.floor(body.length / 2);
    body[i] = body[i]! ^ 0xff;
  }
  if (route.contentType) headers['Content-Type'] = route.contentType;
  let etag: string | undefined;
  if (route.etag !== undefined) {
    etag =
      route.etag === true
        ? `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`
        : quoteEtag(route.etag);
    headers.ETag = etag;
  }
  if (route.cacheControl !== undefined) headers['Cache-Control'] = route.cacheControl;
  else if (route.maxAge !== undefined) headers['Cache-Control'] = `max-age=${route.maxAge}`;
  const ranges = route.ranges ?? true;
  if (ranges) headers['Accept-Ranges'] = 'bytes';

  const status = route.status ?? 200;
  if (etag !== undefined && status === 200 && etagMatches(req.headers['if-none-match'], etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }

  let code = status;
  let start = 0;
  let end = body.length - 1;
  if (ranges && status === 200 && req.headers.range !== undefined) {
    const ifRange = req.headers['if-range'];
    const rangeApplies = ifRange === undefined || (etag !== undefined && ifRange === etag);
    const r = rangeApplies ? parseRange(req.headers.range, body.length) : undefined;
    if (r === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${body.length}` });
      res.end();
      return;
    }
    if (r) {
      code = 206;
      start = r.start;
      end = r.end;
      const shown = route.badContentRange ? Math.max(0, start - 1) : start;
      headers['Content-Range'] = `bytes ${shown}-${end}/${body.length}`;
    }
  }
  const part = body.subarray(start, end + 1);
  if (!route.chunked) headers['Content-Length'] = part.length;
  res.writeHead(code, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const truncating =
    route.truncateAt !== undefined && (route.truncateTimes === undefined || ctx.hits <= route.truncateTimes);
  if (truncating) {
    const n = Math.max(0, Math.min(route.truncateAt! - start, part.length - 1));
    res.write(part.subarray(0, n), () => {
      // Drop the connection mid-body.
      setTimeout(() => res.socket?.destroy(), 10);
    });
    return;
  }
  if (route.stallAt !== undefined) {
    res.write(part.subarray(0, Math.min(route.stallAt, part.length)));
    const sock = res.socket;
    if (sock) sockets.add(sock);
    return;
  }
  res.end(part);
}

/** Start a loopback server. HTTPS with a fresh test CA unless `{ tls: false }`. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const tls = options.tls ?? true;
  const ownCa = tls && !options.ca;
  const ca = tls ? (options.ca ?? (await createTestCa())) : undefined;
  const routes = new Map<string, Route>();
  const hits = new Map<string, number>();
  const requests: RequestRecord[] = [];
  const sockets = new Set<Socket>();

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = req.url ?? '/';
    const path = url.split('?')[0]!;
    const record: RequestRecord = { method: req.method ?? 'GET', url, path, headers: { ...req.headers }, status: 0 };
    requests.push(record);
    res.on('finish', () => {
      record.status = res.statusCode;
    });
    const key = routes.has(url) ? url : path;
    const route = routes.get(key);
    if (!route) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    const n = (hits.get(key) ?? 0) + 1;
    hits.set(key, n);
    serveRoute(route, req, res, { hits: n, server: api }, sockets);
  };

  let server: http.Server;
  if (tls) {
    const cert = options.certificate ?? ca!.server;
    server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, handler);
  } else {
    server = http.createServer(handler);
  }
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // TLS handshake failures (a client refusing our certificate) are expected in tests.
  server.on('tlsClientError', () => {});

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const scheme = tls ? 'https' : 'http';
  const origin = `${scheme}://127.0.0.1:${port}`;

  const api: TestServer = {
    scheme,
    hostname: '127.0.0.1',
    port,
    host: `127.0.0.1:${port}`,
    origin,
    ca,
    caPem: ca?.caPem,
    requests,
    url: (path) => origin + (path.startsWith('/') ? path : `/${path}`),
    route(path, route) {
      routes.set(path, route);
      hits.delete(path);
      return api;
    },
    aci(path, data, opts = {}) {
      const { signature, signatureRoute, ...rest } = opts;
      api.route(path, { contentType: 'application/octet-stream', ...rest, body: data });
      if (signature !== undefined) {
        api.route(`${path}.asc`, { contentType: 'text/plain', ...(signatureRoute ?? {}), body: signature });
      }
      return api;
    },
    discovery(path, page, route = {}) {
      return api.route(`${path}?ac-discovery=1`, {
        contentType: 'text/html; charset=utf-8',
        ...route,
        body: discoveryHtml(page),
      });
    },
    removeRoute(path) {
      routes.delete(path);
      return api;
    },
    requestsTo: (path) => requests.filter((r) => r.path === path || r.url === path),
    clearLog() {
      requests.length = 0;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      if (ownCa) await ca!.cleanup();
    },
  };
  return api;
}

/** Start a plain-HTTP loopback server. */
export function startHttpServer(): Promise<TestServer> {
  return startTestServer({ tls: false });
}
