/**
 * Tar header blocks laid out the way the reference actool's writer (Go archive/tar with no
 * explicit format) lays them out, so that an ACI built here equals the reference's byte for byte
 * (apart from the manifest's mtime) for the same tree:
 *
 * - USTAR whenever every field fits (names up to 100 bytes, or split into a 155-byte prefix and a
 *   100-byte name at a '/'; ASCII strings; numbers in their octal fields);
 * - otherwise PAX: an `x` entry named `<dir>/PaxHeaders.0/<base>` whose records carry the long or
 *   non-ASCII path/linkpath/uname/gname, big uid/gid/size, a pre-1970 mtime, and the
 *   `SCHILY.xattr.*` extended attributes (the reference never writes xattrs; we do);
 * - numeric fields zero-padded octal, NUL-terminated; checksum as six digits, NUL, space.
 *
 * tar-stream's `pack` is not used for writing because it cannot carry binary PAX values (xattrs
 * such as `security.capability`), writes `777777` for uids/gids above 262143 and names the real
 * header `PaxHeader`; reading stays with tar-stream.
 */

export type EntryType = 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo';

export interface TarEntry {
  /** Archive path, no leading '/', no trailing '/'. */
  name: string;
  type: EntryType;
  /** Permission and setuid/setgid/sticky bits (07777). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Body size; 0 for everything but regular files. */
  size: number;
  /** Seconds since the epoch (already rounded). */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes: name -> raw value. */
  xattrs?: ReadonlyMap<string, Buffer>;
}

const TYPEFLAG: Record<EntryType, number> = {
  file: 0x30,
  link: 0x31,
  symlink: 0x32,
  'character-device': 0x33,
  'block-device': 0x34,
  directory: 0x35,
  fifo: 0x36,
};

const NAME_SIZE = 100;
const PREFIX_SIZE = 155;
const USTAR_MAGIC = Buffer.from('ustar\x0000', 'latin1');

const isAscii = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
};
/** Go's toASCII: drop every non-ASCII character. */
const toAscii = (s: string): string => (isAscii(s) ? s : s.replace(/[^\x00-\x7f]/g, ''));
const fitsOctal = (width: number, x: number): boolean => x >= 0 && x < 8 ** (width - 1);

function putString(buf: Buffer, off: number, width: number, s: string): void {
  // Strings reaching here are ASCII; longer ones are cut like Go's copy().
  buf.write(s.length > width ? s.slice(0, width) : s, off, 'latin1');
}

function putOctal(buf: Buffer, off: number, width: number, x: number): void {
  const s = fitsOctal(width, x) ? x.toString(8).padStart(width - 1, '0') : '0'.repeat(width - 1);
  buf.write(s, off, 'latin1');
  buf[off + width - 1] = 0;
}

function setChecksum(buf: Buffer): void {
  USTAR_MAGIC.copy(buf, 257);
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += buf[i]!;
  for (let i = 156; i < 512; i++) sum += buf[i]!;
  buf.write(sum.toString(8).padStart(6, '0'), 148, 'latin1');
  buf[154] = 0;
  buf[155] = 0x20;
}

/** Go's splitUSTARPath. */
function splitUstarPath(name: string): [string, string] | undefined {
  let length = name.length;
  if (length <= NAME_SIZE || !isAscii(name)) return undefined;
  if (length > PREFIX_SIZE + 1) length = PREFIX_SIZE + 1;
  else if (name[length - 1] === '/') length--;
  const i = name.lastIndexOf('/', length - 1);
  const nlen = name.length - i - 1;
  if (i <= 0 || nlen > NAME_SIZE || nlen === 0 || i > PREFIX_SIZE) return undefined;
  return [name.slice(0, i), name.slice(i + 1)];
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let size = body.length + String(body.length).length;
  if (String(size).length + body.length !== size) size = String(size).length + body.length;
  return Buffer.concat([Buffer.from(String(size), 'latin1'), body]);
}

