/**
 * The archive layout rules of an ACI (appc "Image Archives"), stricter than the reference actool
 * where it is lax; shared by the streaming scan (scan.ts) and the file check (check.ts):
 * - exactly one `manifest`, a regular file (a second one is an error; the reference keeps the last);
 * - a `rootfs` directory entry; every other entry is under `rootfs/` — the reference only checks the
 *   string prefix "rootfs", so it accepts `rootfsX/a`; we refuse it;
 * - no absolute names, no `..` components, no duplicate entries.
 */
import { invalidArgument, type ImageManifest } from '@rkt/api';
import { parseImageManifest } from '../schema/index.js';

/** `filepath.Clean`-like normalisation of an archive name; throws on absolute names and `..`. */
export function layoutName(raw: string): string {
  if (raw.startsWith('/')) throw invalidArgument(`invalid ACI: absolute entry name ${JSON.stringify(raw)}`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalidArgument(`invalid ACI: entry name ${JSON.stringify(raw)} contains ".."`);
  return parts.join('/') || '.';
}

export interface LayoutEntryType {
  isFile: boolean;
  isDirectory: boolean;
  /** For messages: "symlink", "directory", … */
  typeName: string;
}

/** Feed every entry in archive order to `entry()`, the manifest's bytes to `manifest()`, then `finish()`. */
export class LayoutRules {
  private readonly seen = new Set<string>();
  private manifestBytes: Buffer | undefined;
  private rootfs = false;

  /** What the entry is: the `manifest` (read it), `.` (skip it), or content under rootfs. Throws on a violation. */
  entry(rawName: string, type: LayoutEntryType): 'manifest' | 'skip' | 'rootfs' {
    const name = layoutName(rawName);
    if (name === 'manifest') {
      if (this.manifestBytes) throw invalidArgument('invalid ACI: more than one manifest entry');
      if (!type.isFile) throw invalidArgument(`invalid ACI: the manifest is not a regular file (it is a ${type.typeName})`);
      return 'manifest';
    }
    if (name === '.') return 'skip';
    if (name === 'rootfs') {
      if (!type.isDirectory) throw invalidArgument('invalid ACI: rootfs is not a directory');
      if (this.rootfs) throw invalidArgument('invalid ACI: duplicate file entry in archive: rootfs');
      this.rootfs = true;
    } else if (!name.startsWith('rootfs/')) {
      throw invalidArgument(`invalid ACI: unrecognized file path in layout: ${JSON.stringify(name)} (everything but the manifest must be under rootfs/)`);
    } else {
      if (this.seen.has(name)) throw invalidArgument(`invalid ACI: duplicate file entry in archive: ${name}`);
      this.seen.add(name);
    }
    return 'rootfs';
  }

  manifest(bytes: Buffer): void {
    this.manifestBytes = bytes;
  }

  /** The parsed manifest; throws if the manifest or rootfs is missing. */
  finish(parse: ((b: Buffer) => ImageManifest) | undefined): { manifest: ImageManifest; manifestBytes: Buffer } {
    if (!this.manifestBytes) throw invalidArgument('invalid ACI: no image manifest found in layout');
    if (!this.rootfs) throw invalidArgument('invalid ACI: no rootfs found in layout');
    const manifestBytes = this.manifestBytes;
    return { manifest: (parse ?? ((b: Buffer) => parseImageManifest(b)))(manifestBytes), manifestBytes };
  }
}
