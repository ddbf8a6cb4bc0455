import { Command } from '@oclif/core';
import { runCommand } from '../cli.js';

/** `actool discover`: flags are parsed Go-style by runCommand (see goflag.ts), not by oclif. */
export default class Discover extends Command {
  static override summary = 'Discover the download URLs for one or more app container images';
  static override strict = false;

  async run(): Promise<void> {
    process.exitCode = await runCommand('discover', this.argv);
  }
}
