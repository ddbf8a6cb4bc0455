import { ImageTreeCommand } from '../../runtime/image-tree-command.js';

export default class ImageExtract extends ImageTreeCommand {
  static override description = 'Extract a stored image to a directory (its manifest and rootfs, without dependencies)';
  static override examples = ['<%= config.bin %> image extract example.com/app:v1 /tmp/app', '<%= config.bin %> image extract --rootfs-only sha512-0123 /tmp/rootfs'];
  // oclif spreads the command class when parsing, which drops inherited statics: restate them.
  static override args = ImageTreeCommand.args;
  static override flags = ImageTreeCommand.flags;
  protected readonly render = false;
}