function v7Plus(e: TarEntry, name: string, fmtStr: (s: string) => string): Buffer {
  const b = Buffer.alloc(512);
  putString(b, 0, NAME_SIZE, fmtStr(name));
  putOctal(b, 100, 8, e.mode);
  putOctal(b, 108, 8, e.uid);
  putOctal(b, 116, 8, e.gid);
  putOctal(b, 124, 12, e.size);
  putOctal(b, 136, 12, e.mtime);
  b[156] = TYPEFLAG[e.type];
  putString(b, 157, NAME_SIZE, fmtStr(e.linkname ?? ''));
  putString(b, 265, 32, fmtStr(e.uname));
  putString(b, 297, 32, fmtStr(e.gname));
  putOctal(b, 329, 8, e.devmajor ?? 0);
  putOctal(b, 337, 8, e.devminor ?? 0);
  return b;
}

/**
 * The header block(s) of one entry: one 512-byte block for USTAR, or a PAX header block, its
 * padded records and the main block.
 */
export function encodeHeader(e: TarEntry): Buffer {
  const pax = new Map<string, Buffer>();
  let ustar = true;
  const str = (s: string, width: number, key: string, splittable = false) => {
    if (s.length <= width && isAscii(s)) return;
    if (splittable && splitUstarPath(s)) return;
    ustar = false;
    pax.set(key, Buffer.from(s, 'utf8'));
  };
  str(e.name, NAME_SIZE, 'path', true);
  str(e.linkname ?? '', NAME_SIZE, 'linkpath');
  str(e.uname, 32, 'uname');
  str(e.gname, 32, 'gname');
  const num = (x: number, width: number, key: string) => {
    if (fitsOctal(width, x)) return;
    ustar = false;
    pax.set(key, Buffer.from(String(x), 'latin1'));
  };
  num(e.uid, 8, 'uid');
  num(e.gid, 8, 'gid');
  num(e.size, 12, 'size');
  num(e.mtime, 12, 'mtime');
  if (e.xattrs && e.xattrs.size > 0) {
    ustar = false;
    for (const [k, v] of e.xattrs) pax.set(`SCHILY.xattr.${k}`, v);
  }
  if (ustar) {
    const split = splitUstarPath(e.name);
    const b = v7Plus(e, split ? split[1] : e.name, (s) => s);
    if (split) putString(b, 345, PREFIX_SIZE, split[0]);
    setChecksum(b);
    return b;
  }
  // Records sorted by key as bytes (Go sort.Strings).
  const keys = [...pax.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const data = Buffer.concat(keys.map((k) => paxRecord(k, pax.get(k)!)));
  const slash = e.name.lastIndexOf('/');
  const dir = slash >= 0 ? e.name.slice(0, slash) : '';
  const base = e.name.slice(slash + 1);
  let paxName = toAscii(dir ? `${dir}/PaxHeaders.0/${base}` : `PaxHeaders.0/${base}`);
  if (paxName.length > NAME_SIZE) paxName = paxName.slice(0, NAME_SIZE);
  paxName = paxName.replace(/\/+$/, '');
  const ph = Buffer.alloc(512);
  putString(ph, 0, NAME_SIZE, paxName);
  putOctal(ph, 100, 8, 0);
  putOctal(ph, 108, 8, 0);
  putOctal(ph, 116, 8, 0);
  putOctal(ph, 124, 12, data.length);
  putOctal(ph, 136, 12, 0);
  ph[156] = 0x78; // 'x'
  setChecksum(ph);
  const main = v7Plus(e, e.name, toAscii);
  setChecksum(main);
  return Buffer.concat([ph, data, Buffer.alloc(padding(data.length)), main]);
}

/** Zero bytes after a body of `size` bytes up to the next 512-byte boundary. */
export function padding(size: number): number {
  const r = size % 512;
  return r === 0 ? 0 : 512 - r;
}

/** The manifest's header as the reference writes it (0644, root:root). */
export function manifestEntry(size: number, mtime: Date): TarEntry {
  return {
    name: 'manifest',
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    uname: 'root',
    gname: 'root',
    size,
    mtime: roundSeconds(mtime.getTime()),
  };
}

/** Go's Time.Round(time.Second) on a millisecond timestamp (halves away from zero). */
export function roundSeconds(ms: number): number {
  const s = Math.floor(ms / 1000);
  const frac = ms - s * 1000;
  if (ms >= 0) return frac >= 500 ? s + 1 : s;
  return frac > 500 ? s + 1 : s;
}
