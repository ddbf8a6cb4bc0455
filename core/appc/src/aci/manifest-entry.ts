/**
 * Reading and replacing the `manifest` entry of an ACI without unpacking it (actool cat-manifest
 * and patch-manifest). Like the reference, these do not check the rest of the layout.
 */
import type { Readable, Writable } from 'node:stream';
import { isRktError, failedPrecondition } from '@rkt/api';
import { decompress, type Compression } from './compression.js';
import { RawTarReader, withSize } from './rawtar.js';
import { makeSink } from './sink.js';

export const DEFAULT_MAX_MANIFEST_ENTRY = 16 << 20;
const END_OF_ARCHIVE = Buffer.alloc(1024);

/**
 * The bytes of the first `manifest` entry of an ACI (any compression), or undefined when there is
 * none. Stops reading at the manifest.
 */
export async function readAciManifest(input: Readable, opts: { maxManifestBytes?: number } = {}): Promise<Buffer | undefined> {
  const { stream } = await decompress(input);
  const tr = new RawTarReader(stream);
  try {
    for (let e = await tr.next(); e; e = await tr.next()) {
      if (e.name === 'manifest') return await tr.readBody(e, opts.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_ENTRY, 'manifest');
    }
    return undefined;
  } finally {
    stream.destroy();
    input.destroy();
  }
}

export interface RewriteManifestOptions {
  /** Compression of the output (default 'gzip', like the reference). */
  compression?: Compression;
  maxManifestBytes?: number;
}

export interface RewriteManifestResult {
  /** How many manifest entries were rewritten (0: none found, the copy is unchanged). */
  manifests: number;
  inputCompression: Compression;
}

/**
 * Copy an ACI to `output` (which is ended), replacing the body of every `manifest` entry by
 * `edit(old)`. Every other entry is copied with its original header blocks; the manifest keeps
 * its header with the new size. Throws (and destroys `output`) on a bad archive or a failed edit.
 */
export async function rewriteAciManifest(
  input: Readable,
  output: Writable,
  edit: (manifest: Buffer) => Uint8Array | Promise<Uint8Array>,
  opts: RewriteManifestOptions = {},
): Promise<RewriteManifestResult> {
  let dec: { compression: Compression; stream: Readable };
  try {
    dec = await decompress(input);
  } catch (e) {
    output.destroy();
    throw e;
  }
  const sink = makeSink(output, opts.compression ?? 'gzip');
  const tr = new RawTarReader(dec.stream);
  let manifests = 0;
  try {
    for (let e = await tr.next(); e; e = await tr.next()) {
      for (const b of e.extBlocks) await sink.write(b);
      if (e.name === 'manifest') {
        if (e.paxSize) throw failedPrecondition('the manifest entry carries a PAX size record; cannot rewrite it');
        const old = await tr.readBody(e, opts.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_ENTRY, 'manifest');
        const next = Buffer.from(await edit(old));
        await sink.write(withSize(e.header, next.length));
        await sink.write(next);
        const pad = (512 - (next.length % 512)) % 512;
        if (pad) await sink.write(Buffer.alloc(pad));
        manifests++;
      } else {
        await sink.write(e.header);
        await tr.pipeBody((c) => sink.write(c));
      }
    }
    await sink.write(END_OF_ARCHIVE);
    await sink.end();
  } catch (e) {
    sink.destroy(isRktError(e) ? (e as unknown as Error) : (e as Error));
    dec.stream.destroy();
    throw e;
  }
  return { manifests, inputCompression: dec.compression };
}
