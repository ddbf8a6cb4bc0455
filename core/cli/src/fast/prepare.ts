/** `rkt run-prepared` without oclif (see ./index.ts): flags and the pod's UUID. */
import { fastParseArgv, fastPlugins, runFast } from './index.js';

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
