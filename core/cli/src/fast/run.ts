/**
 * `rkt run` without oclif: the start-up fast path (docs/architecture.md, "Start-up").
 *
 * Loading oclif and its plugin list costs ~80 ms of every command, a third of a whole `rkt run`.
 * `rkt run` is the command whose start-up matters (pods, Nomad, scripts), and its argv is parsed
 * by our own splitter (pods/argv.ts) anyway, which hands the pod flags back normalised
 * (`--name=value`, `--name`). So bin/run.js sends `rkt run …` here first. This path:
 *   - parses those normalised flags with the same specs oclif's definitions are made from
 *     (runtime/flag-specs.ts), and declines (returns false, having done nothing) for anything it is
 *     not sure of — an unknown or repeated flag, a value outside `options`, an empty value, help —
 *     so that oclif then runs the command and reports exactly what it always did;
 *   - builds the plugin list from the CLI's package.json (`oclif.plugins`), and declines when the
 *     user has installed or linked plugins (oclif's data dir has a package.json), which only oclif
 *     resolves;
 *   - then runs the very same command body as the oclif command (pods/run-command.ts), with rkt's
 *     error format and exit codes.
 * `RKT_FAST_PATH=0` turns it off. core/cli/test/fast-run.test.ts checks it against oclif.
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

/** Run `rkt run ARGV` here; false (nothing done) when oclif must do it. */
export async function fastRun(argv: readonly string[]): Promise<boolean> {
  if (argv.includes('--help') || argv.includes('-h') || userPluginsConfigured()) return false;
  const { splitRunArgv, RUN_FLAGS } = await import('../runtime/pods/argv.js');
  const specs = await import('../runtime/flag-specs.js');
  let flags: Record<string, unknown> | undefined;
  try {
    const split = splitRunArgv(argv, RUN_FLAGS);
    flags = fastParseFlags(split.podArgv, { ...specs.globalFlags, ...specs.prepareFlags, ...specs.runOnlyFlags });
  } catch {
    return false; // oclif's run reports it, the same way
  }
  const plugins = flags && corePluginSources();
  if (!flags || !plugins) return false;
  const { mark } = await import('../runtime/timing.js');
  mark('stage0: fast path');
  const { exitCodeOf, formatError } = await import('@rkt/api');
  const debug = Boolean(flags.debug);
  const warnLine = (m: string) => process.stderr.write(`run: ${m}\n`);
  let engine: Engine | undefined;
  try {
    const { runCommand } = await import('../runtime/pods/run-command.js');
    await runCommand(
      {
        parsePodFlags: async () => flags,
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
        exit: (code) => {
          process.exitCode = code;
        },
      },
      argv,
    );
  } catch (err) {
    process.stderr.write(`run: ${formatError(err, debug)}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = exitCodeOf(err);
  } finally {
    if (engine) await engine.dispose();
  }
  return true;
}
