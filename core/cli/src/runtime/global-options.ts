/** rkt's global flags (parsed by oclif or by the `rkt run` fast path) as the engine's options. */
import { parseInsecureOptions } from './insecure.js';
import type { GlobalOptions } from './paths.js';

export function globalOptionsOf(flags: Record<string, unknown>): GlobalOptions {
  return {
    ...(typeof flags.dir === 'string' ? { dir: flags.dir } : {}),
    systemConfig: String(flags['system-config']),
    localConfig: String(flags['local-config']),
    ...(typeof flags['user-config'] === 'string' && flags['user-config'] ? { userConfig: flags['user-config'] } : {}),
    debug: Boolean(flags.debug),
    insecure: parseInsecureOptions(flags['insecure-options'] as string | undefined),
    trustKeysFromHttps: Boolean(flags['trust-keys-from-https']),
  };
}
