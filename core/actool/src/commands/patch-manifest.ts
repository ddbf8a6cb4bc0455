import { Command } from '@oclif/core';
import { runCommand } from '../cli.js';

/** `actool patch-manifest`: flags are parsed Go-style by runCommand (see goflag.ts), not by oclif. */
export default class PatchManifest extends Command {
  static override summary = 'Copy an ACI and patch its manifest (experimental)';
  static override strict = false;

  async run(): Promise<void> {
    process.exitCode = await runCommand('patch-manifest', this.argv);
  }
}
