import { Command } from '@oclif/core';
import { runCommand } from '../cli.js';

/** `actool help`: flags are parsed Go-style by runCommand (see goflag.ts), not by oclif. */
export default class Help extends Command {
  static override summary = 'Show a list of commands or help for one command';
  static override strict = false;

  async run(): Promise<void> {
    process.exitCode = await runCommand('help', this.argv);
  }
}
