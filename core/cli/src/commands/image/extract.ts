import { Args, Flags } from '@oclif/core';
import { RktCommand } from '../../base-command.js';

export default class ImageExtract extends RktCommand {
  static override description = 'Extract a stored image to a directory (its manifest and rootfs, without dependencies)';
  static override examples = ['<%= config.bin %> image extract example.com/app:v1 /tmp/app', '<%= config.bin %> image extract --rootfs-only sha512-0123 /tmp/rootfs'];
  static override args = {
    image: Args.string({ description: 'image ID or name', required: true }),
    dir: Args.string({ description: 'output directory', required: true }),
  };
  static override flags = {
    'rootfs-only': Flags.boolean({ description: 'write only the rootfs, without the manifest', default: false }),
    overwrite: Flags.boolean({ description: 'overwrite the output directory', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ImageExtract);
    const engine = await this.engine(flags);
    const { Store } = await import('@rkt/api');
    const { findStoredImage } = await import('../../runtime/image-commands.js');
    const { writeImageTree } = await import('../../runtime/image-out.js');
    const store = await engine.host.activateDefault(Store);
    const info = await findStoredImage(store, args.image);
    await writeImageTree(store, info.id, args.dir, { rootfsOnly: flags['rootfs-only'], overwrite: flags.overwrite, render: false });
  }
}
