/**
 * `rkt run` and `rkt prepare` without oclif (see ./index.ts): rkt's own argv splitter, the pod flags
 * parsed with the shared specs, then the shared command body.
 */
import type { FlagDefs } from '../runtime/flag-specs.js';
import type { FlagTable } from '../runtime/pods/argv.js';
import type { CommandIO } from '../runtime/pods/run-command.js';
import { fastParseFlags, fastPlugins, runFast } from './index.js';

async function fastPodCommand(
  id: 'run' | 'prepare',
  argv: readonly string[],
  table: (argv: typeof import('../runtime/pods/argv.js')) => FlagTable,
  defs: (specs: typeof import('../runtime/flag-specs.js')) => FlagDefs,
  body: (io: CommandIO, argv: readonly string[]) => Promise<void>,
): Promise<boolean> {
  const plugins = fastPlugins(argv);
  if (!plugins) return false;
  const argvMod = await import('../runtime/pods/argv.js');
  const specs = await import('../runtime/flag-specs.js');
  let flags: Record<string, unknown> | undefined;
  try {
    flags = fastParseFlags(argvMod.splitRunArgv(argv, table(argvMod)).podArgv, { ...specs.globalFlags, ...defs(specs) });
  } catch {
    return false; // oclif's command reports it, the same way
  }
  if (!flags) return false;
  const parsed = flags;
  await runFast(id, plugins, parsed, (io) => body({ ...io, parsePodFlags: async () => parsed, exit: (code) => void (process.exitCode = code) }, argv));
  return true;
}

export function fastRun(argv: readonly string[]): Promise<boolean> {
  return fastPodCommand(
    'run',
    argv,
    (a) => a.RUN_FLAGS,
    (s) => ({ ...s.prepareFlags, ...s.runOnlyFlags }),
    async (io, args) => (await import('../runtime/pods/run-command.js')).runCommand(io, args),
  );
}

export function fastPrepare(argv: readonly string[]): Promise<boolean> {
  return fastPodCommand(
    'prepare',
    argv,
    (a) => a.PREPARE_FLAGS,
    (s) => ({ ...s.prepareFlags, ...s.prepareOnlyFlags }),
    async (io, args) => (await import('../runtime/pods/prepare-command.js')).prepareCommand(io, args),
  );
}
