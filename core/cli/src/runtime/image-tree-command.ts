import { Args, Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';

/** `rkt image extract` and `rkt image render`: an image's tree into a directory. */
export abstract class ImageTreeCommand extends RktCommand {
  static override args = {
    image: Args.string({ description: 'image ID or name', required: true }),
    dir: Args.string({ description: 'output directory', required: true }),
  };
  static override flags = {
    'rootfs-only': Flags.boolean({ description: 'write only the rootfs, without the manifest', default: false }),
    overwrite: Flags.boolean({ description: 'overwrite the output directory', default: false }),
  };
  /** true: with dependencies, as pods see it (render); false: the image alone (extract). */
  protected abstract readonly render: boolean;

  async run(): Promise<void> {
    const { args, flags } = await this.parse(this.constructor as typeof ImageTreeCommand);
    const engine = await this.engine(flags);
    const { Store } = await import('@rkt/api');
    const { findStoredImage } = await import('./image-commands.js');
    const { writeImageTree } = await import('./image-out.js');
    const store = await engine.host.activateDefault(Store);
    const info = await findStoredImage(store, args.image);
    await writeImageTree(store, info.id, args.dir, { rootfsOnly: flags['rootfs-only'], overwrite: flags.overwrite, render: this.render });
  }
}
