import { Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';

export default class Config extends RktCommand {
  static override description =
    'Print configuration for each stage in JSON format\n\nThe output is parsable JSON with "stage0" as key and rkt configuration entries as values, in the shape of rkt\'s configuration files (system, then local, then user config, merged).';
  static override examples = ['<%= config.bin %> config', '<%= config.bin %> config --pretty-print=false'];
  static override flags = {
    'pretty-print': Flags.boolean({ description: 'apply indent to format the output', default: true, allowNo: true }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Config);
    const opts = await this.globalOptions(flags);
    const { loadRktConfig, configToJson } = await import('../runtime/rkt-config.js');
    const cfg = loadRktConfig({ system: opts.systemConfig, local: opts.localConfig, user: opts.userConfig });
    const json = configToJson(cfg);
    const { goJson } = await import('../runtime/format.js');
    process.stdout.write(goJson(json, flags['pretty-print'] ? '\t' : undefined) + '\n');
  }
}
