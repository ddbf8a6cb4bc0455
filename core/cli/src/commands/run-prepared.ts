import { Args } from '@oclif/core';
import { RktCommand } from '../base-command.js';
import { oclifFlags } from '../runtime/pods/flag-defs.js';
import { runPreparedFlagSpecs } from '../runtime/flag-specs.js';

const runPreparedFlags = oclifFlags(runPreparedFlagSpecs());

export default class RunPrepared extends RktCommand {
  static override description = 'Run a prepared application pod in rkt\n\nUUID must have been acquired via "rkt prepare".';
  static override examples = ['<%= config.bin %> run-prepared --net=host 5f3a9d2c'];
  static override args = { uuid: Args.string({ description: 'UUID of the prepared pod (or a unique prefix)', required: true }) };
  static override flags = runPreparedFlags;

  /** A bare `--net` means `--net=default`, as rkt. */
  override async init(): Promise<void> {
    const { bareNetIsDefault } = await import('../fast/prepare.js');
    this.argv = bareNetIsDefault(this.argv);
    await super.init();
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(RunPrepared);
    const { runPreparedCommand } = await import('../runtime/pods/prepare-command.js');
    await runPreparedCommand(
      this.commandIO(async () => flags),
      flags,
      args.uuid,
    );
  }
}
