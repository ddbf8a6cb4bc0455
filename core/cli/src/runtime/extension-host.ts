/**
 * The extension host: reads every plugin's `rkt.contributes` (data only), and activates a
 * contribution (imports its entry, runs its init) only when a command asks for its point.
 * Skipped (does not apply on this host) and error (broken) are recorded apart, for `rkt plugins`.
 */
import { existsSync, accessSync, constants as fsc } from 'node:fs';
import { delimiter, isAbsolute, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as api from '@rkt/api';
import {
  type ActivationContext,
  type ContributionDecl,
  type ContributionModule,
  type RuntimePaths,
  type Token,
  POINT_URIS,
  RktError,
  ErrorCodes,
  isSkipPlugin,
  tokenUri,
  formatError,
} from '@rkt/api';

export interface PluginSource {
  name: string;
  version: string;
  root: string;
  /** oclif plugin type: core, user, link, dev. */
  type: string;
  pjson: { rkt?: { contributes?: unknown } };
}

export type ContributionState =
  | { state: 'inactive' }
  | { state: 'ok' }
  | { state: 'skipped'; reason: string }
  | { state: 'error'; reason: string; error?: unknown };

export interface ContributionRecord {
  plugin: PluginSource;
  decl: ContributionDecl;
  status: ContributionState;
}

export interface HostOptions {
  paths: RuntimePaths;
  debug: boolean;
  /** Per-contribution settings, keyed `<point>.<id>`. */
  pluginSettings: Record<string, Record<string, unknown>>;
  /** Preferred contribution id per point, e.g. { 'rkt.store.v1': 'cas' }. */
  preferred: Record<string, string>;
  log(message: string): void;
  /** Called with each activated instance (the DI layer registers it). */
  onActivated?(point: string, id: string, instance: unknown): void;
}

const KNOWN_POINTS = new Set<string>(Object.values(POINT_URIS));
const ID_RE = /^[a-z][a-z0-9-]*$/;

export function which(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Check one declaration's shape; returns the reason it is invalid, or undefined. */
export function checkDecl(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'a contribution must be an object';
  const d = raw as Record<string, unknown>;
  if (typeof d.point !== 'string' || !KNOWN_POINTS.has(d.point))
    return `"point" must be one of ${[...KNOWN_POINTS].join(', ')} (got ${JSON.stringify(d.point)})`;
  if (typeof d.id !== 'string' || !ID_RE.test(d.id)) return `"id" must be a short lowercase name (got ${JSON.stringify(d.id)})`;
  if (typeof d.entry !== 'string' || d.entry === '' || isAbsolute(d.entry))
    return `"entry" must be a module path relative to the plugin root (got ${JSON.stringify(d.entry)})`;
  if (d.match !== undefined) {
    const m = d.match as Record<string, unknown>;
    if (typeof m !== 'object' || m === null) return '"match" must be an object';
    for (const k of ['schemes', 'kinds'])
      if (m[k] !== undefined && (!Array.isArray(m[k]) || (m[k] as unknown[]).some((x) => typeof x !== 'string')))
        return `"match.${k}" must be an array of strings`;
  }
  if (d.requires !== undefined) {
    const r = d.requires as Record<string, unknown>;
    if (typeof r !== 'object' || r === null) return '"requires" must be an object';
    for (const k of ['points', 'binaries', 'paths'])
      if (r[k] !== undefined && (!Array.isArray(r[k]) || (r[k] as unknown[]).some((x) => typeof x !== 'string')))
        return `"requires.${k}" must be an array of strings`;
    if (r.root !== undefined && typeof r.root !== 'boolean') return '"requires.root" must be a boolean';
  }
  return undefined;
}

export class ExtensionHost {
  readonly records: ContributionRecord[] = [];
  private readonly instances = new Map<ContributionRecord, Promise<unknown>>();
  private readonly activating = new Set<ContributionRecord>();

  constructor(
    plugins: readonly PluginSource[],
    private readonly options: HostOptions,
  ) {
    const seen = new Map<string, ContributionRecord>();
    for (const plugin of plugins) {
      const section = plugin.pjson.rkt?.contributes;
      if (section === undefined) continue;
      const list = Array.isArray(section) ? section : [section];
      if (!Array.isArray(section)) {
        this.records.push({
          plugin,
          decl: { point: '?', id: '?', entry: '?' },
          status: { state: 'error', reason: '"rkt.contributes" must be an array' },
        });
        continue;
      }
      list.forEach((raw, i) => {
        const bad = checkDecl(raw);
        const decl = (bad ? { point: String((raw as ContributionDecl)?.point ?? '?'), id: String((raw as ContributionDecl)?.id ?? `#${i}`), entry: '?' } : raw) as ContributionDecl;
        const rec: ContributionRecord = { plugin, decl, status: { state: 'inactive' } };
        if (bad) rec.status = { state: 'error', reason: `invalid declaration rkt.contributes[${i}]: ${bad}` };
        else {
          const key = `${decl.point}.${decl.id}`;
          const prev = seen.get(key);
          if (prev) rec.status = { state: 'error', reason: `duplicate contribution ${key}: already provided by ${prev.plugin.name}` };
          else seen.set(key, rec);
        }
        this.records.push(rec);
      });
    }
  }

  /** Declarations for a point that are not known to be broken. */
  candidates(point: string): ContributionRecord[] {
    return this.records.filter((r) => r.decl.point === point && r.status.state !== 'error');
  }

  find(point: string, id: string): ContributionRecord | undefined {
    return this.records.find((r) => r.decl.point === point && r.decl.id === id);
  }

  /** Activate one contribution by id. Throws (with the skip/error reason) when unusable. */
  async activate<T>(token: Token<T>, id: string): Promise<T> {
    const point = tokenUri(token);
    const rec = this.find(point, id);
    if (!rec) throw new RktError(ErrorCodes.NOT_FOUND, `no ${point} contribution with id "${id}" (see 'rkt plugins')`);
    return (await this.activateRecord(rec)) as T;
  }

  /**
   * The single implementation for a point: the preferred id from settings, else the only
   * working one. Used for points such as the store.
   */
  async activateDefault<T>(token: Token<T>): Promise<T> {
    const point = tokenUri(token);
    const preferred = this.options.preferred[point];
    if (preferred) return this.activate(token, preferred);
    const errors: string[] = [];
    for (const rec of this.candidates(point)) {
      try {
        return (await this.activateRecord(rec)) as T;
      } catch (e) {
        errors.push(`${rec.decl.id}: ${formatError(e)}`);
      }
    }
    throw new RktError(
      ErrorCodes.UNAVAILABLE,
      `no working implementation of ${point}${errors.length ? ` (${errors.join('; ')})` : ''}`,
    );
  }

  /** The first contribution whose `match` accepts the predicate, activated. */
  async activateMatching<T>(token: Token<T>, accepts: (decl: ContributionDecl) => boolean): Promise<{ id: string; instance: T } | undefined> {
    const point = tokenUri(token);
    const reasons: string[] = [];
    for (const rec of this.candidates(point)) {
      if (!accepts(rec.decl)) continue;
      try {
        return { id: rec.decl.id, instance: (await this.activateRecord(rec)) as T };
      } catch (e) {
        reasons.push(`${rec.decl.id}: ${formatError(e)}`);
      }
    }
    if (reasons.length) throw new RktError(ErrorCodes.UNAVAILABLE, `no usable ${point} contribution (${reasons.join('; ')})`);
    return undefined;
  }

  /** Activate everything (for `rkt plugins`); never throws. */
  async activateAll(): Promise<void> {
    for (const rec of this.records) {
      if (rec.status.state !== 'inactive') continue;
      await this.activateRecord(rec).catch(() => undefined);
    }
  }

  private hostRequirement(decl: ContributionDecl): string | undefined {
    const req = decl.requires;
    if (!req) return undefined;
    if (req.root && process.getuid?.() !== 0) return 'needs root';
    for (const b of req.binaries ?? []) if (!which(b)) return `${b} not found${b.includes('/') ? '' : ' in PATH'}`;
    for (const p of req.paths ?? []) if (!existsSync(p)) return `${p} does not exist`;
    return undefined;
  }

  private activateRecord(rec: ContributionRecord): Promise<unknown> {
    const existing = this.instances.get(rec);
    if (existing) return existing;
    const p = this.doActivate(rec);
    this.instances.set(rec, p);
    return p;
  }

  private async doActivate(rec: ContributionRecord): Promise<unknown> {
    const { decl, plugin } = rec;
    const key = `${decl.point}.${decl.id}`;
    if (rec.status.state === 'error') throw new RktError(ErrorCodes.FAILED_PRECONDITION, rec.status.reason);
    const missing = this.hostRequirement(decl);
    if (missing) {
      rec.status = { state: 'skipped', reason: missing };
      throw new RktError(ErrorCodes.SKIP_PLUGIN, `${key} skipped: ${missing}`);
    }
    if (this.activating.has(rec)) {
      rec.status = { state: 'error', reason: 'cycle in requires.points' };
      throw new RktError(ErrorCodes.FAILED_PRECONDITION, `${key}: cycle in requires.points`);
    }
    this.activating.add(rec);
    try {
      const deps = new Map<string, unknown>();
      for (const need of decl.requires?.points ?? []) {
        if (!KNOWN_POINTS.has(need)) throw new RktError(ErrorCodes.INVALID_ARGUMENT, `requires unknown point ${need}`);
        deps.set(need, await this.activateDefault(api.token(need)));
      }
      const entryPath = resolve(plugin.root, decl.entry);
      if (entryPath !== plugin.root && !entryPath.startsWith(plugin.root + sep))
        throw new RktError(ErrorCodes.INVALID_ARGUMENT, `entry ${decl.entry} is outside the plugin`);
      const mod = (await import(pathToFileURL(entryPath).href)) as { default?: ContributionModule<unknown> };
      const contribution = mod.default;
      if (!contribution || contribution.rktContribution !== 1 || typeof contribution.init !== 'function')
        throw new RktError(ErrorCodes.INVALID_ARGUMENT, `${decl.entry} does not default-export a contribution (defineContribution)`);
      if (contribution.point !== decl.point)
        throw new RktError(ErrorCodes.INVALID_ARGUMENT, `${decl.entry} contributes to ${contribution.point}, but package.json says ${decl.point}`);
      const ctx: ActivationContext = {
        point: decl.point,
        id: decl.id,
        pluginName: plugin.name,
        pluginRoot: plugin.root,
        config: this.options.pluginSettings[key] ?? {},
        paths: this.options.paths,
        debug: this.options.debug,
        api,
        get: <T>(t: Token<T>): T => {
          const uri = tokenUri(t);
          if (!deps.has(uri)) throw new RktError(ErrorCodes.FAILED_PRECONDITION, `${key} did not declare ${uri} in requires.points`);
          return deps.get(uri) as T;
        },
        which,
        log: (m) => this.options.log(m),
      };
      const instance = await contribution.init(ctx);
      rec.status = { state: 'ok' };
      this.options.onActivated?.(decl.point, decl.id, instance);
      return instance;
    } catch (e) {
      if (isSkipPlugin(e)) rec.status = { state: 'skipped', reason: (e as Error).message };
      else rec.status = { state: 'error', reason: formatError(e), error: e };
      throw e;
    } finally {
      this.activating.delete(rec);
    }
  }
}
