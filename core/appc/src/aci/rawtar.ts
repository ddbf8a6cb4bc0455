/**
 * A raw tar walker for tools that copy an ACI and change only its manifest (`actool
 * patch-manifest`) or just read the manifest (`cat-manifest`): entries are handed over as their
 * original header blocks (PAX/GNU extension headers included) so that everything but the manifest
 * is copied bit for bit (xattrs, long names, sub-second times: all kept), and bodies stream.
 *
 * Parsing follows Go's archive/tar where it matters for the manifest: PAX `path`/`size` records,
 * GNU long names, `filepath.Clean`ed names, header-only types (links, devices, dirs, fifos) have
 * no body whatever their size field says, one zero block followed by a non-zero one is an error.
 */
import type { Readable } from 'node:stream';
import { invalidArgument } from '@rkt/api';
import { padding } from './tar-header.js';

const MAX_EXT_HEADER = 1 << 20;

export interface RawEntry {
  /** Cleaned name (`./rootfs//a/` -> `rootfs/a`). */
  name: string;
  /** The name as stored (after PAX/GNU long names). */
  rawName: string;
  /** Typeflag byte as a character ('0', '5', …). */
  typeflag: string;
  /** Body size (0 for header-only types). */
  size: number;
  /** Extension header blocks (with their bodies) that preceded the main header, as read. */
  extBlocks: Buffer[];
  /** The main 512-byte header block, as read. */
  header: Buffer;
  /** Whether a PAX `size` record set the size. */
  paxSize: boolean;
}

const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);
const bad = (msg: string) => invalidArgument(msg);

/** Go's path.Clean for relative archive names (leading '/' kept). */
export function cleanName(raw: string): string {
  const abs = raw.startsWith('/');
  const out: string[] = [];
  for (const p of raw.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
    } else out.push(p);
  }
  const s = out.join('/');
  return abs ? '/' + s : s || '.';
}

function cstr(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

function parseNumeric(b: Buffer, off: number, len: number): number {
  const f = b.subarray(off, off + len);
  if (f[0]! & 0x80) {
    // base-256 (GNU): big-endian, first byte's high bit is the marker.
    if (f[0] === 0xff) throw bad('archive/tar: invalid tar header (negative number)');
    let v = f[0]! & 0x7f;
    for (let i = 1; i < f.length; i++) v = v * 256 + f[i]!;
    return v;
  }
  const s = f.toString('latin1').replace(/\0.*$/s, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw bad('archive/tar: invalid tar header (bad number field)');
  return parseInt(s, 8);
}

function checksumOk(b: Buffer): boolean {
  const want = parseNumeric(b, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return want === unsigned || want === signed;
}

function parsePax(buf: Buffer): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) throw bad('archive/tar: invalid PAX record');
    const len = Number(buf.toString('latin1', off, sp));
    if (!Number.isInteger(len) || len <= sp - off || off + len > buf.length || buf[off + len - 1] !== 0x0a)
      throw bad('archive/tar: invalid PAX record');
    const rec = buf.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw bad('archive/tar: invalid PAX record');
    m.set(rec.toString('utf8', 0, eq), rec.subarray(eq + 1));
    off += len;
  }
  return m;
}

/** Where the walker's bytes come from. */
interface ByteSource {
  read(n: number): Promise<Buffer | null>;
  forward(n: number, fn?: (chunk: Buffer) => Promise<void> | void): Promise<void>;
  return(): Promise<void>;
}

/**
 * An uncompressed tar file read with positional reads: bodies that nobody wants are skipped
 * without reading them (as Go's tar reader seeks over them).
 */
export class FileBytes implements ByteSource {
  private pos = 0;
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  constructor(
    private readonly fd: number,
    private readonly size: number,
    private readonly readAt: (fd: number, buf: Buffer, off: number, len: number, pos: number) => number,
  ) {}
  async read(n: number): Promise<Buffer | null> {
    if (this.pos >= this.size) return null;
    const b = n <= this.buf.length ? this.buf.subarray(0, n) : Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const k = this.readAt(this.fd, b, got, n - got, this.pos + got);
      if (k === 0) throw bad('unexpected EOF: the archive is truncated');
      got += k;
    }
    this.pos += n;
    return Buffer.from(b);
  }
  async forward(n: number, fn?: (chunk: Buffer) => Promise<void> | void): Promise<void> {
    if (!fn) {
      if (this.pos + n > this.size) throw bad('unexpected EOF: the archive is truncated');
      this.pos += n;
      return;
    }
    let left = n;
    while (left > 0) {
      const k = Math.min(left, this.buf.length);
      const b = (await this.read(k))!;
      left -= k;
      await fn(b);
    }
  }
  async return(): Promise<void> {}
}

