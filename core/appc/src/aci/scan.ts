/**
 * One streaming pass over an ACI: decompress, hash the uncompressed tar (the ImageID), enforce the
 * archive layout and read the manifest. Never buffers more than the manifest.
 *
 * Layout rules (appc "Image Archives", stricter than the reference actool where it is lax):
 * - exactly one `manifest`, a regular file (a second one is an error; the reference keeps the last);
 * - a `rootfs` directory entry; every other entry is under `rootfs/` — the reference only checks the
 *   string prefix "rootfs", so it accepts `rootfsX/a`; we refuse it;
 * - no absolute names, no `..` components, no duplicate entries.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { invalidArgument, isRktError, type ImageManifest } from '@rkt/api';
import { parseImageManifest } from '../schema/index.js';
import { decompress, type Compression } from './compression.js';
import { inThreadHasher, type StreamHasher } from './hashing.js';

export interface AciScan {
  /** `sha512-` + hex sha512 of the uncompressed tar. */
  imageId: string;
  manifest: ImageManifest;
  manifestBytes: Buffer;
  compression: Compression;
  uncompressedSize: number;
}

export interface ScanOptions {
  /** Largest manifest accepted (default 1 MiB). */
  maxManifestBytes?: number;
  /** Manifest parser (default: the appc schema's `parseImageManifest`). */
  parseManifest?: (bytes: Buffer) => ImageManifest;
  /** Called for every entry with its body; must consume or resume the body. */
  /**
   * Called for every entry but the manifest with its body; must consume or resume the body.
   * PAX `uid`, `gid`, `uname`, `gname` and `mtime` records are already applied to the header.
   */
  onEntry?: (header: tar.Header, body: Readable) => Promise<void>;
  /**
   * Hashes the uncompressed tar; must compute `sha512` (the ImageID) and may compute more. The
   * caller owns it: after the scan, `digest(alg)` still works (e.g. to verify a signature over
   * the same bytes) until the caller closes it. Default: sha512 in this thread.
   */
  hasher?: StreamHasher;
}

export const DEFAULT_MAX_MANIFEST_BYTES = 1 << 20;

/** tar-stream leaves these PAX records in `header.pax`; apply them like other tar readers do. */
function applyPax(h: tar.Header): tar.Header {
  const pax = h.pax as Record<string, string> | undefined | null;
  if (!pax) return h;
  const int = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
  const uid = int(pax.uid);
  const gid = int(pax.gid);
  if (uid !== undefined) h.uid = uid;
  if (gid !== undefined) h.gid = gid;
  if (pax.uname !== undefined) h.uname = pax.uname;
  if (pax.gname !== undefined) h.gname = pax.gname;
  if (pax.mtime !== undefined && /^-?\d+(\.\d+)?$/.test(pax.mtime)) h.mtime = new Date(Number(pax.mtime) * 1000);
  return h;
}

/** `filepath.Clean`-like normalisation of an archive name; throws on absolute names and `..`. */
export function layoutName(raw: string): string {
  if (raw.startsWith('/')) throw invalidArgument(`invalid ACI: absolute entry name ${JSON.stringify(raw)}`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalidArgument(`invalid ACI: entry name ${JSON.stringify(raw)} contains ".."`);
  return parts.join('/') || '.';
}

function hashing(onData: (c: Buffer) => Promise<void> | undefined): Transform {
  return new Transform({
    readableHighWaterMark: 1 << 20,
    writableHighWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb) {
      let wait: Promise<void> | undefined;
      try {
        wait = onData(chunk);
      } catch (e) {
        cb(e as Error);
        return;
      }
      if (wait) wait.then(() => cb(null, chunk), (e: unknown) => cb(e as Error));
      else cb(null, chunk);
    },
  });
}

function wrapTarError(e: unknown): Error {
  if (isRktError(e)) return e as unknown as Error;
  const msg = (e as Error)?.message ?? String(e);
  if (/unexpected end/i.test(msg)) return invalidArgument('invalid ACI: the archive is truncated', { cause: e });
  return invalidArgument(`invalid ACI: ${msg}`, { cause: e });
}

async function readLimited(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let len = 0;
  for await (const c of body) {
    len += (c as Buffer).length;
    if (len > limit) {
      body.resume();
      throw invalidArgument(`invalid ACI: the manifest is larger than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function scanAci(input: Readable, opts: ScanOptions = {}): Promise<AciScan> {
  const limit = opts.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
  const { compression, stream } = await decompress(input);
  const own = opts.hasher === undefined;
  const hash = opts.hasher ?? inThreadHasher(['sha512']);
  let size = 0;
  const hasher = hashing((c) => {
    size += c.length;
    return hash.update(c);
  });
  const extract = tar.extract();
  stream.on('error', (e) => hasher.destroy(e));
  hasher.on('error', (e) => extract.destroy(e));
  stream.pipe(hasher).pipe(extract);

  const seen = new Set<string>();
  let manifestBytes: Buffer | undefined;
  let rootfs = false;
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const name = layoutName(h.name);
      if (name === 'manifest') {
        if (manifestBytes) throw invalidArgument('invalid ACI: more than one manifest entry');
        if (h.type !== 'file') throw invalidArgument(`invalid ACI: the manifest is not a regular file (it is a ${h.type})`);
        manifestBytes = await readLimited(entry as unknown as Readable, limit);
        continue;
      }
      if (name === '.') {
        entry.resume();
        continue;
      }
      if (name === 'rootfs') {
        if (h.type !== 'directory') throw invalidArgument('invalid ACI: rootfs is not a directory');
        if (rootfs) throw invalidArgument('invalid ACI: duplicate file entry in archive: rootfs');
        rootfs = true;
      } else if (!name.startsWith('rootfs/')) {
        throw invalidArgument(`invalid ACI: unrecognized file path in layout: ${JSON.stringify(name)} (everything but the manifest must be under rootfs/)`);
      } else {
        if (seen.has(name)) throw invalidArgument(`invalid ACI: duplicate file entry in archive: ${name}`);
        seen.add(name);
      }
      if (opts.onEntry) await opts.onEntry(applyPax(h), entry as unknown as Readable);
      else entry.resume();
    }
    // The hash covers every byte, including the end-of-archive blocks and any padding after them.
    if (!stream.readableEnded) stream.resume();
    await finished(hasher);
  } catch (e) {
    stream.destroy();
    hasher.destroy();
    extract.destroy();
    throw wrapTarError(e);
  }
  if (!manifestBytes) throw invalidArgument('invalid ACI: no image manifest found in layout');
  if (!rootfs) throw invalidArgument('invalid ACI: no rootfs found in layout');
  const manifest = (opts.parseManifest ?? ((b: Buffer) => parseImageManifest(b)))(manifestBytes);
  await hash.end();
  const digest = await hash.digest('sha512').digestWith();
  if (own) hash.close();
  return { imageId: `sha512-${digest.toString('hex')}`, manifest, manifestBytes, compression, uncompressedSize: size };
}

/** The ImageID of an ACI stream (any compression), without layout checks. */
export async function imageIdOf(input: Readable): Promise<string> {
  const { stream } = await decompress(input);
  const hash = createHash('sha512');
  for await (const c of stream) hash.update(c as Buffer);
  return `sha512-${hash.digest('hex')}`;
}

export function imageIdOfFile(path: string): Promise<string> {
  return imageIdOf(createReadStream(path, { highWaterMark: 1 << 20 }));
}
