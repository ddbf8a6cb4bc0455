/** `rkt run` without oclif (see ./index.ts): rkt's own argv splitter, then the shared command body. */
import { fastParseFlags, fastPlugins, runFast } from './index.js';

export async function fastRun(argv: readonly string[]): Promise<boolean> {
  const plugins = fastPlugins(argv);
  if (!plugins) return false;
  const { splitRunArgv, RUN_FLAGS } = await import('../runtime/pods/argv.js');
  const specs = await import('../runtime/flag-specs.js');
  let flags: Record<string, unknown> | undefined;
  try {
    flags = fastParseFlags(splitRunArgv(argv, RUN_FLAGS).podArgv, { ...specs.globalFlags, ...specs.prepareFlags, ...specs.runOnlyFlags });
  } catch {
    return false; // oclif's run reports it, the same way
  }
  if (!flags) return false;
  const parsed = flags;
  await runFast('run', plugins, parsed, async (io) => {
    const { runCommand } = await import('../runtime/pods/run-command.js');
    await runCommand({ ...io, parsePodFlags: async () => parsed, exit: (code) => void (process.exitCode = code) }, argv);
  });
  return true;
}
