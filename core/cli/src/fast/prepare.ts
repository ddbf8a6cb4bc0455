/** `rkt prepare` and `rkt run-prepared` without oclif (see ./index.ts). */
import { fastParseArgv, fastParseFlags, fastPlugins, runFast } from './index.js';

export async function fastPrepare(argv: readonly string[]): Promise<boolean> {
  const plugins = fastPlugins(argv);
  if (!plugins) return false;
  const { splitRunArgv, PREPARE_FLAGS } = await import('../runtime/pods/argv.js');
  const specs = await import('../runtime/flag-specs.js');
  let flags: Record<string, unknown> | undefined;
  try {
    flags = fastParseFlags(splitRunArgv(argv, PREPARE_FLAGS).podArgv, { ...specs.globalFlags, ...specs.prepareFlags, ...specs.prepareOnlyFlags });
  } catch {
    return false; // oclif's prepare reports it, the same way
  }
  if (!flags) return false;
  const parsed = flags;
  await runFast('prepare', plugins, parsed, async (io) => {
    const { prepareCommand } = await import('../runtime/pods/prepare-command.js');
    await prepareCommand({ ...io, parsePodFlags: async () => parsed, exit: (code) => void (process.exitCode = code) }, argv);
  });
  return true;
}

/** As the oclif command's init: a bare `--net` means `--net=default` (rkt). */
export function bareNetIsDefault(argv: readonly string[]): string[] {
  return argv.map((a) => (a === '--net' ? '--net=default' : a));
}

export async function fastRunPrepared(argv: readonly string[]): Promise<boolean> {
  const plugins = fastPlugins(argv);
  if (!plugins) return false;
  const specs = await import('../runtime/flag-specs.js');
  const parsed = fastParseArgv(bareNetIsDefault(argv), { ...specs.globalFlags, ...specs.runPreparedFlagSpecs() });
  if (!parsed || parsed.args.length !== 1) return false; // a missing or extra argument: oclif's words
  const uuid = parsed.args[0]!;
  await runFast('run-prepared', plugins, parsed.flags, async (io) => {
    const { runPreparedCommand } = await import('../runtime/pods/prepare-command.js');
    await runPreparedCommand({ ...io, exit: (code) => void (process.exitCode = code) }, parsed.flags, uuid);
  });
  return true;
}
