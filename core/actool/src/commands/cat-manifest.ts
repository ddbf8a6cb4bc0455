import { Command } from '@oclif/core';
import { runCommand } from '../cli.js';

/** `actool cat-manifest`: flags are parsed Go-style by runCommand (see goflag.ts), not by oclif. */
export default class CatManifest extends Command {
  static override summary = 'Print the manifest from an ACI';
  static override strict = false;

  async run(): Promise<void> {
    process.exitCode = await runCommand('cat-manifest', this.argv);
  }
}
