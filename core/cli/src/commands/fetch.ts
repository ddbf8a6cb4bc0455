import { Args, Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';

export default class Fetch extends RktCommand {
  static override description =
    'Fetch image(s) and store them in the local store\n\n' +
    'IMAGE is a file path, a file:// or https:// URL of an .aci, an appc image name with labels ' +
    '(example.com/app:v1.0.0,os=linux) found by discovery, or a URL scheme served by a fetcher plugin. ' +
    'Dependencies are fetched too. Prints the image ID of each image.';
  static override examples = [
    '<%= config.bin %> fetch ./app.aci',
    '<%= config.bin %> fetch --signature=app.aci.asc https://example.com/app.aci',
    '<%= config.bin %> fetch example.com/app:v1.0.0',
  ];
  static override strict = false;
  static override args = { image: Args.string({ description: 'image to fetch', required: true }) };
  static override flags = {
    signature: Flags.string({ description: 'local signature file to use in validating the preceding image', multiple: true, multipleNonGreedy: true }),
    'pull-policy': Flags.string({
      description: 'when to pull an image: never (store only), new (store first), update (always check the remote)',
      options: ['never', 'new', 'update'],
      default: 'update',
    }),
    full: Flags.boolean({ description: 'print the full image hash after fetching', default: false }),
    'store-only': Flags.boolean({ description: 'deprecated: same as --pull-policy=never', hidden: true, default: false }),
    'no-store': Flags.boolean({ description: 'deprecated: same as --pull-policy=update', hidden: true, default: false }),
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Fetch);
    const images = argv as string[];
    const sigs = flags.signature ?? [];
    if (sigs.length > images.length) this.error(`more --signature flags (${sigs.length}) than images (${images.length})`, { exit: 254 });
    const pullPolicy = flags['store-only'] ? 'never' : flags['no-store'] ? 'update' : (flags['pull-policy'] as 'never' | 'new' | 'update');
    const engine = await this.engine(flags);
    const { imageService } = await import('../runtime/image-commands.js');
    const { shortImageId } = await import('../runtime/image-ref.js');
    const { TtyProgress } = await import('../runtime/progress.js');
    const svc = await imageService(engine);
    for (const [i, image] of images.entries()) {
      const progress = TtyProgress.forStderr();
      const info = await svc.fetch(image, {
        pullPolicy,
        ...(sigs[i] ? { signaturePath: sigs[i] } : {}),
        ...(progress ? { progress } : {}),
        log: (m) => process.stderr.write(`image: ${m}\n`),
        debug: (m) => this.debugLine(m),
      });
      process.stdout.write(`${shortImageId(info.id, flags.full)}\n`);
    }
  }
}
