/**
 * Build an ACI from an image layout directory (`manifest` + `rootfs/`), like `actool build`:
 *
 * - the tree is walked like Go's filepath.Walk (pre-order, names in byte order, symlinks not
 *   followed), the layout root and `manifest` are not written as they are found, sockets are skipped;
 * - every entry keeps its uid/gid (or root:root with `ownerRoot`), user/group names from the host's
 *   /etc/passwd and /etc/group, the permission and setuid/setgid/sticky bits, the mtime (rounded to
 *   the second as Go's tar writer does), symlink targets (relative or absolute, untouched),
 *   char/block device numbers and fifos; a second name of an inode already written becomes a
 *   hard-link entry; extended attributes go into PAX `SCHILY.xattr.*` records (the reference drops them);
 * - the manifest, validated and re-serialised as the reference does, is written LAST (0644,
 *   root:root, mtime now), as the reference's image writer does on Close;
 * - header blocks are laid out like Go's archive/tar (see tar-header.ts), so a tree without xattrs
 *   gives the reference's bytes apart from the manifest's mtime.
 *
 * Everything streams: file bodies are read with synchronous fs calls into 1 MiB chunks that go to
 * the compressor (zlib runs on libuv's pool, so reading and compressing overlap) or to the output.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, constants as fsc, lstatSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { failedPrecondition, invalidArgument, isRktError, type ImageManifest } from '@rkt/api';
import { checkImageManifest } from '../schema/manifest.js';
import { imageManifestToJson } from '../schema/serialize.js';
import type { Compression } from './compression.js';
import { makeSink, type Sink } from './sink.js';
import { encodeHeader, manifestEntry, padding, roundSeconds, type EntryType, type TarEntry } from './tar-header.js';
import { readTreeXattrs, type XattrMap } from './xattrs.js';

export interface WriteAciOptions {
  /** Default 'gzip', like `actool build`. */
  compression?: Compression;
  /** Force uid/gid 0 and user/group names "root" on every entry (`--owner-root`). */
  ownerRoot?: boolean;
  /** Read extended attributes (with getfattr) into PAX records. Default true. */
  xattrs?: boolean;
  /** The manifest entry's mtime (default: now). */
  manifestMtime?: Date;
  /** Also compute the ImageID (sha512 of the tar as written). */
  imageId?: boolean;
  /** Non-fatal problems (xattrs not readable, …). */
  onWarning?: (message: string) => void;
}

export interface WriteAciResult {
  manifest: ImageManifest;
  /** The manifest bytes written into the image. */
  manifestBytes: Buffer;
  /** Number of tar entries, the manifest included. */
  entries: number;
  /** Size of the uncompressed tar. */
  uncompressedSize: number;
  imageId?: string;
}

export interface ValidLayout {
  manifest: ImageManifest;
  /** The manifest as the reference re-serialises it into the image. */
  manifestBytes: Buffer;
}

const CHUNK = 1 << 20;
const END_OF_ARCHIVE = Buffer.alloc(1024);

const errText = (e: unknown) => (e as Error)?.message ?? String(e);

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'file exists',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
};

/** A Node fs error worded like Go's *PathError (`stat x: no such file or directory`). */
export function goError(e: unknown, op: string, path: string): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  const text = code ? ERRNO_TEXT[code] : undefined;
  return text ? `${op} ${path}: ${text}` : errText(e);
}

/**
 * Check an image layout directory (reference messages): it must be a directory holding a
 * `manifest` file with a valid image manifest and a `rootfs` directory, and nothing else (the
 * reference only checks that other names start with "rootfs"; we refuse them, as the ACI
 * reader does).
 */
