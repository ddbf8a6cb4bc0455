/**
 * Layout check of an ACI file without computing its ImageID (what `actool validate` needs): the
 * same rules as scanAci, walked with the raw tar reader. An uncompressed image is read with
 * positional reads that skip every body but the manifest's, like the reference reader's seeks.
 */
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { invalidArgument, type ImageManifest } from '@rkt/api';
import { decompress, detectCompression, DETECT_BYTES, type Compression } from './compression.js';
import { FileBytes, RawTarReader } from './rawtar.js';
import { LayoutRules } from './layout.js';
import { DEFAULT_MAX_MANIFEST_BYTES, type ScanOptions } from './scan.js';

export interface AciCheck {
  manifest: ImageManifest;
  manifestBytes: Buffer;
  compression: Compression;
}

const TYPE_NAMES: Record<string, string> = { '1': 'link', '2': 'symlink', '3': 'character-device', '4': 'block-device', '5': 'directory', '6': 'fifo' };
const isRegular = (t: string) => t === '0' || t === '\0' || t === '7';

export async function checkAciFile(path: string, opts: Omit<ScanOptions, 'onEntry'> = {}): Promise<AciCheck> {
  const limit = opts.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
  const fd = openSync(path, 'r');
  let stream: import('node:stream').Readable | undefined;
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(DETECT_BYTES);
    const n = readSync(fd, head, 0, head.length, 0);
    const compression = detectCompression(head.subarray(0, n));
    if (!compression)
      throw invalidArgument(n === 0 ? 'not an ACI: the file is empty' : 'not an ACI: unknown file type (expected a tar archive, optionally gzip, bzip2 or xz compressed)');
    let tr: RawTarReader;
    if (compression === 'none') tr = new RawTarReader(new FileBytes(fd, size, readSync));
    else {
      stream = (await decompress(createReadStream(path, { highWaterMark: 1 << 20 }))).stream;
      tr = new RawTarReader(stream);
    }
    const layout = new LayoutRules();
    for (let e = await tr.next(); e; e = await tr.next()) {
      const kind = layout.entry(e.rawName, {
        isFile: isRegular(e.typeflag),
        isDirectory: e.typeflag === '5',
        typeName: TYPE_NAMES[e.typeflag] ?? `type ${JSON.stringify(e.typeflag)} entry`,
      });
      if (kind === 'manifest') {
        if (e.size > limit) throw invalidArgument(`invalid ACI: the manifest is larger than ${limit} bytes`);
        layout.manifest(await tr.readBody(e, limit, 'manifest'));
      }
    }
    const { manifest, manifestBytes } = layout.finish(opts.parseManifest);
    return { manifest, manifestBytes, compression };
  } finally {
    stream?.destroy();
    closeSync(fd);
  }
}
