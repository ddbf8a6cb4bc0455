/**
 * ACI compression: detected by magic bytes, never by file name. gzip is decompressed in-process
 * (node:zlib); bzip2 and xz by the real `bzip2`/`xz` tools (Node has neither codec), streaming.
 */
import { Readable, PassThrough } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { invalidArgument, unavailable } from '@rkt/api';

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz';

const GZIP = [0x1f, 0x8b, 0x08];
const BZIP2 = [0x42, 0x5a, 0x68]; // "BZh"
const XZ = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const TAR_MAGIC = Buffer.from('ustar');
const TAR_OFFSET = 257;

/** How many leading bytes detection needs. */
export const DETECT_BYTES = TAR_OFFSET + TAR_MAGIC.length;

function startsWith(head: Uint8Array, sig: number[]): boolean {
  return head.length >= sig.length && sig.every((b, i) => head[i] === b);
}

/** The compression of an ACI from its first bytes; undefined when it is no ACI at all. */
export function detectCompression(head: Uint8Array): Compression | undefined {
  if (startsWith(head, GZIP)) return 'gzip';
  if (startsWith(head, BZIP2)) return 'bzip2';
  if (startsWith(head, XZ)) return 'xz';
  if (head.length >= DETECT_BYTES && Buffer.from(head.subarray(TAR_OFFSET, TAR_OFFSET + TAR_MAGIC.length)).equals(TAR_MAGIC))
    return 'none';
  return undefined;
}

/** Read at least `n` bytes (or everything, if shorter) and hand back a stream that still yields them. */
export async function peek(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let len = 0;
  for await (const chunk of input.iterator({ destroyOnReturn: false })) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    chunks.push(b);
    len += b.length;
    if (len >= n) break;
  }
  const head = Buffer.concat(chunks);
  if (input.readableEnded || input.destroyed) return { head, stream: Readable.from([head]) };
  input.unshift(head);
  return { head, stream: input };
}

function viaTool(tool: 'bzip2' | 'xz', input: Readable): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  // execa is loaded lazily: only bzip2/xz images need it.
  void import('execa').then(({ execa }) => {
    const sub = execa(tool, ['--decompress', '--stdout'], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: { stderr: true, stdout: false } });
    input.on('error', (e) => sub.kill() && out.destroy(e));
    input.pipe(sub.stdin!).on('error', () => undefined);
    sub.stdout!.pipe(out, { end: false });
    sub.then(
      () => {
        // stdout may still hold data: end `out` once it is drained.
        if (sub.stdout!.readableEnded) out.end();
        else sub.stdout!.once('end', () => out.end());
      },
      (e: { code?: string; stderr?: string; message: string }) => {
        if (e.code === 'ENOENT') out.destroy(unavailable(`cannot decompress ${tool} image: the ${tool} tool is not installed`));
        else out.destroy(invalidArgument(`${tool} image is corrupt: ${(e.stderr || e.message).trim().split('\n').pop()}`));
      },
    );
    out.on('close', () => {
      if (!sub.stdout!.readableEnded) sub.kill();
    });
  }, (e: unknown) => out.destroy(e as Error));
  return out;
}

/** Detect the compression and return the uncompressed tar stream. */
export async function decompress(input: Readable): Promise<{ compression: Compression; stream: Readable }> {
  const { head, stream } = await peek(input, DETECT_BYTES);
  const compression = detectCompression(head);
  if (!compression) {
    stream.destroy();
    throw invalidArgument(
      head.length === 0
        ? 'not an ACI: the file is empty'
        : 'not an ACI: unknown file type (expected a tar archive, optionally gzip, bzip2 or xz compressed)',
    );
  }
  if (compression === 'none') return { compression, stream };
  if (compression === 'gzip') {
    const gunzip = createGunzip({ chunkSize: 256 << 10 });
    stream.on('error', (e) => gunzip.destroy(e));
    const out = stream.pipe(gunzip);
    // zlib errors name the problem ("unexpected end of file", "incorrect header check").
    const wrapped = new PassThrough({ highWaterMark: 1 << 20 });
    out.on('error', (e) => wrapped.destroy(invalidArgument(`gzip image is corrupt: ${e.message}`, { cause: e })));
    out.pipe(wrapped);
    return { compression, stream: wrapped };
  }
  return { compression, stream: viaTool(compression, stream) };
}
