/**
 * The appc metadata service (appc-spec §7, rkt §8): the public HTTP API under
 * `/<token>/acMetadata/v1`, and the registration API stage0 uses over a root-only unix socket.
 *
 * Public API: the token in the URL path names the pod; an unknown token gets the same 401 for
 * every path under `/<token>/acMetadata/v1` (existing endpoint or not), so nothing tells whether a
 * pod or an app exists. `…/pod/hmac/verify` needs no token (also served at `/acMetadata/v1/…`).
 * Requests are logged with the token replaced by `<token>`.
 *
 * Registration API (unix socket, HTTP): `GET /ping` → the public endpoint; `PUT /pods/<uuid>` with
 * `{podManifest, images: {app: manifest}, ips, hostAddresses}` → `{token, port, addresses}` (a new
 * token each time: re-registering revokes the old one); `DELETE /pods/<uuid>`. `hostAddresses` are
 * the host-side addresses of the pod's contained networks (the CNI bridge's): the service starts
 * listening on them (same port) before answering, so pods reach it without it listening on every
 * interface, and although the bridge only exists once the first pod's network is up.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { MdsStore, UUID_RE } from './store.js';

export const JSON_TYPE = 'application/json';
export const TEXT_TYPE = 'text/plain; charset=us-ascii';
const MAX_BODY = 1 << 20;
const MAX_REGISTRATION_BODY = 8 << 20;

export interface PublicEndpoint {
  port: number;
  addresses: string[];
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(b.length), ...extra });
  res.end(b);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const onData = (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        // Answer at once; the rest is drained (bounded by the server's requestTimeout).
        req.off('data', onData);
        chunks.length = 0;
        req.resume();
        reject(new HttpError(413, 'request body too large'));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Percent-decoding to bytes ('+' is a space), as application/x-www-form-urlencoded. */
function formDecode(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) bytes.push(0x20);
    else if (c === 0x25) {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new HttpError(400, 'malformed form encoding');
      bytes.push(parseInt(h, 16));
      i += 2;
    } else if (c < 0x80) bytes.push(c);
    else bytes.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Buffer.from(bytes);
}

/** Form fields from the query string and (for POST) a urlencoded body; the first value wins. */
export function parseForm(query: string, body?: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const part of [body ? body.toString('latin1') : '', query]) {
    for (const kv of part.split('&')) {
      if (!kv) continue;
      const eq = kv.indexOf('=');
      const k = formDecode(eq < 0 ? kv : kv.slice(0, eq)).toString('utf8');
      if (!out.has(k)) out.set(k, formDecode(eq < 0 ? '' : kv.slice(eq + 1)));
    }
  }
  return out;
}

/** 16 bytes from a UUID with or without hyphens, or undefined. */
export function uuidBytes(s: string): Buffer | undefined {
  const hex = s.replace(/-/g, '');
  return /^[0-9a-fA-F]{32}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}

export function hmacSign(key: Buffer, uuid: Buffer, content: Buffer): Buffer {
  return createHmac('sha512', key).update(uuid).update(content).digest();
}

interface Annotation {
  name: string;
  value: string;
}

function annotationList(v: unknown): Annotation[] {
  if (!Array.isArray(v)) return [];
  return v.filter((a): a is Annotation => typeof a?.name === 'string' && typeof a?.value === 'string').map((a) => ({ name: a.name, value: a.value }));
}

/** Image annotations overridden in place by the pod app's, pod-only ones appended (appc §7.2). */
export function mergeAnnotations(image: Annotation[], pod: Annotation[]): Annotation[] {
  const out = image.map((a) => ({ ...a }));
  for (const p of pod) {
    const hit = out.find((a) => a.name === p.name);
    if (hit) hit.value = p.value;
    else out.push({ ...p });
  }
  return out;
}

interface PodApp {
  name: string;
  image?: { id?: string };
  annotations?: unknown;
}
interface ParsedPod {
  annotations?: unknown;
  apps: PodApp[];
}

const UNAUTHORIZED = 'unauthorized\n';
const TOKEN_PATH = /^\/([^/]+)\/acMetadata\/v1(\/.*)?$/;

export interface MdsLogger {
  info(m: string): void;
  warn(m: string): void;
}

