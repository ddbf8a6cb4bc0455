/**
 * The engine is what a command that does real work asks for: the merged rkt config, the runtime
 * paths, the extension host and a per-invocation DI child container. `version`, `help` and
 * `config` never build one.
 */
import { container as rootContainer, type DependencyContainer } from './di.js';
import { token, type InsecureOptions, type RuntimePaths, type Token } from '@rkt/api';
import { ExtensionHost, type PluginSource } from './extension-host.js';
import { loadRktConfig, type RktConfig } from './rkt-config.js';
import { loadSettings, type CliSettings } from './settings.js';
import { resolvePaths, type GlobalOptions } from './paths.js';

export interface RuntimeContext {
  paths: RuntimePaths;
  insecure: InsecureOptions;
  debug: boolean;
  trustKeysFromHttps: boolean;
  rktConfig: RktConfig;
  settings: CliSettings;
}
export const RuntimeContext = token<RuntimeContext>('rkt.core.runtime-context');
export const ExtensionHostToken = token<ExtensionHost>('rkt.core.extension-host');

export class Engine {
  constructor(
    readonly container: DependencyContainer,
    readonly context: RuntimeContext,
    readonly host: ExtensionHost,
  ) {}

  resolve<T>(t: Token<T>): T {
    return this.container.resolve<T>(t);
  }

  async dispose(): Promise<void> {
    await this.container.dispose();
  }
}

export async function bootEngine(plugins: readonly PluginSource[], opts: GlobalOptions, log: (m: string) => void): Promise<Engine> {
  const rktConfig = loadRktConfig({ system: opts.systemConfig, local: opts.localConfig, user: opts.userConfig });
  const settings = await loadSettings();
  const paths = resolvePaths(opts, rktConfig);
  const context: RuntimeContext = {
    paths,
    insecure: opts.insecure,
    debug: opts.debug,
    trustKeysFromHttps: opts.trustKeysFromHttps,
    rktConfig,
    settings,
  };
  const child = rootContainer.createChildContainer();
  const host = new ExtensionHost(plugins, {
    paths,
    debug: opts.debug,
    pluginSettings: settings.plugins,
    preferred: settings.points,
    log,
    onActivated: (point, _id, instance) => {
      // Every activated instance is also resolvable by its point's token (the last one wins);
      // selection among several is the extension host's job, never registration order.
      child.register(token(point), { useValue: instance });
    },
  });
  child.register(RuntimeContext, { useValue: context });
  child.register(ExtensionHostToken, { useValue: host });
  return new Engine(child, context, host);
}
