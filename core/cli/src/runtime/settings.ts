/**
 * The CLI's own settings (not rkt's config kinds), found by cosmiconfig: `RKT_SETTINGS=<file>`,
 * else `rktSettings` in package.json / `.rktrc[.json|.yaml]` / `rkt.config.*` from the working
 * directory up to the home directory, then `$XDG_CONFIG_HOME/rkt/config.*`. (Not cosmiconfig's
 * default `rkt` key: that is where a plugin's package.json declares its contributions, and rkt run
 * from a plugin's source directory must not take them for settings.)
 *
 *   { "points":  { "rkt.store.v1": "cas" },                 // which implementation a point uses
 *     "plugins": { "rkt.fetcher.v1.https": { ... } } }      // a contribution's own section
 */
import { createRequire } from 'node:module';
import type * as Cosmiconfig from 'cosmiconfig';
import { invalidArgument } from '@rkt/api';

export interface CliSettings {
  points: Record<string, string>;
  plugins: Record<string, Record<string, unknown>>;
  source?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function validateSettings(raw: unknown, source: string): CliSettings {
  if (raw === undefined || raw === null) return { points: {}, plugins: {}, source };
  if (!isRecord(raw)) throw invalidArgument(`settings ${source}: must be an object`);
  const points: Record<string, string> = {};
  const plugins: Record<string, Record<string, unknown>> = {};
  if (raw.points !== undefined) {
    if (!isRecord(raw.points)) throw invalidArgument(`settings ${source}: "points" must be an object`);
    for (const [k, v] of Object.entries(raw.points)) {
      if (typeof v !== 'string') throw invalidArgument(`settings ${source}: "points.${k}" must be a contribution id`);
      points[k] = v;
    }
  }
  if (raw.plugins !== undefined) {
    if (!isRecord(raw.plugins)) throw invalidArgument(`settings ${source}: "plugins" must be an object`);
    for (const [k, v] of Object.entries(raw.plugins)) {
      if (!isRecord(v)) throw invalidArgument(`settings ${source}: "plugins.${k}" must be an object`);
      plugins[k] = v;
    }
  }
  for (const k of Object.keys(raw))
    if (!['points', 'plugins'].includes(k)) throw invalidArgument(`settings ${source}: unknown key "${k}"`);
  return { points, plugins, source };
}

export async function loadSettings(): Promise<CliSettings> {
  // through require: cosmiconfig is CommonJS, and importing it from ESM first scans its sources
  // for export names (~5 ms of every command that boots the engine: 12.5 ms vs 7.4 ms measured)
  const { cosmiconfig } = createRequire(import.meta.url)('cosmiconfig') as typeof Cosmiconfig;
  const explorer = cosmiconfig('rkt', { searchStrategy: 'global', packageProp: 'rktSettings' });
  const explicit = process.env.RKT_SETTINGS;
  let result;
  try {
    result = explicit ? await explorer.load(explicit) : await explorer.search();
  } catch (e) {
    throw invalidArgument(`cannot read CLI settings${explicit ? ` ${explicit}` : ''}: ${(e as Error).message}`, { cause: e });
  }
  if (!result) return { points: {}, plugins: {} };
  return validateSettings(result.config, result.filepath);
}
