import { Args, Flags } from '@oclif/core';
import { RktCommand } from '../../base-command.js';

export default class ImageExport extends RktCommand {
  static override description = 'Export a stored image to an (uncompressed) ACI file';
  static override examples = ['<%= config.bin %> image export example.com/app:v1 app.aci'];
  static override args = {
    image: Args.string({ description: 'image ID or name', required: true }),
    output: Args.string({ description: 'output ACI file', required: true }),
  };
  static override flags = {
    overwrite: Flags.boolean({ description: 'overwrite the output file if it exists', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ImageExport);
    const engine = await this.engine(flags);
    const { Store, alreadyExists } = await import('@rkt/api');
    const { findStoredImage } = await import('../../runtime/image-commands.js');
    const { writeFileAtomically } = await import('../../runtime/files.js');
    const { existsSync } = await import('node:fs');
    if (existsSync(args.output) && !flags.overwrite) throw alreadyExists(`${args.output} already exists (use --overwrite)`);
    const store = await engine.host.activateDefault(Store);
    const info = await findStoredImage(store, args.image);
    await writeFileAtomically(args.output, store.images.openAci(info.id));
    await store.images.markUsed(info.id);
  }
}
