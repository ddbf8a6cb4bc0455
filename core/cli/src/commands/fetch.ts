import { Args } from '@oclif/core';
import { fetchFlags } from '../runtime/flag-specs.js';
import { oclifFlags } from '../runtime/pods/flag-defs.js';
import { RktCommand } from '../base-command.js';

export default class Fetch extends RktCommand {
  static override description =
    'Fetch image(s) and store them in the local store\n\n' +
    'IMAGE is a file path, a file:// or https:// URL of an .aci, an appc image name with labels ' +
    '(example.com/app:v1.0.0,os=linux) found by discovery, or a URL scheme served by a fetcher plugin. ' +
    'Dependencies are fetched too. Prints the image ID of each image.';
  static override examples = [
    '<%= config.bin %> fetch ./app.aci',
    '<%= config.bin %> fetch --signature=app.aci.asc https://example.com/app.aci',
    '<%= config.bin %> fetch example.com/app:v1.0.0',
  ];
  static override strict = false;
  static override args = { image: Args.string({ description: 'image to fetch', required: true }) };
  static override flags = oclifFlags(fetchFlags);

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Fetch);
    const { fetchCommand } = await import('../runtime/fetch-command.js');
    await fetchCommand({ engine: (f) => this.engine(f), debugLine: (m) => this.debugLine(m) }, flags, argv as string[]);
  }
}
