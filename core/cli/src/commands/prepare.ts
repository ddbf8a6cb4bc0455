import { RktCommand } from '../base-command.js';
import { appFlags, oclifFlags, prepareFlags } from '../runtime/pods/flag-defs.js';
import { prepareOnlyFlags } from '../runtime/flag-specs.js';

export default class Prepare extends RktCommand {
  static override description =
    'Prepare to run image(s) in a pod in rkt\n\n' +
    'Image arguments and per-app flags as for "rkt run". Prints the UUID of the prepared pod, to be started with "rkt run-prepared".';
  static override examples = ['<%= config.bin %> prepare --insecure-options=image ./app.aci', '<%= config.bin %> prepare --quiet app.aci --exec=/bin/true'];
  static override strict = false;
  static override flags = { ...prepareFlags, ...oclifFlags(prepareOnlyFlags), ...appFlags };

  async run(): Promise<void> {
    const { prepareCommand } = await import('../runtime/pods/prepare-command.js');
    await prepareCommand(this.commandIO(async (podArgv) => (await this.parse(Prepare, podArgv)).flags), this.argv);
  }
}
