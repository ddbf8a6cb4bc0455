/**
 * appc image discovery (spec discovery.md, appc 0.8.11), with the reference library's behaviour:
 * `https://{prefix}?ac-discovery=1` pages, walked from the full name up to its first path
 * segment; `ac-discovery` templates rendered with the name and every label; `ac-discovery-pubkeys`
 * URLs taken as they are.
 */
import { invalidArgument, notFound } from '@rkt/api';
import { acIdentifierError } from '../schema/names.js';
import { makeQueryString, parseQuery } from '../schema/query.js';
import { extractAcMeta, type AcMeta } from './html.js';
import { NodeHttpGetter, readBody, type HttpGetter } from './http.js';

/** An image to discover: a name (AC Identifier) and labels (version, os, arch, …). */
export interface DiscoveryApp {
  name: string;
  labels: Record<string, string>;
}

export interface AciEndpoint {
  /** Rendered template with `{ext}` = `aci`. */
  aci: string;
  /** Rendered template with `{ext}` = `aci.asc`. */
  asc: string;
}

export interface FailedAttempt {
  prefix: string;
  error: Error;
}

export interface DiscoveryOptions {
  /** How to GET pages; defaults to a NodeHttpGetter. */
  getter?: HttpGetter;
  /** Skip TLS verification. */
  insecureTls?: boolean;
  /** Retry over plain http when https fails or answers non-200 (and allow https→http redirects). */
  insecureHttp?: boolean;
  /** Port appended to the host (the reference's --port). */
  port?: number;
  /** Headers per host (`host` or `host:port`), e.g. for authentication. */
  hostHeaders?: Record<string, Record<string, string>>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const DEFAULT_VERSION = 'latest';

/**
 * Parse `name[:version][,label=value…]` (the reference's NewAppFromString). The colon may appear
 * once, right after the name; label names must be AC Identifiers; values are taken literally.
 */
export function parseAppString(s: string): DiscoveryApp {
  const firstComma = s.indexOf(',');
  const firstColon = s.indexOf(':');
  if (firstColon > firstComma && firstComma > -1)
    throw invalidArgument(`malformed app string ${JSON.stringify(s)} - colon may appear only right after the app name`);
  if (s.split(':').length - 1 > 1) throw invalidArgument(`malformed app string ${JSON.stringify(s)} - colon may appear at most once`);
  let query: Map<string, string[]>;
  try {
    query = parseQuery(makeQueryString('name=' + s.replace(':', ',version=')));
  } catch (e) {
    throw invalidArgument(`malformed app string ${JSON.stringify(s)}: ${(e as Error).message}`);
  }
  let name = '';
  const labels: Record<string, string> = {};
  for (const [k, v] of query) {
    if (v.length > 1) throw invalidArgument(`label ${k} with multiple values [${v.map((x) => JSON.stringify(x)).join(' ')}]`);
    if (k === 'name') {
      name = v[0]!;
      continue;
    }
    const e = acIdentifierError(k);
    if (e) throw invalidArgument(`bad label name ${JSON.stringify(k)} in ${JSON.stringify(s)}: ${e}`);
    labels[k] = v[0]!;
  }
  const e = acIdentifierError(name);
  if (e) throw invalidArgument(`bad image name ${JSON.stringify(name)}: ${e}`);
  return { name, labels };
}

/** `name,k=v,…` as the reference prints an app. */
export function appToString(app: DiscoveryApp): string {
  return app.name + Object.entries(app.labels).map(([k, v]) => `,${k}=${v}`).join('');
}

/** The os/arch that `actool discover` adds when missing: Go's GOOS/GOARCH spellings, not appc's. */
export function runtimeGoOsArch(): { os: string; arch: string } {
  const arch: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', mips: 'mips', mipsel: 'mipsle', riscv64: 'riscv64' };
  const os: Record<string, string> = { win32: 'windows', sunos: 'solaris' };
  return { os: os[process.platform] ?? process.platform, arch: arch[process.arch] ?? process.arch };
}

const TEMPLATE_EXPRESSION = /{.*?}/;

/**
 * Plain textual substitution of `{key}` → value for each pair in order; `complete` is false when
 * some `{…}` is left (the reference then skips the template).
 */
export function renderTemplate(tpl: string, vars: ReadonlyArray<readonly [string, string]>): { url: string; complete: boolean } {
  let out = tpl;
  for (const [k, v] of vars) out = out.split(k).join(v);
  return { url: out, complete: !TEMPLATE_EXPRESSION.test(out) };
}

/** `{name}` first, then every label (a label called "name" does not override the image name). */
function templateVars(app: DiscoveryApp): Array<[string, string]> {
  const vars: Array<[string, string]> = [['{name}', app.name]];
  for (const [k, v] of Object.entries(app.labels)) vars.push([`{${k}}`, v]);
  return vars;
}

export interface DiscoveryData {
  aciEndpoints: AciEndpoint[];
  publicKeys: string[];
}

/** What one discovery page offers `app` (prefix test: plain string prefix, as the reference). */
export function discoveryDataFromMeta(meta: readonly AcMeta[], app: DiscoveryApp): DiscoveryData {
  const a: DiscoveryApp = { name: app.name, labels: { ...app.labels } };
  if (!a.labels.version) a.labels.version = DEFAULT_VERSION;
  const vars = templateVars(a);
  const dd: DiscoveryData = { aciEndpoints: [], publicKeys: [] };
  for (const m of meta) {
    if (!a.name.startsWith(m.prefix)) continue;
    if (m.name === 'ac-discovery') {
      const { url } = renderTemplate(m.uri, vars);
      const asc = renderTemplate(url, [['{ext}', 'aci.asc']]);
      if (!asc.complete) continue;
      const aci = renderTemplate(url, [['{ext}', 'aci']]);
      if (!aci.complete) continue;
      dd.aciEndpoints.push({ aci: aci.url, asc: asc.url });
    } else if (m.name === 'ac-discovery-pubkeys') dd.publicKeys.push(m.uri);
  }
  return dd;
}

/** The discovery URL for a prefix, as the reference builds it (`scheme://host[:port]/path?ac-discovery=1`). */
export function discoveryUrl(prefix: string, scheme: 'https' | 'http', port?: number): string {
  const slash = prefix.indexOf('/');
  const host = slash < 0 ? prefix : prefix.slice(0, slash);
  const path = slash < 0 ? '' : prefix.slice(slash);
  return `${scheme}://${host}${port ? `:${port}` : ''}${path}?ac-discovery=1`;
}

/** Fetch one discovery page: https, then (insecureHttp only) http; a non-200 answer is an error. */
export async function fetchDiscoveryPage(prefix: string, options: DiscoveryOptions = {}): Promise<{ url: string; html: string }> {
  const getter = options.getter ?? new NodeHttpGetter({ hostHeaders: options.hostHeaders });
  const fetchOne = async (scheme: 'https' | 'http') => {
    const url = discoveryUrl(prefix, scheme, options.port);
    const host = new URL(url).host;
    const res = await getter.get(url, {
      insecureTls: options.insecureTls,
      allowHttp: options.insecureHttp ?? false,
      headers: options.hostHeaders?.[host],
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    return { url, res };
  };
  let attempt: Awaited<ReturnType<typeof fetchOne>> | undefined;
  let err: unknown;
  try {
    attempt = await fetchOne('https');
  } catch (e) {
    err = e;
  }
  if ((err !== undefined || attempt!.res.status !== 200) && options.insecureHttp) {
    attempt?.res.body.resume();
    attempt = undefined;
    err = undefined;
    try {
      attempt = await fetchOne('http');
    } catch (e) {
      err = e;
    }
  }
  if (err !== undefined) throw err instanceof Error ? err : new Error(String(err));
  const { url, res } = attempt!;
  if (res.status !== 200) {
    res.body.resume();
    throw Object.assign(new Error(`expected a 200 OK got ${res.status}`), { status: res.status, url });
  }
  const body = await readBody(res.body);
  return { url, html: body.toString('utf8') };
}

/** The prefixes tried for a name, longest first: a/b/c, a/b, a. */
export function walkPrefixes(name: string): string[] {
  const parts = name.split('/');
  return parts.map((_, i) => parts.slice(0, parts.length - i).join('/'));
}

type PageCache = Map<string, Promise<DiscoveryData>>;

async function walk(
  app: DiscoveryApp,
  options: DiscoveryOptions,
  cache: PageCache,
  enough: (dd: DiscoveryData) => boolean,
): Promise<{ data: DiscoveryData | undefined; attempts: FailedAttempt[] }> {
  const attempts: FailedAttempt[] = [];
  for (const prefix of walkPrefixes(app.name)) {
    let p = cache.get(prefix);
    if (!p) {
      p = fetchDiscoveryPage(prefix, options).then(({ html }) => discoveryDataFromMeta(extractAcMeta(html), app));
      cache.set(prefix, p);
    }
    try {
      const dd = await p;
      if (enough(dd)) return { data: dd, attempts };
    } catch (e) {
      attempts.push({ prefix, error: e instanceof Error ? e : new Error(String(e)) });
    }
  }
  return { data: undefined, attempts };
}

function failed(what: string, app: DiscoveryApp, attempts: FailedAttempt[]): never {
  throw notFound(`discovery failed: no ${what} found for ${appToString(app)}`, {
    details: { attempts: attempts.map((a) => ({ prefix: a.prefix, error: a.error.message })) },
  });
}

/** ACI endpoints of the first prefix (longest first) that has any. Throws NOT_FOUND if none. */
export async function discoverAciEndpoints(
  app: DiscoveryApp,
  options: DiscoveryOptions = {},
): Promise<{ endpoints: AciEndpoint[]; attempts: FailedAttempt[] }> {
  const r = await walk(app, options, new Map(), (dd) => dd.aciEndpoints.length > 0);
  if (!r.data) failed('ACI endpoints', app, r.attempts);
  return { endpoints: r.data.aciEndpoints, attempts: r.attempts };
}

/** Public key URLs of the first prefix that has any. Throws NOT_FOUND if none. */
export async function discoverPublicKeys(
  app: DiscoveryApp,
  options: DiscoveryOptions = {},
): Promise<{ publicKeys: string[]; attempts: FailedAttempt[] }> {
  const r = await walk(app, options, new Map(), (dd) => dd.publicKeys.length > 0);
  if (!r.data) failed('public keys', app, r.attempts);
  return { publicKeys: r.data.publicKeys, attempts: r.attempts };
}

export interface DiscoveryResult extends DiscoveryData {
  endpointAttempts: FailedAttempt[];
  publicKeyAttempts: FailedAttempt[];
  /** Set when the public-key walk found nothing (actool discover then fails). */
  publicKeysError?: Error;
}

/**
 * Both walks (endpoints, then public keys), sharing fetched pages. Throws NOT_FOUND when no
 * endpoint is found; a failed key walk is reported in `publicKeysError`.
 */
export async function discover(app: DiscoveryApp, options: DiscoveryOptions = {}): Promise<DiscoveryResult> {
  const cache: PageCache = new Map();
  const ep = await walk(app, options, cache, (dd) => dd.aciEndpoints.length > 0);
  if (!ep.data) failed('ACI endpoints', app, ep.attempts);
  const keys = await walk(app, options, cache, (dd) => dd.publicKeys.length > 0);
  const result: DiscoveryResult = {
    aciEndpoints: ep.data.aciEndpoints,
    publicKeys: keys.data?.publicKeys ?? [],
    endpointAttempts: ep.attempts,
    publicKeyAttempts: keys.attempts,
  };
  if (!keys.data) {
    try {
      failed('public keys', app, keys.attempts);
    } catch (e) {
      result.publicKeysError = e as Error;
    }
  }
  return result;
}