export function validateLayout(dir: string): ValidLayout {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (e) {
    throw invalidArgument(`error accessing layout: ${goError(e, 'stat', dir)}`, { cause: e, details: { path: dir } });
  }
  if (!st.isDirectory()) throw invalidArgument(`given path ${JSON.stringify(dir)} is not a directory`, { details: { path: dir } });
  const names = readdirSync(dir).sort();
  let manifestOk = false;
  let rootfsOk = false;
  for (const name of names) {
    if (name === 'manifest') manifestOk = true;
    else if (name === 'rootfs') {
      if (!lstatSync(join(dir, name)).isDirectory()) throw invalidArgument('rootfs is not a directory', { details: { path: join(dir, name) } });
      rootfsOk = true;
    }
  }
  if (!manifestOk) throw invalidArgument('no image manifest found in layout', { details: { path: dir } });
  if (!rootfsOk) throw invalidArgument('no rootfs found in layout', { details: { path: dir } });
  const mpath = join(dir, 'manifest');
  if (!lstatSync(mpath).isFile()) throw invalidArgument('error reading image manifest: the manifest is not a regular file', { details: { path: mpath } });
  const raw = readFileSync(mpath);
  const r = checkImageManifest(raw);
  if (r.problems.length > 0 || !r.manifest) {
    const p = r.problems[0];
    throw invalidArgument(`image manifest validation failed: ${p?.message ?? 'invalid manifest'}`, {
      details: { path: mpath, field: p?.path, problems: r.problems },
    });
  }
  for (const name of names) {
    if (name !== 'manifest' && name !== 'rootfs')
      throw invalidArgument(`unrecognized file path in layout: ${JSON.stringify(name)} (only "manifest" and "rootfs" may be at the top)`, {
        details: { path: join(dir, name) },
      });
  }
  return { manifest: r.manifest, manifestBytes: Buffer.from(imageManifestToJson(r.manifest), 'utf8') };
}

/** uid/gid -> name from /etc/passwd and /etc/group (first entry wins, as Go's resolver). */
function readAccounts(file: string): Map<number, string> {
  const m = new Map<number, string>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return m;
  }
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3) continue;
    const id = Number(f[2]);
    if (Number.isInteger(id) && !m.has(id)) m.set(id, f[0]!);
  }
  return m;
}

/** Linux dev_t split (glibc gnu_dev_major/minor). */
const major = (rdev: number) => (((rdev / 256) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff)) >>> 0;
const minor = (rdev: number) => ((rdev & 0xff) | (Math.floor(rdev / 4096) & ~0xff)) >>> 0;

class TarOut {
  private buf = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  size = 0;
  constructor(
    private readonly sink: Sink,
    private readonly hash: Hash | undefined,
  ) {}

  async flush(): Promise<void> {
    if (this.pos === 0) return;
    const chunk = this.buf.subarray(0, this.pos);
    this.hash?.update(chunk);
    this.size += chunk.length;
    this.buf = Buffer.allocUnsafe(CHUNK);
    this.pos = 0;
    await this.sink.write(chunk);
  }

  async put(b: Buffer): Promise<void> {
    let off = 0;
    while (off < b.length) {
      if (this.pos === CHUNK) await this.flush();
      const n = b.copy(this.buf, this.pos, off);
      this.pos += n;
      off += n;
    }
  }

  async zeros(n: number): Promise<void> {
    while (n > 0) {
      if (this.pos === CHUNK) await this.flush();
      const k = Math.min(n, CHUNK - this.pos);
      this.buf.fill(0, this.pos, this.pos + k);
      this.pos += k;
      n -= k;
    }
  }

  /** Copy exactly `size` bytes of an open file into the archive. */
  async file(fd: number, size: number, name: string): Promise<void> {
    let left = size;
    while (left > 0) {
      if (this.pos === CHUNK) await this.flush();
      const n = readSync(fd, this.buf, this.pos, Math.min(left, CHUNK - this.pos), null);
      if (n === 0) throw failedPrecondition(`${name}: the file shrank while it was being archived (${size - left} of ${size} bytes read)`, { details: { path: name } });
      this.pos += n;
      left -= n;
    }
    await this.zeros(padding(size));
  }
}

const utf8Name = (b: Buffer, where: string): string => {
  const s = b.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(b))
    throw invalidArgument(`${where}: file name ${JSON.stringify(b.toString('latin1'))} is not valid UTF-8`, { details: { path: where } });
  return s;
};

/**
 * Write the ACI of the layout in `dir` to `output` (which is ended). Validates the layout first.
 * Throws RktError INVALID_ARGUMENT for a bad layout, FAILED_PRECONDITION when the tree changes
 * under the walk; `output` is destroyed on failure.
 */