/** Pull-based reader of exact byte counts from a stream. */
class Bytes implements ByteSource {
  private readonly it: AsyncIterator<Buffer>;
  private cur: Buffer = Buffer.alloc(0);
  private off = 0;
  constructor(stream: Readable) {
    this.it = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }
  private async fill(): Promise<boolean> {
    while (this.off >= this.cur.length) {
      const r = await this.it.next();
      if (r.done) return false;
      this.cur = r.value;
      this.off = 0;
    }
    return true;
  }
  /** Exactly n bytes; null at a clean end of stream (no byte read); throws when cut short. */
  async read(n: number): Promise<Buffer | null> {
    if (!(await this.fill())) return null;
    if (this.cur.length - this.off >= n) {
      const b = this.cur.subarray(this.off, this.off + n);
      this.off += n;
      return b;
    }
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      if (!(await this.fill())) throw bad('unexpected EOF: the archive is truncated');
      const k = Math.min(left, this.cur.length - this.off);
      parts.push(this.cur.subarray(this.off, this.off + k));
      this.off += k;
      left -= k;
    }
    return Buffer.concat(parts);
  }
  /** Hand n bytes to `fn` in chunks (fn may be undefined to skip them). */
  async forward(n: number, fn?: (chunk: Buffer) => Promise<void> | void): Promise<void> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill())) throw bad('unexpected EOF: the archive is truncated');
      const k = Math.min(left, this.cur.length - this.off);
      const chunk = this.cur.subarray(this.off, this.off + k);
      this.off += k;
      left -= k;
      if (fn) await fn(chunk);
    }
  }
  async return(): Promise<void> {
    await this.it.return?.();
  }
}

export class RawTarReader {
  private readonly bytes: ByteSource;
  private pendingBody = 0;
  constructor(source: Readable | FileBytes) {
    this.bytes = source instanceof FileBytes ? source : new Bytes(source);
  }

  /** The next entry, or null at the end of the archive. The previous body must have been consumed. */
  async next(): Promise<RawEntry | null> {
    if (this.pendingBody > 0) await this.skipBody();
    const extBlocks: Buffer[] = [];
    let paxName: string | undefined;
    let paxSize: number | undefined;
    let longName: string | undefined;
    for (;;) {
      const blk = await this.bytes.read(512);
      if (!blk) {
        if (extBlocks.length > 0) throw bad('unexpected EOF: the archive is truncated');
        return null;
      }
      if (blk.every((x) => x === 0)) {
        const second = await this.bytes.read(512);
        if (!second || second.every((x) => x === 0)) return null;
        throw bad('archive/tar: invalid tar header (a zero block followed by data)');
      }
      if (!checksumOk(blk)) throw bad('archive/tar: invalid tar header (checksum mismatch)');
      const typeflag = String.fromCharCode(blk[156]!);
      let size = parseNumeric(blk, 124, 12);
      if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
        if (size > MAX_EXT_HEADER) throw bad(`archive/tar: extension header of ${size} bytes is too large`);
        const body = (await this.bytes.read(size + padding(size))) ?? Buffer.alloc(0);
        if (body.length < size) throw bad('unexpected EOF: the archive is truncated');
        extBlocks.push(blk, body);
        const data = body.subarray(0, size);
        if (typeflag === 'x') {
          const recs = parsePax(data);
          const p = recs.get('path');
          if (p) paxName = p.toString('utf8');
          const s = recs.get('size');
          if (s) {
            const v = Number(s.toString('latin1'));
            if (!Number.isSafeInteger(v) || v < 0) throw bad('archive/tar: invalid PAX size record');
            paxSize = v;
          }
        } else if (typeflag === 'L') longName = cstr(data, 0, data.length);
        continue;
      }
      let name = cstr(blk, 0, 100);
      const magic = blk.toString('latin1', 257, 263);
      if (magic === 'ustar\0' && blk[345] !== 0) name = `${cstr(blk, 345, 155)}/${name}`;
      name = paxName ?? longName ?? name;
      if (paxSize !== undefined) size = paxSize;
      if (HEADER_ONLY.has(typeflag)) size = 0;
      this.pendingBody = size + padding(size);
      return { name: cleanName(name), rawName: name, typeflag, size, extBlocks, header: blk, paxSize: paxSize !== undefined };
    }
  }

  /** Read the current body (at most `limit` bytes, else INVALID_ARGUMENT) and its padding. */
  async readBody(entry: RawEntry, limit: number, what = 'entry'): Promise<Buffer> {
    if (entry.size > limit) throw bad(`the ${what} is larger than ${limit} bytes`);
    const b = (await this.bytes.read(entry.size)) ?? Buffer.alloc(0);
    if (b.length < entry.size) throw bad('unexpected EOF: the archive is truncated');
    const copy = Buffer.from(b);
    await this.bytes.forward(padding(entry.size));
    this.pendingBody = 0;
    return copy;
  }

  /** Stream the current body and its padding (as stored) to `fn`. */
  async pipeBody(fn: (chunk: Buffer) => Promise<void> | void): Promise<void> {
    const n = this.pendingBody;
    this.pendingBody = 0;
    await this.bytes.forward(n, fn);
  }

  async skipBody(): Promise<void> {
    const n = this.pendingBody;
    this.pendingBody = 0;
    await this.bytes.forward(n);
  }

  async close(): Promise<void> {
    await this.bytes.return();
  }
}

/** Rewrite the size field of a raw header block (Go layout: 11 octal digits and NUL) and its checksum. */
export function withSize(header: Buffer, size: number): Buffer {
  if (size >= 8 ** 11) throw bad('the new manifest is too large');
  const b = Buffer.from(header);
  b.write(size.toString(8).padStart(11, '0'), 124, 'latin1');
  b[135] = 0;
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0'), 148, 'latin1');
  b[154] = 0;
  b[155] = 0x20;
  return b;
}
