/**
 * Image arguments as rkt classifies them (rkt 1.30, "image-argument syntax"):
 *  1. `sha512-<hex>` (≥ 2 hex digits)                      → a store image (hash)
 *  2. no URL scheme: absolute path, existing regular file,
 *     contains `./`, or ends in `.aci`                      → a local file (path);
 *     otherwise (incl. anything with `:`)                    → an appc name
 *  3. `file://…`                                           → a local file
 *     `http(s)://…` with an `.aci` path                    → a URL (without `.aci`: an error)
 *  4. `docker://…`, `docker:…`                             → refused: docker images are not supported
 *  5. another scheme served by a fetcher plugin            → a URL for that fetcher;
 *     any other scheme                                     → an appc name, as rkt
 */
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { invalidArgument, type ImageRef } from '@rkt/api';

const HASH_RE = /^sha512-[0-9a-f]{2,}$/i;
const SCHEME_RE = /^([a-z][a-z0-9+.-]*):\/\//i;

function isRegularFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** `name[:version][,label=value…]` → name + labels (the colon may appear once, right after the name). */
export function parseAppcName(raw: string): { name: string; labels: Record<string, string> } {
  const [head, ...rest] = raw.split(',');
  const labels: Record<string, string> = {};
  let name = head!;
  const colon = name.indexOf(':');
  if (colon >= 0) {
    const version = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (version.includes(':')) throw invalidArgument(`invalid image name ${JSON.stringify(raw)}: more than one ":"`);
    if (version === '') throw invalidArgument(`invalid image name ${JSON.stringify(raw)}: empty version after ":"`);
    labels.version = version;
  }
  if (name === '') throw invalidArgument(`invalid image name ${JSON.stringify(raw)}: empty name`);
  for (const pair of rest) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw invalidArgument(`invalid image name ${JSON.stringify(raw)}: label ${JSON.stringify(pair)} is not name=value`);
    const k = pair.slice(0, eq);
    if (k in labels) throw invalidArgument(`invalid image name ${JSON.stringify(raw)}: label ${JSON.stringify(k)} given twice`);
    labels[k] = pair.slice(eq + 1);
  }
  return { name, labels };
}

/** The host's appc os/arch labels (appc names, not Node's). */
export function hostLabels(): { os: string; arch: string } {
  const arch = ({ x64: 'amd64', ia32: 'i386', arm64: 'aarch64', ppc64: 'ppc64le', arm: 'armv7l' } as Record<string, string>)[process.arch] ?? process.arch;
  return { os: process.platform, arch };
}

/**
 * @param pluginSchemes URL schemes served by installed fetcher plugins (besides file/http/https).
 */
export function parseImageRef(raw: string, pluginSchemes: ReadonlySet<string> = new Set()): ImageRef {
  if (raw === '') throw invalidArgument('empty image argument');
  if (HASH_RE.test(raw)) return { kind: 'hash', raw, id: raw.toLowerCase() };
  if (/^docker:/i.test(raw))
    throw invalidArgument(`cannot use ${JSON.stringify(raw)}: docker images are not supported by this rkt (convert the image to an ACI)`);
  const scheme = SCHEME_RE.exec(raw)?.[1]?.toLowerCase();
  if (!scheme) {
    if (isAbsolute(raw) || isRegularFile(raw)) return { kind: 'path', raw, path: resolve(raw) };
    if (raw.includes(':')) return { kind: 'name', raw, ...parseAppcName(raw) };
    if (raw.includes('./') || raw.endsWith('.aci')) return { kind: 'path', raw, path: resolve(raw) };
    return { kind: 'name', raw, ...parseAppcName(raw) };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidArgument(`invalid image URL ${JSON.stringify(raw)}`);
  }
  if (scheme === 'file') return { kind: 'path', raw, path: decodeURIComponent(url.pathname) };
  if (scheme === 'http' || scheme === 'https') {
    if (!url.pathname.endsWith('.aci'))
      throw invalidArgument(`invalid image URL ${JSON.stringify(raw)}: an http(s) image URL must name an .aci file`);
    return { kind: 'url', raw, url };
  }
  if (pluginSchemes.has(scheme)) return { kind: 'url', raw, url };
  return { kind: 'name', raw, ...parseAppcName(raw) };
}

/** rkt prints `sha512-` + 32 hex digits, or the whole id with --full. */
export function shortImageId(id: string, full = false): string {
  return full ? id : id.slice(0, 'sha512-'.length + 32);
}
