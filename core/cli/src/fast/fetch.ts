/** `rkt fetch` without oclif (see ./index.ts). */
import { fastParseArgv, fastPlugins, runFast } from './index.js';

export async function fastFetch(argv: readonly string[]): Promise<boolean> {
  const plugins = fastPlugins(argv);
  if (!plugins) return false;
  const specs = await import('../runtime/flag-specs.js');
  const parsed = fastParseArgv(argv, { ...specs.globalFlags, ...specs.fetchFlags });
  // oclif reports a missing image and too many signatures in its own words
  if (!parsed || parsed.args.length === 0) return false;
  if (((parsed.flags.signature as string[] | undefined) ?? []).length > parsed.args.length) return false;
  await runFast('fetch', plugins, parsed.flags, async (io) => {
    const { fetchCommand } = await import('../runtime/fetch-command.js');
    await fetchCommand(io, parsed.flags, parsed.args);
  });
  return true;
}
