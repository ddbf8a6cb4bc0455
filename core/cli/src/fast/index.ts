/**
 * The start-up fast path without oclif, for `rkt run`, `prepare`, `run-prepared` and `fetch`
 * (docs/architecture.md, "Start-up"): loading oclif and its plugin list costs ~80 ms before a
 * command starts, a third of a `rkt run` and most of a small `rkt fetch`.
 *
 * Each fast command parses its argv with the same specs oclif's definitions are made from
 * (runtime/flag-specs.ts) and declines (returns false, having done nothing) for anything it is not
 * sure of — help, an unknown or repeated single flag, a value outside `options`, an empty value,
 * user-installed or linked plugins (oclif's data dir has a package.json), which only oclif
 * resolves — so that oclif then runs the command and reports exactly what it always did.
 * Otherwise it runs the very same command body as the oclif command, with rkt's error format and
 * exit codes. `RKT_FAST_PATH=0` turns it off; core/cli/test/fast-run.test.ts holds it against oclif.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FlagDefs } from '../runtime/flag-specs.js';
import type { PluginSource } from '../runtime/extension-host.js';
import type { Engine } from '../runtime/engine.js';

export const CLI_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The flags of a normalised pod argv, as oclif would return them; undefined when unsure.
 */
export function fastParseFlags(podArgv: readonly string[], defs: FlagDefs): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const tok of podArgv) {
    const m = /^--([a-z0-9][a-z0-9-]*)(?:=([\s\S]*))?$/.exec(tok);
    if (!m) return undefined;
    const name = m[1]!;
    const value = m[2];
    const def = Object.hasOwn(defs, name) ? defs[name] : undefined;
    if (!def) return undefined; // includes --help
    if (def.type === 'boolean') {
      if (value !== undefined || name in out) return undefined;
      out[name] = true;
      continue;
    }
    if (value === undefined || value === '') return undefined;
    if (def.options && !def.options.includes(value)) return undefined;
    if (def.multiple) ((out[name] ??= []) as string[]).push(value);
    else if (name in out) return undefined;
    else out[name] = value;
  }
  for (const [name, def] of Object.entries(defs)) if (!(name in out) && def.default !== undefined) out[name] = def.default;
  return out;
}

function readPjson(file: string): PluginSource['pjson'] & { name: string; version: string; oclif?: { plugins?: unknown } } {
  return JSON.parse(readFileSync(file, 'utf8')) as PluginSource['pjson'] & { name: string; version: string };
}

/** Where node would find package `name` from `from` (its node_modules chain), or undefined. */
function packageRoot(name: string, from: string): string | undefined {
  for (let d = from; ; d = dirname(d)) {
    const p = join(d, 'node_modules', name);
    if (existsSync(join(p, 'package.json'))) return p;
    if (dirname(d) === d) return undefined;
  }
}

/** The CLI itself and its core plugins (`oclif.plugins`), as oclif lists them; undefined when unsure. */
export function corePluginSources(root = CLI_ROOT): PluginSource[] | undefined {
  const pjson = readPjson(join(root, 'package.json'));
  const out: PluginSource[] = [{ name: pjson.name, version: pjson.version, root, type: 'core', pjson }];
  const names = pjson.oclif?.plugins;
  if (names !== undefined && !Array.isArray(names)) return undefined;
  for (const n of (names ?? []) as unknown[]) {
    if (typeof n !== 'string') return undefined;
    const dir = packageRoot(n, root);
    if (!dir) return undefined;
    const p = readPjson(join(dir, 'package.json'));
    out.push({ name: p.name, version: p.version, root: dir, type: 'core', pjson: p });
  }
  return out;
}

/** oclif's data dir for `rkt` holds a package.json once a plugin was installed or linked. */
export function userPluginsConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  const dataDir = env.RKT_DATA_DIR || join(env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share'), 'rkt');
  return existsSync(join(dataDir, 'package.json'));
}

const FLAG_RE = /^--([a-z0-9][a-z0-9-]*)(?:=([\s\S]*))?$/;

/**
 * A command line of flags and positional arguments (`rkt fetch`), as oclif would parse it with
 * `strict: false`, rkt's `--bool=true|false` spelling included; undefined when unsure.
 */
export function fastParseArgv(argv: readonly string[], defs: FlagDefs): { flags: Record<string, unknown>; args: string[] } | undefined {
  const normalised: string[] = [];
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) {
      args.push(a);
      continue;
    }
    const m = FLAG_RE.exec(a);
    const def = m && Object.hasOwn(defs, m[1]!) ? defs[m[1]!] : undefined;
    if (!m || !def) return undefined;
    const name = m[1]!;
    if (def.type === 'boolean') {
      if (m[2] === undefined || m[2].toLowerCase() === 'true') normalised.push(`--${name}`);
      else if (m[2].toLowerCase() !== 'false') return undefined;
      else if (normalised.includes(`--${name}`)) return undefined;
      continue;
    }
    let v = m[2];
    if (v === undefined) {
      v = argv[++i];
      if (v === undefined || v.startsWith('-')) return undefined;
    }
    normalised.push(`--${name}=${v}`);
  }
  const flags = fastParseFlags(normalised, defs);
  return flags ? { flags, args } : undefined;
}

/** The user's plugins or help need oclif; undefined otherwise, else the plugin list. */
export function fastPlugins(argv: readonly string[]): PluginSource[] | undefined {
  if (argv.includes('--help') || argv.includes('-h') || userPluginsConfigured()) return undefined;
  return corePluginSources();
}

/**
 * Run a command body with an engine booted on demand, rkt's error format (`<prefix>: <msg>`) and
 * exit status, and the engine disposed at the end, as RktCommand does under oclif.
 */
export async function runFast(
  prefix: string,
  plugins: PluginSource[],
  flags: Record<string, unknown>,
  body: (io: { engine(f: Record<string, unknown>): Promise<Engine>; warnLine(m: string): void; debugLine(m: string): void }) => Promise<void>,
): Promise<void> {
  const { mark } = await import('../runtime/timing.js');
  mark('stage0: fast path');
  const { exitCodeOf, formatError } = await import('@rkt/api');
  const debug = Boolean(flags.debug);
  const warnLine = (m: string) => process.stderr.write(`${prefix}: ${m}\n`);
  let engine: Engine | undefined;
  try {
    await body({
      engine: async (f) => {
        if (!engine) {
          const [{ bootEngine }, { globalOptionsOf }] = await Promise.all([import('../runtime/engine.js'), import('../runtime/global-options.js')]);
          engine = await bootEngine(plugins, globalOptionsOf(f), warnLine);
        }
        return engine;
      },
      warnLine,
      debugLine: (m) => {
        if (debug) warnLine(m);
      },
    });
  } catch (err) {
    process.stderr.write(`${prefix}: ${formatError(err, debug)}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = exitCodeOf(err);
  } finally {
    if (engine) await engine.dispose();
  }
}

/** Run `rkt <id> ARGV` here; false (nothing done) when oclif must do it. */
export async function fastCommand(id: string, argv: readonly string[]): Promise<boolean> {
  if (id === 'run') return (await import('./run.js')).fastRun(argv);
  if (id === 'fetch') return (await import('./fetch.js')).fastFetch(argv);
  if (id === 'prepare') return (await import('./run.js')).fastPrepare(argv);
  if (id === 'run-prepared') return (await import('./prepare.js')).fastRunPrepared(argv);
  return false;
}
