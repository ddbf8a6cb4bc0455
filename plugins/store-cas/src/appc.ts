/** The ACI library and manifest schema this store builds on (owned by @rkt/appc). */
import type { ImageManifest } from '@rkt/api';
import { parseImageManifest } from '@rkt/appc';

export {
  adaptiveHasher,
  checkHashAlgorithms,
  decompress,
  hashThrough,
  DETECT_BYTES,
  detectCompression,
  peek,
  scanAci,
  type AciScan,
  type Compression,
  type StreamHasher,
} from '@rkt/appc';

export async function manifestParser(): Promise<(b: Buffer) => ImageManifest> {
  return (b) => parseImageManifest(b);
}
