import { Command } from '@oclif/core';
import { runCommand } from '../cli.js';

/** `actool version`: flags are parsed Go-style by runCommand (see goflag.ts), not by oclif. */
export default class Version extends Command {
  static override summary = 'Print the version and exit';
  static override strict = false;

  async run(): Promise<void> {
    process.exitCode = await runCommand('version', this.argv);
  }
}
