import { Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';
import { appFlags, prepareFlags } from '../runtime/pods/flag-defs.js';

export default class Prepare extends RktCommand {
  static override description =
    'Prepare to run image(s) in a pod in rkt\n\n' +
    'Image arguments and per-app flags as for "rkt run". Prints the UUID of the prepared pod, to be started with "rkt run-prepared".';
  static override examples = ['<%= config.bin %> prepare --insecure-options=image ./app.aci', '<%= config.bin %> prepare --quiet app.aci --exec=/bin/true'];
  static override strict = false;
  static override flags = { ...prepareFlags, quiet: Flags.boolean({ description: 'suppress superfluous output on stdout, print only the UUID on success', default: false }), ...appFlags };

  async run(): Promise<void> {
    const { splitRunArgv, PREPARE_FLAGS } = await import('../runtime/pods/argv.js');
    const split = splitRunArgv(this.argv, PREPARE_FLAGS);
    const { flags } = await this.parse(Prepare, split.podArgv);
    const { ensureSuperuser } = await import('../runtime/pods/cli.js');
    const { prepareRequest } = await import('../runtime/pods/requests.js');
    const req = prepareRequest(split, flags, { portsAllowed: true, log: (m) => this.warnLine(m), debug: (m) => this.debugLine(m) });
    ensureSuperuser();
    const engine = await this.engine(flags);
    const { preparePod } = await import('../runtime/pods/prepare.js');
    const { pod } = await preparePod(engine, req);
    pod.toPrepared();
    process.stdout.write(`${pod.uuid}\n`);
  }
}
