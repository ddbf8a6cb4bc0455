import { Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';
import { versionInfo, versionText } from '../version-info.js';

export default class Version extends RktCommand {
  static override description = 'Print the version and exit';
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version --json'];
  static override flags = {
    json: Flags.boolean({ description: 'print the version information as JSON', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Version);
    if (flags.json) process.stdout.write(JSON.stringify(versionInfo(), null, 2) + '\n');
    else process.stdout.write(versionText());
  }
}
