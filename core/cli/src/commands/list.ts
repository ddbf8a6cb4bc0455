import { Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';

export default class List extends RktCommand {
  static override description = 'List pods\n\nDisplays a table of information about the pods.';
  static override examples = ['<%= config.bin %> list', '<%= config.bin %> list --full --no-legend', '<%= config.bin %> list --format=json'];
  static override flags = {
    'no-legend': Flags.boolean({ description: 'suppress a legend with the list', default: false }),
    full: Flags.boolean({ description: 'use long output format', default: false }),
    format: Flags.string({ description: "choose the output format, allowed format includes 'json', 'json-pretty'. If empty, then the result is printed as key value pairs", options: ['json', 'json-pretty', ''] }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(List);
    const engine = await this.engine(flags);
    const { walkPods, LISTED_DIRS } = await import('../runtime/pods/pod.js');
    const { listRows, v1Pod } = await import('../runtime/pods/status.js');
    const { tabwrite, goJson } = await import('../runtime/format.js');
    const errors: string[] = [];
    const rows: string[][] = [];
    const pods: unknown[] = [];
    const json = flags.format === 'json' || flags.format === 'json-pretty';
    if (!json && !flags['no-legend'])
      rows.push(flags.full ? ['UUID', 'APP', 'IMAGE NAME', 'IMAGE ID', 'STATE', 'CREATED', 'STARTED', 'NETWORKS'] : ['UUID', 'APP', 'IMAGE NAME', 'STATE', 'CREATED', 'STARTED', 'NETWORKS']);
    walkPods(
      engine.context.paths.dataDir,
      LISTED_DIRS,
      (p) => {
        if (json) {
          try {
            pods.push(v1Pod(p));
          } catch (e) {
            errors.push((e as Error).message);
          }
        } else rows.push(...listRows(p, flags.full, errors));
      },
      (m) => this.warnLine(m),
    );
    if (json) process.stdout.write(goJson(pods.length ? pods : null, flags.format === 'json-pretty' ? '\t' : undefined) + '\n');
    else process.stdout.write(tabwrite(rows));
    if (errors.length) process.stderr.write(`list: listing pods:\n${errors.map((e) => `  ${e}`).join('\n')}\n`);
  }
}
