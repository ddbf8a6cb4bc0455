/**
 * `rkt image extract|render IMAGE DIR`: write an image's tree into a directory, atomically (built
 * beside the target, then renamed into place), never over `/`, over an existing directory only
 * with --overwrite.
 */
import { existsSync, mkdtempSync, renameSync, rmSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { alreadyExists, invalidArgument, type Store } from '@rkt/api';

export async function writeImageTree(
  store: Store,
  imageId: string,
  target: string,
  opts: { rootfsOnly: boolean; overwrite: boolean; render: boolean },
): Promise<void> {
  const dest = resolve(target);
  if (dest === '/') throw invalidArgument('refusing to write an image over "/"');
  if (existsSync(dest) && readdirSync(dest).length > 0 && !opts.overwrite)
    throw alreadyExists(`${target} already exists and is not empty (use --overwrite)`);
  const work = mkdtempSync(join(dirname(dest), `.${basename(dest)}.rkt-`));
  try {
    const tree = join(work, 'tree');
    if (opts.render) {
      const rendered = await store.trees.render(imageId);
      // cp -a keeps owners, modes, times, links, devices and xattrs of the rendered tree.
      const { execa } = await import('execa');
      await execa('cp', ['-a', '--reflink=auto', '--', rendered.path, tree]);
      rmSync(join(tree, 'info.json'), { force: true });
      for (const extra of readdirSync(tree)) if (!['manifest', 'rootfs'].includes(extra)) rmSync(join(tree, extra), { recursive: true, force: true });
    } else {
      await store.trees.extract(imageId, tree);
    }
    const from = opts.rootfsOnly ? join(tree, 'rootfs') : tree;
    if (existsSync(dest)) rmSync(dest, { recursive: true, force: true });
    renameSync(from, dest);
    await store.images.markUsed(imageId);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
