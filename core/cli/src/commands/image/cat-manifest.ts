import { Args, Flags } from '@oclif/core';
import { RktCommand } from '../../base-command.js';

export default class ImageCatManifest extends RktCommand {
  static override description = 'Inspect and print the image manifest';
  static override examples = ['<%= config.bin %> image cat-manifest example.com/app:v1'];
  static override args = { image: Args.string({ description: 'image ID or name', required: true }) };
  static override flags = {
    'pretty-print': Flags.boolean({ description: 'apply indent to format the output', default: true, allowNo: true }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ImageCatManifest);
    const engine = await this.engine(flags);
    const { Store } = await import('@rkt/api');
    const { findStoredImage } = await import('../../runtime/image-commands.js');
    const { goJson } = await import('../../runtime/format.js');
    const store = await engine.host.activateDefault(Store);
    const info = await findStoredImage(store, args.image);
    const manifest = await store.images.manifest(info.id);
    process.stdout.write(goJson(manifest, flags['pretty-print'] ? '\t' : undefined) + '\n');
  }
}
