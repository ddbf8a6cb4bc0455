/**
 * CNI network configurations (SPEC.md "Section 1: Network configuration format"): a `.conflist`
 * (`{cniVersion, name, disableCheck?, plugins: [...]}`) or a single-plugin `.conf`
 * (`{cniVersion, name, type, ...}`), which is read as a list of one plugin.
 *
 * Every `type` (and `ipam.type`) is a bare executable name looked up on CNI_PATH: a value with a
 * '/' or '..' is refused, so that a config can never name a binary elsewhere (CVE-2021-20206).
 */
import { invalidArgument } from '@rkt/api';

/** Spec versions whose configs and results this runtime understands. */
export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;
/** Versions the runtime speaks fully (CHECK, prevResult on DEL). */
export const CURRENT_VERSIONS = ['0.4.0', '1.0.0'] as const;

export type PluginConf = { type: string; [key: string]: unknown };

export interface NetworkConfigList {
  cniVersion: string;
  name: string;
  disableCheck: boolean;
  plugins: PluginConf[];
  /** Where the configuration came from (a file name), for messages. */
  source: string;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

/** Compare two x.y.z versions. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function isSupportedVersion(v: string): boolean {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Why `type` is not an acceptable plugin name, or undefined. */
export function pluginTypeError(type: unknown): string | undefined {
  if (typeof type !== 'string' || type === '') return 'must be a non-empty string';
  if (type.includes('/') || type.includes('\\') || type.includes('..')) return `${JSON.stringify(type)} must be a plain executable name (no "/" or "..")`;
  if (!TYPE_RE.test(type)) return `${JSON.stringify(type)} is not a valid plugin name`;
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkPlugin(p: unknown, where: string, source: string): PluginConf {
  if (!isObject(p)) throw invalidArgument(`${source}: ${where} must be an object`);
  const te = pluginTypeError(p.type);
  if (te) throw invalidArgument(`${source}: ${where}.type ${te}`);
  if (p.ipam !== undefined) {
    if (!isObject(p.ipam)) throw invalidArgument(`${source}: ${where}.ipam must be an object`);
    const ie = pluginTypeError(p.ipam.type);
    if (ie) throw invalidArgument(`${source}: ${where}.ipam.type ${ie}`);
  }
  return p as PluginConf;
}

/**
 * Parse a `.conf` or `.conflist` text. `kind` forces the format; by default a document with a
 * `plugins` array is a list and anything else a single plugin.
 */
export function parseNetworkConfig(text: string, source: string, kind?: 'conf' | 'conflist'): NetworkConfigList {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw invalidArgument(`${source}: invalid JSON: ${(e as Error).message}`);
  }
  return networkConfigFrom(doc, source, kind);
}

export function networkConfigFrom(doc: unknown, source: string, kind?: 'conf' | 'conflist'): NetworkConfigList {
  if (!isObject(doc)) throw invalidArgument(`${source}: a network configuration must be a JSON object`);
  const isList = kind ? kind === 'conflist' : Array.isArray(doc.plugins);
  if (typeof doc.name !== 'string' || !NAME_RE.test(doc.name))
    throw invalidArgument(`${source}: "name" must match ${NAME_RE.source} (got ${JSON.stringify(doc.name)})`);
  const version = doc.cniVersion === undefined ? '0.1.0' : doc.cniVersion;
  if (typeof version !== 'string' || !isSupportedVersion(version))
    throw invalidArgument(`${source}: "cniVersion" ${JSON.stringify(doc.cniVersion)} is not supported (${SUPPORTED_VERSIONS.join(', ')})`);
  if (isList) {
    if (!Array.isArray(doc.plugins) || doc.plugins.length === 0) throw invalidArgument(`${source}: "plugins" must be a non-empty array`);
    if (doc.disableCheck !== undefined && typeof doc.disableCheck !== 'boolean') throw invalidArgument(`${source}: "disableCheck" must be a boolean`);
    return {
      cniVersion: version,
      name: doc.name,
      disableCheck: doc.disableCheck === true,
      plugins: doc.plugins.map((p, i) => checkPlugin(p, `plugins[${i}]`, source)),
      source,
    };
  }
  const plugin = checkPlugin(doc, 'network', source);
  return { cniVersion: version, name: doc.name, disableCheck: false, plugins: [plugin], source };
}

/** The list as a JSON document again (what is stored with a pod and in the result cache). */
export function configListJson(list: NetworkConfigList): Record<string, unknown> {
  return { cniVersion: list.cniVersion, name: list.name, ...(list.disableCheck ? { disableCheck: true } : {}), plugins: list.plugins };
}
