/**
 * Safe extraction of ACI `rootfs/` entries into a tree, one image after another.
 *
 * Model: the tree root R is a chroot. Every entry name is cleaned lexically (`..` clamped at the
 * archive root); its parent directories are then resolved component by component *inside R*:
 * a symlink met on the way is followed with chroot semantics (absolute targets restart at R,
 * `..` stops at R), so `x -> /etc` followed by `x/passwd` lands in `R/etc/passwd`, never on the
 * host. The last component is never followed: whatever is there is unlinked (or, for a directory
 * replaced by a non-directory, removed recursively) and the new entry is created with
 * O_CREAT|O_EXCL|O_NOFOLLOW, so nothing is ever written through an existing link. Hard-link
 * targets are resolved the same way and must be non-directories inside R.
 *
 * Why lstat-based checks are enough here (Node has no openat/RESOLVE_IN_ROOT): R is a fresh
 * private directory (0700, under the store's tmp dir) that only this writer touches until it is
 * renamed into the tree store, so nothing can swap a checked component between check and use.
 * The cache of known directories is updated on every removal (the node-tar cache-poisoning bug
 * class, CVE-2021-32803, came from a cache that was not).
 *
 * Directory modes and mtimes are applied at the end (deepest first), through an fd opened with
 * O_DIRECTORY|O_NOFOLLOW, so that read-only directories can still be filled and children do not
 * bump their parents' mtimes. Device nodes are created only when running as root (through
 * mknod(1); Node has no mknod), FIFOs always. Extended attributes (PAX `SCHILY.xattr.*`) cannot be
 * set from Node without a native module; they are counted and reported as skipped.
 */
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import type { Header } from 'tar-stream';
import { invalidArgument } from '@rkt/api';
import { removeAll } from './fsutil.js';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_DIRECTORY } = fs.constants;

export const MAX_DEPTH = 1024;
export const MAX_PATH_BYTES = 4096;
const MAX_SYMLINK_HOPS = 40;

export interface LayerOptions {
  /** Name used in error messages (the image id). */
  label: string;
  /** Whether to keep an entry (`/`-rooted path inside rootfs, e.g. `/etc/passwd`). */
  filter?: (path: string, isDir: boolean) => boolean;
  /** Called with the bytes of the archive's `manifest` entry. */
  onManifest?: (bytes: Buffer) => void;
  /** Test hook: awaited before each entry is written. */
  beforeEntry?: (name: string) => Promise<void> | void;
}

export interface WriterStats {
  entries: number;
  skippedDevices: number;
  skippedXattrs: number;
}

interface DirMeta {
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
}

/** Lexically clean a tar name: drop empty and `.` components, `..` pops (clamped at the start). */
export function cleanComponents(name: string): string[] {
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop();
    else out.push(c);
  }
  return out;
}

export class TreeWriter {
  readonly stats: WriterStats = { entries: 0, skippedDevices: 0, skippedXattrs: 0 };
  /** rootfs-relative real paths ('' is R) known to be real directories (no symlink anywhere). */
  private readonly dirs = new Set<string>(['']);
  /** Metadata to apply to directories at the end, keyed like `dirs`. */
  private readonly dirMeta = new Map<string, DirMeta>();
  private readonly asRoot: boolean;

  constructor(
    readonly root: string,
    options: { asRoot?: boolean } = {},
  ) {
    this.asRoot = options.asRoot ?? process.getuid?.() === 0;
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  private invalid(label: string, entry: string, why: string): Error {
    return invalidArgument(`image ${label}: refusing archive entry "${entry}": ${why}`, {
      details: { image: label, entry },
    });
  }

  /**
   * Resolve directory components inside R with chroot semantics. Returns the real rootfs-relative
   * path of a real directory. Missing components are created (0755) when `create`, otherwise
   * `undefined` is returned.
   */
  private resolveDir(comps: string[], create: boolean, label: string, entry: string): string | undefined {
    const direct = comps.join('/');
    if (this.dirs.has(direct)) return direct;
    let stack: string[] = [];
    // stack[0..real) exist as real directories; anything above is missing (resolved lexically, as
    // a missing directory cannot contain symlinks) and is created at the end when `create`.
    let real = 0;
    const queue = comps.slice().reverse();
    let hops = 0;
    while (queue.length > 0) {
      const c = queue.pop()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        stack.pop();
        if (real > stack.length) real = stack.length;
        continue;
      }
      stack.push(c);
      if (real < stack.length - 1) continue; // below a missing directory
      const rel = stack.join('/');
      if (rel.length > MAX_PATH_BYTES) throw this.invalid(label, entry, 'path too long');
      if (this.dirs.has(rel)) {
        real = stack.length;
        continue;
      }
      const abs = this.abs(rel);
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(abs);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      if (st === undefined) continue; // missing: stays above `real`
      if (st.isDirectory()) {
        this.dirs.add(rel);
        real = stack.length;
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw this.invalid(label, entry, 'too many levels of symbolic links');
        const target = fs.readlinkSync(abs);
        stack.pop();
        if (target.startsWith('/')) stack = [];
        if (real > stack.length) real = stack.length;
        const tc = target.split('/');
        for (let i = tc.length - 1; i >= 0; i--) queue.push(tc[i]!);
        continue;
      }
      if (!create) return undefined;
      throw this.invalid(label, entry, `"/${rel}" is not a directory`);
    }
    if (stack.length > MAX_DEPTH) throw this.invalid(label, entry, 'path too deep');
    for (let i = real; i < stack.length; i++) {
      if (!create) return undefined;
      const rel = stack.slice(0, i + 1).join('/');
      fs.mkdirSync(this.abs(rel), 0o755);
      this.dirs.add(rel);
    }
    return stack.join('/');
  }

