import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { commands } from '@oclif/plugin-plugins';

const OclifInstall: (typeof commands)['plugins:install'] = commands['plugins:install'];

/** A local directory or tarball given as a plain path (oclif would read `a/b` as a GitHub slug). */
function localSpec(arg: string): string {
  if (arg.startsWith('-') || arg.includes(':')) return arg;
  const looksLikePath = arg.startsWith('/') || arg.startsWith('./') || arg.startsWith('../') || arg === '.';
  if (looksLikePath || (arg.includes('/') && !arg.startsWith('@') && existsSync(arg))) return `file:${resolve(arg)}`;
  return arg;
}

export default class PluginsInstall extends OclifInstall {
  static override description =
    'Install a plugin into the CLI: an npm package name, a local directory or tarball path, or a git URL\n\n' +
    'The plugin is installed into the CLI\'s data directory ($RKT_DATA_DIR, default ~/.local/share/rkt). Its contributions (package.json "rkt.contributes") are then used by the commands that need them, with no change to rkt itself.';
  static override examples = [
    { command: '<%= config.bin %> plugins install ./my-rkt-plugin', description: 'Install a plugin from a local directory.' },
    { command: '<%= config.bin %> plugins install rkt-plugin-mirror-fetcher', description: 'Install a plugin from the npm registry.' },
  ];

  override async run(): Promise<void> {
    this.argv = this.argv.map(localSpec);
    await super.run();
  }
}
