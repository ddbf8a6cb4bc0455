import { Command } from '@oclif/core';
import { runCommand } from '../cli.js';

/** `actool validate`: flags are parsed Go-style by runCommand (see goflag.ts), not by oclif. */
export default class Validate extends Command {
  static override summary = 'Validate that one or more images or manifests meet the AppContainer specification';
  static override strict = false;

  async run(): Promise<void> {
    process.exitCode = await runCommand('validate', this.argv);
  }
}
