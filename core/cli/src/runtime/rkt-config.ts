/**
 * rkt's configuration: JSON files with `rktKind` + `rktVersion` in `<kind>.d/` directories under
 * the system (/usr/lib/rkt), local (/etc/rkt) and optional user config dirs, merged in that order.
 * Rules as rkt 1.30: only regular `*.json` files directly inside the subdirectory are read;
 * symlinks and anything else are ignored; a kind not allowed in the subdirectory is an error; a key
 * defined twice within one directory is an error; later layers override earlier ones per key.
 */
import { readdirSync, readFileSync, statSync, lstatSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { invalidArgument, RktError, ErrorCodes } from '@rkt/api';

export type AuthType = 'basic' | 'oauth';

export interface AuthEntry {
  domain: string;
  type: AuthType;
  credentials: Record<string, string>;
  source: string;
}

export interface DockerAuthEntry {
  registry: string;
  credentials: { user: string; password: string };
  source: string;
}

export interface RktConfig {
  auth: Map<string, AuthEntry>;
  dockerAuth: Map<string, DockerAuthEntry>;
  paths: { data: string; stage1Images: string };
  stage1: { name: string; version: string; location: string };
}

const SUBDIRS: Record<string, string[]> = {
  'auth.d': ['auth', 'dockerAuth'],
  'paths.d': ['paths'],
  'stage1.d': ['stage1'],
};

function emptyConfig(): RktConfig {
  return {
    auth: new Map(),
    dockerAuth: new Map(),
    paths: { data: '', stage1Images: '' },
    stage1: { name: '', version: '', location: '' },
  };
}

function configError(file: string, msg: string): RktError {
  return invalidArgument(`invalid configuration file ${JSON.stringify(file)}: ${msg}`, { details: { file } });
}

function str(file: string, obj: Record<string, unknown>, field: string): string {
  const v = obj[field];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw configError(file, `field "${field}" must be a string`);
  return v;
}

function stringArray(file: string, obj: Record<string, unknown>, field: string): string[] {
  const v = obj[field];
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || x === ''))
    throw configError(file, `field "${field}" must be a non-empty array of non-empty strings`);
  return v as string[];
}

const CREDENTIAL_FIELDS: Record<AuthType, { required: string[]; optional: string[] }> = {
  basic: { required: ['user', 'password'], optional: [] },
  oauth: { required: ['token'], optional: [] },
};

function credentials(file: string, obj: Record<string, unknown>, type: AuthType): Record<string, string> {
  const c = obj.credentials;
  if (typeof c !== 'object' || c === null || Array.isArray(c))
    throw configError(file, 'field "credentials" must be an object');
  const spec = CREDENTIAL_FIELDS[type];
  const out: Record<string, string> = {};
  for (const f of spec.required) {
    const v = (c as Record<string, unknown>)[f];
    if (typeof v !== 'string' || v === '') throw configError(file, `field "credentials.${f}" is required for ${type} auth`);
    out[f] = v;
  }
  for (const f of spec.optional) {
    const v = (c as Record<string, unknown>)[f];
    if (typeof v === 'string') out[f] = v;
  }
  return out;
}

function parseFile(cfg: RktConfig, file: string, kinds: string[]): void {
  let obj: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    obj = parsed as Record<string, unknown>;
  } catch (e) {
    throw configError(file, (e as Error).message);
  }
  const kind = str(file, obj, 'rktKind');
  const version = str(file, obj, 'rktVersion');
  if (!kind) throw configError(file, 'no rktKind specified');
  if (!version) throw configError(file, 'no rktVersion specified');
  if (!kinds.includes(kind))
    throw configError(file, `the directory expects configuration files of kinds "${kinds.join('", "')}", but this file has kind "${kind}"`);
  if (version !== 'v1') throw configError(file, `no parser available for configuration of kind "${kind}" and version "${version}"`);

  switch (kind) {
    case 'auth': {
      const type = str(file, obj, 'type') as AuthType;
      if ((type as string) === 'aws')
        throw configError(file, 'field "type": aws (SigV4) authentication is not supported by this rkt; use basic or oauth');
      if (!(type in CREDENTIAL_FIELDS)) throw configError(file, `field "type": unknown auth type ${JSON.stringify(type)} (basic, oauth)`);
      const creds = credentials(file, obj, type);
      for (const domain of stringArray(file, obj, 'domains')) {
        if (cfg.auth.has(domain)) throw configError(file, `auth for domain ${JSON.stringify(domain)} is already specified`);
        cfg.auth.set(domain, { domain, type, credentials: creds, source: file });
      }
      return;
    }
    case 'dockerAuth': {
      const creds = credentials(file, obj, 'basic') as { user: string; password: string };
      for (const registry of stringArray(file, obj, 'registries')) {
        if (cfg.dockerAuth.has(registry))
          throw configError(file, `credentials for docker registry ${JSON.stringify(registry)} are already specified`);
        cfg.dockerAuth.set(registry, { registry, credentials: creds, source: file });
      }
      return;
    }
    case 'paths': {
      for (const [field, key] of [['data', 'data'], ['stage1-images', 'stage1Images']] as const) {
        const v = str(file, obj, field);
        if (!v) continue;
        if (cfg.paths[key]) throw configError(file, `field "${field}": ${field} directory is already specified`);
        if (!isAbsolute(v)) throw configError(file, `field "${field}": ${field} directory must be an absolute path`);
        cfg.paths[key] = v;
      }
      return;
    }
    case 'stage1': {
      const name = str(file, obj, 'name');
      const version = str(file, obj, 'version');
      const location = str(file, obj, 'location');
      if (!name && version) throw configError(file, 'default stage1 image version specified, but name is missing');
      if (name && !version) throw configError(file, 'default stage1 image name specified, but version is missing');
      if (location && !isAbsolute(location)) {
        let scheme = '';
        try {
          scheme = new URL(location).protocol.replace(/:$/, '');
        } catch {
          throw configError(file, 'field "location": default stage1 image location is either a relative path or a URL without scheme');
        }
        if (!['file', 'docker', 'http', 'https'].includes(scheme))
          throw configError(file, `field "location": invalid scheme "${scheme}", allowed schemes are "docker", "file", "http", "https"`);
      }
      if (name) {
        if (cfg.stage1.name) throw configError(file, 'name and version of a default stage1 image are already specified');
        cfg.stage1.name = name;
        cfg.stage1.version = version;
      }
      if (location) {
        if (cfg.stage1.location) throw configError(file, 'location of a default stage1 image is already specified');
        cfg.stage1.location = location;
      }
      return;
    }
  }
}

