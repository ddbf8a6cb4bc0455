/**
 * The ACI library and manifest schema this store builds on (owned by @rkt/appc). Loaded through a
 * typed dynamic import while @rkt/appc does not export them yet, so the workspace keeps building.
 */
import type { Readable } from 'node:stream';
import type { ImageManifest } from '@rkt/api';
import { internal } from '@rkt/api';

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz';
export interface AciScan {
  imageId: string;
  manifest: ImageManifest;
  manifestBytes: Buffer;
  compression: Compression;
  uncompressedSize: number;
}
interface AppcAci {
  decompress(input: Readable): Promise<{ compression: Compression; stream: Readable }>;
  scanAci(
    input: Readable,
    opts?: { maxManifestBytes?: number; parseManifest?: (b: Buffer) => ImageManifest },
  ): Promise<AciScan>;
  parseImageManifest(bytes: Buffer): ImageManifest;
}

let loaded: Partial<AppcAci> | undefined;
async function lib(): Promise<AppcAci> {
  loaded ??= (await import('@rkt/appc')) as unknown as Partial<AppcAci>;
  for (const f of ['decompress', 'scanAci', 'parseImageManifest'] as const) {
    if (typeof loaded[f] !== 'function') throw internal(`@rkt/appc does not provide ${f} yet`);
  }
  return loaded as AppcAci;
}

export async function decompress(input: Readable) {
  return (await lib()).decompress(input);
}
export async function scanAci(input: Readable, opts?: Parameters<AppcAci['scanAci']>[1]): Promise<AciScan> {
  return (await lib()).scanAci(input, opts);
}
export async function manifestParser(): Promise<(b: Buffer) => ImageManifest> {
  return (await lib()).parseImageManifest;
}