/** The public request handler. */
export function publicHandler(store: MdsStore, log: MdsLogger): (req: IncomingMessage, res: ServerResponse) => void {
  const parsed = new Map<string, { manifest: string; pod: ParsedPod }>();
  const podOf = (r: { uuid: string; podManifest: string }): ParsedPod => {
    const hit = parsed.get(r.uuid);
    if (hit && hit.manifest === r.podManifest) return hit.pod;
    const pod = JSON.parse(r.podManifest) as ParsedPod;
    parsed.set(r.uuid, { manifest: r.podManifest, pod });
    return pod;
  };

  const verify = async (req: IncomingMessage, res: ServerResponse, query: string): Promise<void> => {
    if (req.method !== 'POST' && req.method !== 'GET') throw new HttpError(405, 'method not allowed');
    const form = parseForm(query, req.method === 'POST' ? await readBody(req, MAX_BODY) : undefined);
    const content = form.get('content');
    if (!content?.length) throw new HttpError(400, 'missing or empty "content"');
    const uuid = uuidBytes(form.get('uuid')?.toString('utf8') ?? '');
    if (!uuid) throw new HttpError(400, 'malformed "uuid"');
    const sigText = form.get('signature')?.toString('latin1') ?? '';
    if (!sigText || sigText.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(sigText)) throw new HttpError(400, 'malformed "signature"');
    const sig = Buffer.from(sigText, 'base64');
    const want = hmacSign(store.key, uuid, content);
    const ok = sig.length === want.length && timingSafeEqual(sig, want);
    send(res, ok ? 200 : 403, TEXT_TYPE, ok ? '' : 'signature does not match\n');
  };

  const route = async (req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void> => {
    if (path === '/acMetadata/v1/pod/hmac/verify') return verify(req, res, query);
    const m = TOKEN_PATH.exec(path);
    if (!m) throw new HttpError(404, 'not found');
    const rest = m[2] ?? '';
    if (rest === '/pod/hmac/verify') return verify(req, res, query);
    let token: string;
    try {
      token = decodeURIComponent(m[1]!);
    } catch {
      token = '';
    }
    const reg = token ? store.byToken(token) : undefined;
    if (!reg) {
      send(res, 401, TEXT_TYPE, UNAUTHORIZED);
      return;
    }
    let sub: string;
    try {
      sub = decodeURIComponent(rest.slice(1));
    } catch {
      throw new HttpError(400, 'malformed path');
    }
    const get = () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
    };
    const pod = podOf(reg);
    if (sub === 'pod/hmac/sign') {
      if (req.method !== 'POST') throw new HttpError(405, 'method not allowed');
      const content = parseForm(query, await readBody(req, MAX_BODY)).get('content');
      if (!content?.length) throw new HttpError(400, 'missing or empty "content"');
      send(res, 200, TEXT_TYPE, hmacSign(store.key, uuidBytes(reg.uuid)!, content).toString('base64'));
      return;
    }
    if (sub === 'pod/annotations') return get(), send(res, 200, JSON_TYPE, JSON.stringify(annotationList(pod.annotations)));
    if (sub.startsWith('pod/annotations/')) {
      get();
      const a = annotationList(pod.annotations).find((x) => x.name === sub.slice('pod/annotations/'.length));
      if (!a) throw new HttpError(404, 'no such annotation');
      return send(res, 200, TEXT_TYPE, a.value);
    }
    if (sub === 'pod/manifest') return get(), send(res, 200, JSON_TYPE, reg.podManifest);
    if (sub === 'pod/uuid') return get(), send(res, 200, TEXT_TYPE, reg.uuid);
    if (sub.startsWith('apps/')) {
      // App names may contain '/': match against the pod's apps, never by splitting.
      for (const app of pod.apps) {
        const prefix = `apps/${app.name}/`;
        if (!sub.startsWith(prefix)) continue;
        const what = sub.slice(prefix.length);
        const imageText = reg.images[app.name];
        if (what === 'image/manifest' && imageText !== undefined) return get(), send(res, 200, JSON_TYPE, imageText);
        if (what === 'image/id' && typeof app.image?.id === 'string') return get(), send(res, 200, TEXT_TYPE, app.image.id);
        if (what === 'annotations' || what.startsWith('annotations/')) {
          get();
          let image: Annotation[] = [];
          try {
            image = annotationList((JSON.parse(imageText ?? '{}') as { annotations?: unknown }).annotations);
          } catch {
            image = [];
          }
          const merged = mergeAnnotations(image, annotationList(app.annotations));
          if (what === 'annotations') return send(res, 200, JSON_TYPE, JSON.stringify(merged));
          const a = merged.find((x) => x.name === what.slice('annotations/'.length));
          if (a) return send(res, 200, TEXT_TYPE, a.value);
          throw new HttpError(404, 'no such annotation');
        }
      }
    }
    throw new HttpError(404, 'not found');
  };

  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    res.on('finish', () => log.info(`${req.method} ${redactToken(path)} - ${res.statusCode}`));
    route(req, res, path, query).catch((e: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (e instanceof HttpError) send(res, e.status, TEXT_TYPE, e.message + '\n', e.status === 405 ? { Connection: 'close' } : {});
      else {
        log.warn(`internal error: ${(e as Error).message}`);
        send(res, 500, TEXT_TYPE, 'internal error\n');
      }
    });
  };
}

