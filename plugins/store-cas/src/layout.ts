/**
 * On-disk layout under the data dir (mirrors rkt's where it makes sense):
 *
 *   cas/blob/sha512/<2 hex>/<image id>   the image as an uncompressed ACI tar
 *   cas/db/index.sqlite                  the index (images, remotes, trees)
 *   cas/tree/<tree id>/                  rendered trees: manifest, rootfs/, info.json, rendered
 *   cas/tmp/                             temporary files: ours are `import.*`, `tree.*`, `trash.*`
 *                                        (owner-tagged, see owner.ts); fetchers get this dir too
 */
import { invalidArgument } from '@rkt/api';

export const IMAGE_ID_RE = /^sha512-[0-9a-f]{128}$/;
export const IMAGE_PREFIX_RE = /^sha512-[0-9a-f]{2,128}$/;
export const TREE_ID_RE = /^deps-sha512-[0-9a-f]{64}$/;

export class Layout {
  readonly cas: string;
  readonly blobs: string;
  readonly dbDir: string;
  readonly dbFile: string;
  readonly trees: string;
  readonly tmp: string;

  constructor(readonly dataDir: string) {
    this.cas = `${dataDir}/cas`;
    this.blobs = `${this.cas}/blob/sha512`;
    this.dbDir = `${this.cas}/db`;
    this.dbFile = `${this.dbDir}/index.sqlite`;
    this.trees = `${this.cas}/tree`;
    this.tmp = `${this.cas}/tmp`;
  }

  blobDir(id: string): string {
    return `${this.blobs}/${checkImageId(id).slice(7, 9)}`;
  }

  blob(id: string): string {
    return `${this.blobDir(id)}/${id}`;
  }

  tree(treeId: string): string {
    return `${this.trees}/${checkTreeId(treeId)}`;
  }
}

/** Every id that becomes part of a path is checked against a strict pattern first. */
export function checkImageId(id: string): string {
  if (!IMAGE_ID_RE.test(id)) {
    throw invalidArgument(`invalid image ID "${id}": expected sha512- followed by 128 lowercase hex digits`);
  }
  return id;
}

export function checkTreeId(id: string): string {
  if (!TREE_ID_RE.test(id)) {
    throw invalidArgument(`invalid tree ID "${id}": expected deps-sha512- followed by 64 lowercase hex digits`);
  }
  return id;
}
