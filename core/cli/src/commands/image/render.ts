import { ImageTreeCommand } from '../../runtime/image-tree-command.js';

export default class ImageRender extends ImageTreeCommand {
  static override description = 'Render a stored image with its dependencies (as pods see it) into a directory';
  static override examples = ['<%= config.bin %> image render example.com/app:v1 /tmp/app', '<%= config.bin %> image render --rootfs-only sha512-0123 /tmp/rootfs'];
  // oclif spreads the command class when parsing, which drops inherited statics: restate them.
  static override args = ImageTreeCommand.args;
  static override flags = ImageTreeCommand.flags;
  protected readonly render = true;
}