/** The request path as logged: the first segment (the token) replaced. */
export function redactToken(path: string): string {
  return path.replace(/^\/(?!acMetadata(?:\/|$))[^/]+/, '/<token>');
}

export interface RegistrationRequest {
  podManifest: string;
  images: Record<string, string>;
  ips?: string[];
  hostAddresses?: string[];
}

/** The registration handler (served on the root-only unix socket only). */
export function registrationHandler(
  store: MdsStore,
  endpoint: () => PublicEndpoint,
  log: MdsLogger,
  listenOn: (address: string) => Promise<void> = async () => undefined,
): (req: IncomingMessage, res: ServerResponse) => void {
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/ping' && req.method === 'GET') return send(res, 200, JSON_TYPE, JSON.stringify(endpoint()));
    const m = /^\/pods\/([^/]+)$/.exec(path);
    if (!m) throw new HttpError(404, 'not found');
    const uuid = m[1]!;
    if (!UUID_RE.test(uuid)) throw new HttpError(400, `invalid pod UUID ${JSON.stringify(uuid)}`);
    if (req.method === 'DELETE') {
      const had = store.unregister(uuid);
      if (had) log.info(`unregistered pod ${uuid}`);
      return send(res, had ? 204 : 404, TEXT_TYPE, '');
    }
    if (req.method !== 'PUT') throw new HttpError(405, 'method not allowed');
    let body: RegistrationRequest;
    try {
      body = JSON.parse((await readBody(req, MAX_REGISTRATION_BODY)).toString('utf8')) as RegistrationRequest;
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw new HttpError(400, 'registration body is not JSON');
    }
    const reg = validateRegistration(uuid, body);
    for (const a of reg.hostAddresses) {
      try {
        await listenOn(a);
      } catch (e) {
        throw new HttpError(503, `cannot listen on the pod network's host-side address ${a}: ${(e as Error).message}`);
      }
    }
    const token = store.register(reg);
    log.info(`registered pod ${uuid} (${Object.keys(reg.images).length} app(s))`);
    send(res, 201, JSON_TYPE, JSON.stringify({ token, ...endpoint() }));
  };
  return (req, res) => {
    route(req, res).catch((e: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (e instanceof HttpError) send(res, e.status, TEXT_TYPE, e.message + '\n');
      else send(res, 500, TEXT_TYPE, `internal error: ${(e as Error).message}\n`);
    });
  };
}

function validateRegistration(uuid: string, body: RegistrationRequest): { uuid: string; podManifest: string; images: Record<string, string>; ips: string[]; hostAddresses: string[] } {
  if (typeof body?.podManifest !== 'string') throw new HttpError(400, '"podManifest": expected the pod manifest as a string');
  let pod: ParsedPod & { acKind?: string };
  try {
    pod = JSON.parse(body.podManifest) as ParsedPod & { acKind?: string };
  } catch {
    throw new HttpError(400, '"podManifest": not JSON');
  }
  if (pod?.acKind !== 'PodManifest' || !Array.isArray(pod.apps)) throw new HttpError(400, '"podManifest": not a pod manifest');
  const images: Record<string, string> = {};
  for (const app of pod.apps) {
    const text = body.images?.[app.name];
    if (typeof text !== 'string') throw new HttpError(400, `"images": missing the image manifest of app ${JSON.stringify(app.name)}`);
    try {
      JSON.parse(text);
    } catch {
      throw new HttpError(400, `"images": the image manifest of app ${JSON.stringify(app.name)} is not JSON`);
    }
    images[app.name] = text;
  }
  const ips = body.ips ?? [];
  if (!Array.isArray(ips) || ips.some((ip) => typeof ip !== 'string' || !isIP(ip))) throw new HttpError(400, '"ips": expected a list of IP addresses');
  const hostAddresses = body.hostAddresses ?? [];
  if (!Array.isArray(hostAddresses) || hostAddresses.some((a) => typeof a !== 'string' || !isIP(a) || a === '0.0.0.0' || a === '::'))
    throw new HttpError(400, '"hostAddresses": expected a list of specific IP addresses');
  return { uuid, podManifest: body.podManifest, images, ips, hostAddresses };
}

export function configureServer(s: Server): Server {
  s.requestTimeout = 30_000;
  s.headersTimeout = 10_000;
  s.keepAliveTimeout = 5_000;
  s.maxConnections = 4096;
  return s;
}

export function makePublicServer(store: MdsStore, log: MdsLogger): Server {
  return configureServer(createServer(publicHandler(store, log)));
}

export function makeRegistrationServer(store: MdsStore, endpoint: () => PublicEndpoint, log: MdsLogger): Server {
  return configureServer(createServer(registrationHandler(store, endpoint, log)));
}
