/**
 * Mounts of a fly pod, made in the host mount namespace as rkt fly does (so that mounts an app
 * makes inside a volume can be seen from the host). gc unmounts everything under the pod.
 *
 * Every target is resolved inside the app rootfs (symlinks interpreted relative to it), created
 * through the in-rootfs walker and checked to be free of symlinks right before util-linux mount
 * is called with --no-canonicalize, so nothing from the image can redirect a mount to the host.
 * Nothing of the pod runs yet while these mounts are made. Every bind is made a slave right
 * away, so unmounting the pod's copies never propagates back to the host.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stage1Error, mkdirInRoot, resolveInRoot, runTool, touchInRoot, type Logger } from '@rkt/stage1-native/common';

export class FlyMounter {
  constructor(
    readonly rootfs: string,
    private readonly mountTool: string,
    private readonly log: Logger,
  ) {}

  /** Create `target` (a directory, or a file when `file`) inside the rootfs; returns its host path. */
  target(target: string, file: boolean): string {
    const host = file ? touchInRoot(this.rootfs, target) : mkdirInRoot(this.rootfs, target);
    this.checkNoSymlinks(host);
    return host;
  }

  private checkNoSymlinks(host: string): void {
    const rel = path.relative(this.rootfs, host);
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Stage1Error(`mount target ${host} escapes the app rootfs`);
    let cur = this.rootfs;
    for (const c of rel.split('/').filter(Boolean)) {
      cur = path.join(cur, c);
      if (fs.lstatSync(cur).isSymbolicLink()) throw new Stage1Error(`mount target ${host} contains a symlink`);
    }
  }

  private mount(args: string[], host: string): void {
    this.checkNoSymlinks(host);
    this.log.debug(`mount ${args.join(' ')} ${host}`);
    runTool(this.mountTool, ['--no-canonicalize', ...args, host]);
  }

  bind(source: string, target: string, o: { recursive: boolean; readOnly: boolean; file?: boolean }): void {
    const host = this.target(target, o.file ?? !fs.statSync(source).isDirectory());
    this.mount([o.recursive ? '--rbind' : '--bind', source], host);
    runTool(this.mountTool, ['--no-canonicalize', o.recursive ? '--make-rslave' : '--make-slave', host]);
    if (o.readOnly) this.mount(['-o', 'remount,bind,ro'], host);
  }

  tmpfs(target: string, options: string): void {
    const host = this.target(target, false);
    this.mount(['-t', 'tmpfs', '-o', options, 'tmpfs'], host);
  }

  /** Bind the rootfs onto itself (to remount it read-only once everything is mounted on it). */
  bindRootfsOnItself(): void {
    runTool(this.mountTool, ['--no-canonicalize', '--bind', this.rootfs, this.rootfs]);
    runTool(this.mountTool, ['--no-canonicalize', '--make-private', this.rootfs]);
  }

  remountRootfsReadOnly(): void {
    runTool(this.mountTool, ['--no-canonicalize', '-o', 'remount,bind,ro', this.rootfs]);
  }

  /** /dev, /proc and /sys must be real directories (or absent) in the image. */
  checkApiDirs(): void {
    for (const d of ['/dev', '/proc', '/sys']) {
      const st = fs.lstatSync(path.join(this.rootfs, d), { throwIfNoEntry: false });
      if (st && !st.isDirectory()) throw new Stage1Error(`${d} in the app image is not a directory`);
    }
    void resolveInRoot;
  }
}
