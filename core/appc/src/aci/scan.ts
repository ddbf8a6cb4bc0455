/**
 * One streaming pass over an ACI: decompress, hash the uncompressed tar (the ImageID), enforce the
 * archive layout and read the manifest. Never buffers more than the manifest.
 * The layout rules are in layout.ts.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { invalidArgument, isRktError, type ImageManifest } from '@rkt/api';
import { decompress, type Compression } from './compression.js';
import { hashThrough, inThreadHasher, type StreamHasher } from './hashing.js';
import { LayoutRules } from './layout.js';

export { layoutName } from './layout.js';

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
  const hasher = hashThrough(hash, (c) => {
    size += c.length;
  });
  const extract = tar.extract();
  stream.on('error', (e) => hasher.destroy(e));
  hasher.on('error', (e) => extract.destroy(e));
  stream.pipe(hasher).pipe(extract);

  const layout = new LayoutRules();
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const kind = layout.entry(h.name, { isFile: h.type === 'file', isDirectory: h.type === 'directory', typeName: h.type ?? 'unknown' });
      if (kind === 'manifest') {
        layout.manifest(await readLimited(entry as unknown as Readable, limit));
        continue;
      }
      if (kind === 'skip') {
        entry.resume();
        continue;
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
  const { manifest, manifestBytes } = layout.finish(opts.parseManifest);
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
