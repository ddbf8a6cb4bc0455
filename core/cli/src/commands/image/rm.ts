import { Args } from '@oclif/core';
import { RktCommand } from '../../base-command.js';

export default class ImageRm extends RktCommand {
  static override description = 'Remove one or more images with the given IDs or image names from the local store';
  static override examples = ['<%= config.bin %> image rm sha512-7d6e3b4f…', '<%= config.bin %> image rm example.com/app:v1'];
  static override strict = false;
  static override args = { image: Args.string({ description: 'image ID or name', required: true }) };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(ImageRm);
    const engine = await this.engine(flags);
    const { Store, formatError } = await import('@rkt/api');
    const { findStoredImage } = await import('../../runtime/image-commands.js');
    const store = await engine.host.activateDefault(Store);
    let done = 0;
    let failed = 0;
    for (const arg of argv as string[]) {
      try {
        const info = await findStoredImage(store, arg);
        await store.images.remove(info.id);
        process.stdout.write(`successfully removed aci for image: ${JSON.stringify(info.id)}\n`);
        done++;
      } catch (e) {
        failed++;
        this.warnLine(`${arg}: ${formatError(e)}`);
      }
    }
    if (done > 0) this.warnLine(`${done} image(s) successfully removed`);
    if (failed > 0) this.exit(254);
  }
}