export async function writeAci(dir: string, output: Writable, opts: WriteAciOptions = {}): Promise<WriteAciResult> {
  let layout: ValidLayout;
  try {
    layout = validateLayout(dir);
  } catch (e) {
    output.destroy();
    throw e;
  }
  const { manifest, manifestBytes } = layout;
  const rootfs = join(dir, 'rootfs');
  let xattrs: XattrMap = new Map();
  if (opts.xattrs !== false) {
    const r = await readTreeXattrs(rootfs);
    xattrs = r.xattrs;
    if (r.warning) opts.onWarning?.(r.warning);
  }
  const users = opts.ownerRoot ? undefined : readAccounts('/etc/passwd');
  const groups = opts.ownerRoot ? undefined : readAccounts('/etc/group');
  const hash = opts.imageId ? createHash('sha512') : undefined;
  const sink = makeSink(output, opts.compression ?? 'gzip');
  const out = new TarOut(sink, hash);
  const inodes = new Map<string, string>();
  let entries = 0;

  try {
    // Explicit stack: pre-order, children in byte order (pushed reversed).
    const stack: { rel: string; abs: string }[] = [{ rel: 'rootfs', abs: rootfs }];
    while (stack.length > 0) {
      const { rel, abs } = stack.pop()!;
      let st: Stats;
      try {
        st = lstatSync(abs);
      } catch (e) {
        throw failedPrecondition(`error walking rootfs: ${errText(e)}`, { cause: e, details: { path: abs } });
      }
      const fmt = st.mode & fsc.S_IFMT;
      let type: EntryType;
      let linkname: string | undefined;
      let size = 0;
      switch (fmt) {
        case fsc.S_IFSOCK:
          continue;
        case fsc.S_IFIFO:
          type = 'fifo';
          break;
        case fsc.S_IFCHR:
          type = 'character-device';
          break;
        case fsc.S_IFBLK:
          type = 'block-device';
          break;
        case fsc.S_IFDIR:
          type = 'directory';
          break;
        case fsc.S_IFLNK:
          type = 'symlink';
          linkname = utf8Name(readlinkSync(abs, { encoding: 'buffer' }), abs);
          break;
        case fsc.S_IFREG:
          type = 'file';
          size = st.size;
          break;
        default:
          throw invalidArgument(`${abs}: unsupported file type (mode ${st.mode.toString(8)})`, { details: { path: abs } });
      }
      if (type !== 'directory' && st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = inodes.get(key);
        if (first !== undefined) {
          type = 'link';
          linkname = first;
          size = 0;
        } else inodes.set(key, rel);
      }
      const xa = xattrs.get(rel === 'rootfs' ? '' : rel.slice('rootfs/'.length));
      const entry: TarEntry = {
        name: rel,
        type,
        mode: st.mode & 0o7777,
        uid: opts.ownerRoot ? 0 : st.uid,
        gid: opts.ownerRoot ? 0 : st.gid,
        uname: opts.ownerRoot ? 'root' : (users!.get(st.uid) ?? ''),
        gname: opts.ownerRoot ? 'root' : (groups!.get(st.gid) ?? ''),
        size,
        mtime: roundSeconds(st.mtimeMs),
        ...(linkname !== undefined ? { linkname } : {}),
        ...(type === 'character-device' || type === 'block-device' ? { devmajor: major(st.rdev), devminor: minor(st.rdev) } : {}),
        ...(xa ? { xattrs: xa } : {}),
      };
      if (type === 'file') {
        let fd: number;
        try {
          fd = openSync(abs, fsc.O_RDONLY | fsc.O_NOFOLLOW);
        } catch (e) {
          throw failedPrecondition(`error walking rootfs: ${errText(e)}`, { cause: e, details: { path: abs } });
        }
        try {
          await out.put(encodeHeader(entry));
          await out.file(fd, size, abs);
        } finally {
          closeSync(fd);
        }
      } else await out.put(encodeHeader(entry));
      entries++;
      if (type === 'directory') {
        let names: Buffer[];
        try {
          names = readdirSync(abs, { encoding: 'buffer' });
        } catch (e) {
          throw failedPrecondition(`error walking rootfs: ${errText(e)}`, { cause: e, details: { path: abs } });
        }
        names.sort(Buffer.compare);
        for (let i = names.length - 1; i >= 0; i--) {
          const n = utf8Name(names[i]!, abs);
          stack.push({ rel: `${rel}/${n}`, abs: `${abs}/${n}` });
        }
      }
    }
    await out.put(encodeHeader(manifestEntry(manifestBytes.length, opts.manifestMtime ?? new Date())));
    await out.put(manifestBytes);
    await out.zeros(padding(manifestBytes.length));
    entries++;
    await out.put(END_OF_ARCHIVE);
    await out.flush();
    await sink.end();
  } catch (e) {
    const err = isRktError(e) ? (e as unknown as Error) : failedPrecondition(`cannot write the image: ${errText(e)}`, { cause: e });
    sink.destroy(err);
    throw err;
  }
  return {
    manifest,
    manifestBytes,
    entries,
    uncompressedSize: out.size,
    ...(hash ? { imageId: `sha512-${hash.digest('hex')}` } : {}),
  };
}
