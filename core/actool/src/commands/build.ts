import { Command } from '@oclif/core';
import { runCommand } from '../cli.js';

/** `actool build`: flags are parsed Go-style by runCommand (see goflag.ts), not by oclif. */
export default class Build extends Command {
  static override summary = 'Build an ACI from an Image Layout (experimental)';
  static override strict = false;

  async run(): Promise<void> {
    process.exitCode = await runCommand('build', this.argv);
  }
}
