import { Flags } from '@oclif/core';
import { RktCommand } from '../../base-command.js';

export default class ImageGc extends RktCommand {
  static override description =
    'Garbage collect local store\n\nRemoves rendered trees that no pod references, images not used within the grace period (never those of running pods), and leftovers of interrupted fetches and renders.';
  static override examples = ['<%= config.bin %> image gc', '<%= config.bin %> image gc --grace-period=0s'];
  static override flags = {
    'grace-period': Flags.string({ description: 'duration to wait since an image was last used before removing it', default: '24h0m0s' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ImageGc);
    const { parseDuration } = await import('../../runtime/duration.js');
    const grace = parseDuration(flags['grace-period'], '--grace-period');
    const engine = await this.engine(flags);
    const { Store } = await import('@rkt/api');
    const { podTreeReferences } = await import('../../runtime/pod-refs.js');
    const store = await engine.host.activateDefault(Store);
    const refs = podTreeReferences(engine.context.paths.dataDir);
    const report = await store.gc({ referencedTrees: refs.trees, imageGracePeriodMs: grace, imagesInUse: refs.runningImages });
    for (const t of report.removedTrees) this.warnLine(`removed treestore ${JSON.stringify(t)}`);
    for (const i of report.removedImages) process.stdout.write(`successfully removed aci for image: ${JSON.stringify(i)}\n`);
    if (report.removedImages.length) this.warnLine(`${report.removedImages.length} image(s) successfully removed`);
    for (const e of report.errors) this.warnLine(e);
    if (report.errors.length) this.exit(254);
  }
}