/** Read one config directory (one layer). A missing directory is an empty layer. */
export function readConfigDir(dir: string): RktConfig {
  const cfg = emptyConfig();
  for (const [sub, kinds] of Object.entries(SUBDIRS)) {
    const d = join(dir, sub);
    let st;
    try {
      st = statSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new RktError(ErrorCodes.UNAVAILABLE, `cannot read configuration directory ${JSON.stringify(d)}`, { cause: e });
    }
    if (!st.isDirectory()) throw invalidArgument(`expected ${JSON.stringify(d)} to be a directory`);
    for (const name of readdirSync(d).sort()) {
      const file = join(d, name);
      const lst = lstatSync(file);
      if (!lst.isFile() || !name.endsWith('.json')) continue;
      parseFile(cfg, file, kinds);
    }
  }
  return cfg;
}

function merge(into: RktConfig, layer: RktConfig): void {
  for (const [k, v] of layer.auth) into.auth.set(k, v);
  for (const [k, v] of layer.dockerAuth) into.dockerAuth.set(k, v);
  if (layer.paths.data) into.paths.data = layer.paths.data;
  if (layer.paths.stage1Images) into.paths.stage1Images = layer.paths.stage1Images;
  if (layer.stage1.name) {
    into.stage1.name = layer.stage1.name;
    into.stage1.version = layer.stage1.version;
  }
  if (layer.stage1.location) into.stage1.location = layer.stage1.location;
}

/** Merge system → local → user, as rkt. */
export function loadRktConfig(dirs: { system: string; local: string; user?: string }): RktConfig {
  const cfg = emptyConfig();
  for (const d of [dirs.system, dirs.local, dirs.user]) if (d) merge(cfg, readConfigDir(d));
  return cfg;
}

/** `rkt config` output: `{"stage0":[…]}` in rkt's order and field names. */
export function configToJson(cfg: RktConfig): { stage0: unknown[] } {
  const stage0: unknown[] = [];
  for (const a of cfg.auth.values())
    stage0.push({ rktVersion: 'v1', rktKind: 'auth', domains: [a.domain], type: a.type, credentials: a.credentials });
  for (const d of cfg.dockerAuth.values())
    stage0.push({ rktVersion: 'v1', rktKind: 'dockerAuth', registries: [d.registry], credentials: d.credentials });
  stage0.push({ rktVersion: 'v1', rktKind: 'paths', data: cfg.paths.data, 'stage1-images': cfg.paths.stage1Images });
  stage0.push({
    rktVersion: 'v1',
    rktKind: 'stage1',
    name: cfg.stage1.name,
    version: cfg.stage1.version,
    location: cfg.stage1.location,
  });
  return { stage0 };
}

/** The HTTP headers for a host (https only; the caller checks the scheme). */
export function authHeadersFor(cfg: RktConfig, host: string): Record<string, string> {
  const a = cfg.auth.get(host);
  if (!a) return {};
  if (a.type === 'basic')
    return { Authorization: 'Basic ' + Buffer.from(`${a.credentials.user}:${a.credentials.password}`).toString('base64') };
  return { Authorization: `Bearer ${a.credentials.token}` };
}
