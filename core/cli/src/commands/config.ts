import { Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';

/** Go's encoding/json escapes these in strings; rkt's output is Go's. */
function goJson(text: string): string {
  return text.replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

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
    process.stdout.write(goJson(flags['pretty-print'] ? JSON.stringify(json, null, '\t') : JSON.stringify(json)) + '\n');
  }
}