  /** Forget cached knowledge about `rel` and everything below it (it is being removed). */
  private forget(rel: string): void {
    const prefix = `${rel}/`;
    this.dirs.delete(rel);
    this.dirMeta.delete(rel);
    for (const d of this.dirs) if (d.startsWith(prefix)) this.dirs.delete(d);
    for (const d of this.dirMeta.keys()) if (d.startsWith(prefix)) this.dirMeta.delete(d);
  }

  /** Clear the place for a new entry at `rel`; returns true when a directory is already there and kept. */
  private clear(rel: string, keepDir: boolean): boolean {
    if (keepDir && this.dirs.has(rel)) return true;
    const abs = this.abs(rel);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    if (st.isDirectory()) {
      if (keepDir) {
        this.dirs.add(rel);
        return true;
      }
      this.forget(rel);
      removeAll(abs);
      return false;
    }
    fs.unlinkSync(abs);
    return false;
  }

  /** Extract one archive's `rootfs/` on top of what is already in R. */
  applyLayer(source: Readable, opts: LayerOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const ex = tarStream.extract();
      let failed = false;
      const fail = (err: unknown) => {
        if (failed) return;
        failed = true;
        source.unpipe?.(ex);
        source.destroy?.();
        ex.destroy();
        reject(err);
      };
      source.on('error', fail);
      ex.on('error', fail);
      ex.on('finish', () => {
        if (!failed) resolve();
      });
      ex.on('entry', (header, stream, next) => {
        const done = (err?: unknown) => {
          if (err !== undefined) {
            stream.resume();
            fail(err);
            return;
          }
          next();
        };
        const run = () => {
          try {
            this.entry(header, stream as unknown as Readable, opts, done);
          } catch (e) {
            done(e);
          }
        };
        if (opts.beforeEntry === undefined) run();
        else Promise.resolve(opts.beforeEntry(header.name)).then(run, done);
      });
      source.pipe(ex);
    });
  }

  private entry(
    header: Header,
    stream: Readable,
    opts: LayerOptions,
    done: (err?: unknown) => void,
  ): void {
    const label = opts.label;
    const comps = cleanComponents(header.name);
    const drain = () => {
      stream.on('end', () => done());
      stream.resume();
    };
    if (comps.length === 1 && comps[0] === 'manifest' && header.type === 'file') {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        try {
          opts.onManifest?.(Buffer.concat(chunks));
          done();
        } catch (e) {
          done(e);
        }
      });
      return;
    }
    if (comps.length === 0 || comps[0] !== 'rootfs') return drain();
    const rel = comps.slice(1);
    if (rel.length > MAX_DEPTH) throw this.invalid(label, header.name, 'path too deep');
    const isDir = header.type === 'directory';
    const path = `/${rel.join('/')}`;
    if (rel.length > 0 && opts.filter !== undefined && !opts.filter(path, isDir)) return drain();
    this.stats.entries++;
    if (header.pax) {
      for (const k of Object.keys(header.pax as Record<string, string>)) {
        if (k.startsWith('SCHILY.xattr.')) this.stats.skippedXattrs++;
      }
    }

    if (rel.length === 0) {
      if (!isDir) throw this.invalid(label, header.name, 'the rootfs itself must be a directory');
      this.dirMeta.set('', { mode: header.mode, uid: header.uid, gid: header.gid, mtime: header.mtime });
      return drain();
    }
    const parent = this.resolveDir(rel.slice(0, -1), true, label, header.name)!;
    const leaf = rel[rel.length - 1]!;
    const target = parent === '' ? leaf : `${parent}/${leaf}`;
    const abs = this.abs(target);
    const uid = header.uid ?? 0;
    const gid = header.gid ?? 0;
    const mode = (header.mode ?? 0o644) & 0o7777;
    const mtime = header.mtime ?? new Date(0);

    switch (header.type) {
      case 'directory': {
        if (!this.dirs.has(target)) {
          try {
            fs.mkdirSync(abs, 0o700);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
            if (!this.clear(target, true)) fs.mkdirSync(abs, 0o700);
          }
          this.dirs.add(target);
        }
        this.dirMeta.set(target, { mode, uid, gid, mtime });
        return drain();
      }
      case 'file':
      case 'contiguous-file': {
        let fd: number;
        try {
          // Usually nothing is there yet: try first, clear and retry only on EEXIST.
          fd = fs.openSync(abs, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          this.clear(target, false);
          fd = fs.openSync(abs, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
        }
        let closed = false;
        const close = () => {
          if (!closed) {
            closed = true;
            fs.closeSync(fd);
          }
        };
        stream.on('data', (chunk: Buffer) => {
          try {
            let off = 0;
            while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
          } catch (e) {
            close();
            stream.destroy(e as Error);
          }
        });
        stream.on('error', (e) => {
          close();
          done(e);
        });
        stream.on('end', () => {
          try {
            if (this.asRoot) fs.fchownSync(fd, uid, gid);
            fs.fchmodSync(fd, mode); // after chown, which clears setuid/setgid
            fs.futimesSync(fd, mtime, mtime);
            close();
            done();
          } catch (e) {
            close();
            done(e);
          }
        });
        return;
      }
      case 'symlink': {
        this.clear(target, false);
        fs.symlinkSync(header.linkname ?? '', abs);
        if (this.asRoot) fs.lchownSync(abs, uid, gid);
        fs.lutimesSync(abs, mtime, mtime);
        return drain();
      }
      case 'link': {
        const lc = cleanComponents(header.linkname ?? '');
        if (lc.length < 2 || lc[0] !== 'rootfs') {
          throw this.invalid(label, header.name, `hard link target "${header.linkname}" is not inside rootfs`);
        }
        const lrel = lc.slice(1);
        const lparent = this.resolveDir(lrel.slice(0, -1), false, label, header.name);
        const ltarget =
          lparent === undefined ? undefined : lparent === '' ? lrel[lrel.length - 1]! : `${lparent}/${lrel[lrel.length - 1]}`;
        let lst: fs.Stats | undefined;
        if (ltarget !== undefined) {
          try {
            lst = fs.lstatSync(this.abs(ltarget));
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
          }
        }
        if (lst === undefined) {
          // The target was filtered out by a pathWhitelist: the link goes with it.
          if (opts.filter !== undefined) return drain();
          throw this.invalid(label, header.name, `hard link target "${header.linkname}" does not exist`);
        }
        if (lst.isDirectory()) throw this.invalid(label, header.name, 'hard link to a directory');
        if (ltarget === target) return drain();
        this.clear(target, false);
        // link(2) does not follow a symlink target: a link to a symlink is another symlink in R.
        fs.linkSync(this.abs(ltarget!), abs);
        return drain();
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        if (header.type !== 'fifo' && !this.asRoot) {
          this.stats.skippedDevices++;
          return drain();
        }
        this.clear(target, false);
        const kind = header.type === 'fifo' ? ['p'] : [header.type === 'block-device' ? 'b' : 'c', String(header.devmajor ?? 0), String(header.devminor ?? 0)];
        const r = spawnSync('mknod', ['-m', mode.toString(8), '--', abs, ...kind], { stdio: ['ignore', 'ignore', 'pipe'] });
        if (r.status !== 0) {
          throw this.invalid(label, header.name, `mknod failed: ${r.error?.message ?? r.stderr?.toString().trim()}`);
        }
        if (this.asRoot) fs.lchownSync(abs, uid, gid);
        fs.chmodSync(abs, mode); // mknod -m is subject to nothing, but chown cleared special bits
        fs.lutimesSync(abs, mtime, mtime);
        return drain();
      }
      default:
        return drain();
    }
  }

  /** Apply deferred directory metadata, deepest first. */
  finish(): void {
    const entries = [...this.dirMeta.entries()].sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [rel, m] of entries) {
      let fd: number;
      try {
        fd = fs.openSync(this.abs(rel), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') continue;
        throw e;
      }
      try {
        if (this.asRoot) fs.fchownSync(fd, m.uid, m.gid);
        fs.fchmodSync(fd, m.mode);
        fs.futimesSync(fd, m.mtime, m.mtime);
      } finally {
        fs.closeSync(fd);
      }
    }
    this.dirMeta.clear();
  }
}

function depth(rel: string): number {
  if (rel === '') return 0;
  let n = 1;
  for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) === 47) n++;
  return n;
}
