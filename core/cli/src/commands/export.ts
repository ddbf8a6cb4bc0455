import { Args, Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';

export default class Export extends RktCommand {
  static override description = 'Export an app from an exited pod to an ACI file\n\nThe output is a gzip-compressed ACI of the app\'s root filesystem and its image manifest.';
  static override examples = ['<%= config.bin %> export 5f3a9d2c app.aci', '<%= config.bin %> export --app=web --overwrite 5f3a9d2c web.aci'];
  static override args = {
    uuid: Args.string({ description: 'pod UUID (or a unique prefix)', required: true }),
    out: Args.string({ description: 'output ACI file (.aci)', required: true }),
  };
  static override flags = {
    app: Flags.string({ description: 'name of the app to export within the specified pod' }),
    overwrite: Flags.boolean({ description: 'overwrite output ACI', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Export);
    const engine = await this.engine(flags);
    const { RktError, ErrorCodes, Store } = await import('@rkt/api');
    const { podFromUuidString } = await import('../runtime/pods/uuid.js');
    let pod;
    try {
      pod = podFromUuidString(engine.context.paths.dataDir, args.uuid);
    } catch (e) {
      throw new RktError(ErrorCodes.NOT_FOUND, 'problem retrieving pod', { cause: e });
    }
    const { exportPod } = await import('../runtime/pods/export.js');
    await exportPod(pod, flags.app, args.out, flags.overwrite, () => engine.host.activateDefault(Store));
  }
}
