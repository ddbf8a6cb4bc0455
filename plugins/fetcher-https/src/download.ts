/**
 * Resumable download of one ACI into a file under `tmpDir`.
 *
 * The partial file is keyed by a hash of the URL (`https-<key>.part`, with `https-<key>.json`
 * remembering the URL and the validator the server gave). A later attempt for the same URL sends
 * `Range: bytes=<have>-` with `If-Range: <etag or Last-Modified>`: a 206 whose Content-Range starts
 * exactly there is appended, a 200 starts over, a 416 or an inconsistent 206 discards the part and
 * starts over. A body that ends early is an error; its part file is kept only when it can be resumed.
 *
 * The finished file is opened, unlinked and handed over as a stream of that descriptor, so no
 * file is left behind and nobody can swap it between download and use.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { once } from 'node:events';
import type { ProgressSink } from '@rkt/api';
import { isRktError, unavailable } from '@rkt/api';
import { contentLength, openUrl, parseMaxAge, showUrl, statusError, transportError, type TransportOptions } from './http.js';

export interface DownloadOptions {
  tmpDir: string;
  /** Send `If-None-Match` with this ETag (the store's copy). */
  ifNoneMatch?: string;
  progress?: ProgressSink;
  label: string;
  /** Refuse bodies larger than this. */
  maxBytes: number;
}

export type DownloadResult =
  | { notModified: true; etag?: string; maxAge?: number; url: URL }
  | {
      notModified: false;
      /** Stream of the complete downloaded file (already unlinked). */
      stream: Readable;
      size: number;
      etag?: string;
      maxAge?: number;
      /** The URL that served the body, after redirects. */
      url: URL;
    };

interface PartMeta {
  url: string;
  etag?: string;
  lastModified?: string;
  acceptRanges: boolean;
}

function keyOf(url: URL): string {
  return createHash('sha256').update(url.toString()).digest('hex').slice(0, 40);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take `<base>.lock`; false when another live process holds it. */
async function takeLock(lockPath: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lockPath, String(process.pid), { flag: 'wx', mode: 0o600 });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && pidAlive(owner)) return false;
      if (owner === process.pid) return false; // a concurrent fetch of the same URL in this process
      await rm(lockPath, { force: true });
    }
  }
  return false;
}

async function readMeta(path: string): Promise<PartMeta | undefined> {
  try {
    const m = JSON.parse(await readFile(path, 'utf8')) as PartMeta;
    return typeof m.url === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Parse `bytes a-b/total`. */
function parseContentRange(v: string | undefined): { start: number; end: number; total?: number } | undefined {
  if (!v) return undefined;
  const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim());
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), ...(m[3] === '*' ? {} : { total: Number(m[3]) }) };
}

/** Open the finished file, unlink it, and return a stream over the descriptor. */
async function handOver(path: string): Promise<{ stream: Readable; size: number }> {
  const fh: FileHandle = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    await rm(path, { force: true });
    return { stream: fh.createReadStream({ autoClose: true }), size };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

export async function downloadAci(url: URL, transport: TransportOptions, opts: DownloadOptions): Promise<DownloadResult> {
  await mkdir(opts.tmpDir, { recursive: true, mode: 0o700 });
  const key = keyOf(url);
  let base = join(opts.tmpDir, `https-${key}`);
  const locked = await takeLock(`${base}.lock`);
  const lockPath = `${base}.lock`;
  if (!locked) {
    // Someone else is downloading the same URL: download privately, without resume.
    base = join(opts.tmpDir, `https-${key}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`);
  }
  const partPath = `${base}.part`;
  const metaPath = `${base}.json`;
  try {
    let restarts = 0;
    for (;;) {
      const r = await attempt(url, transport, opts, partPath, metaPath, locked);
      if (r !== 'restart') return r;
      await rm(partPath, { force: true });
      await rm(metaPath, { force: true });
      if (++restarts > 1) throw unavailable(`${showUrl(url)}: server keeps answering byte ranges inconsistently`);
    }
  } finally {
    if (locked) await rm(lockPath, { force: true });
    else {
      await rm(partPath, { force: true });
      await rm(metaPath, { force: true });
    }
  }
}

async function attempt(
  url: URL,
  transport: TransportOptions,
  opts: DownloadOptions,
  partPath: string,
  metaPath: string,
  resumable: boolean,
): Promise<DownloadResult | 'restart'> {
  const headers: Record<string, string> = {};
  if (opts.ifNoneMatch) headers['If-None-Match'] = opts.ifNoneMatch;

  let have = 0;
  const meta = resumable ? await readMeta(metaPath) : undefined;
  const validator = meta?.etag ?? meta?.lastModified;
  if (meta && meta.url === url.toString() && meta.acceptRanges && validator) {
    have = await sizeOf(partPath);
    if (have > 0) {
      headers.Range = `bytes=${have}-`;
      headers['If-Range'] = validator;
      transport.debug?.(`resuming ${showUrl(url)} at byte ${have}`);
    }
  }
  if (have === 0) {
    await rm(partPath, { force: true });
    await rm(metaPath, { force: true });
  }

  const { res, url: finalUrl } = await openUrl(url, headers, transport);
  const status = res.statusCode ?? 0;
  const etag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined;
  const maxAge = parseMaxAge(res.headers['cache-control']);

  if (status === 304) {
    res.resume();
    if (!opts.ifNoneMatch) throw unavailable(`${showUrl(url)}: HTTP 304 to an unconditional request`);
    return { notModified: true, ...(etag ? { etag } : { etag: opts.ifNoneMatch }), ...(maxAge !== undefined ? { maxAge } : {}), url: finalUrl };
  }
  if (status === 416 && have > 0) {
    res.resume();
    transport.debug?.(`${showUrl(url)}: range not satisfiable, restarting the download`);
    return 'restart';
  }
  if (status !== 200 && status !== 206) {
    res.resume();
    throw statusError(status, finalUrl, 'fetching image');
  }

  let offset = 0;
  let total: number | undefined;
  if (status === 206) {
    const cr = parseContentRange(res.headers['content-range']);
    if (have === 0 || !cr || cr.start !== have || (cr.total !== undefined && cr.end !== cr.total - 1)) {
      res.destroy();
      transport.debug?.(
        `${showUrl(url)}: unexpected Content-Range ${JSON.stringify(res.headers['content-range'] ?? null)} ` +
          `for a resume at ${have}, restarting the download`,
      );
      return 'restart';
    }
    offset = have;
    total = cr.total;
    const len = contentLength(res);
    if (total === undefined && len !== undefined) total = offset + len;
  } else {
    const len = contentLength(res);
    total = len;
    if (have > 0) transport.debug?.(`${showUrl(url)}: the server sent the whole body, not resuming`);
  }
  if (total !== undefined && total > opts.maxBytes) {
    res.destroy();
    throw unavailable(`${showUrl(finalUrl)}: image of ${total} bytes exceeds the limit of ${opts.maxBytes} bytes`);
  }

  const lastModified = typeof res.headers['last-modified'] === 'string' ? res.headers['last-modified'] : undefined;
  const canResume = resumable && res.headers['accept-ranges'] === 'bytes' && (etag ?? lastModified) !== undefined;
  if (offset === 0) {
    const m: PartMeta = { url: url.toString(), acceptRanges: canResume };
    if (etag) m.etag = etag;
    if (lastModified) m.lastModified = lastModified;
    await writeFile(metaPath, JSON.stringify(m), { mode: 0o600 });
  }

  const received = await receive(res, finalUrl, partPath, metaPath, offset, total, opts, transport, canResume);
  const { stream, size } = await handOver(partPath);
  await rm(metaPath, { force: true });
  if (size !== received + offset) {
    stream.destroy();
    throw unavailable(`${showUrl(finalUrl)}: downloaded file has ${size} bytes, expected ${received + offset}`);
  }
  return {
    notModified: false,
    stream,
    size,
    ...(etag ? { etag } : {}),
    ...(maxAge !== undefined ? { maxAge } : {}),
    url: finalUrl,
  };
}

/** Write the body into the part file; returns the bytes received in this response. */
async function receive(
  res: IncomingMessage,
  url: URL,
  partPath: string,
  metaPath: string,
  offset: number,
  total: number | undefined,
  opts: DownloadOptions,
  transport: TransportOptions,
  canResume: boolean,
): Promise<number> {
  const progress = opts.progress;
  progress?.start(opts.label, total);
  if (offset > 0) progress?.advance(offset);
  let n = 0;
  let failure: unknown;
  let tooBig = false;
  const out = createWriteStream(partPath, { flags: offset > 0 ? 'a' : 'w', mode: 0o600 });
  out.on('error', (err) => res.destroy(err));
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (offset + n > opts.maxBytes) {
        tooBig = true;
        res.destroy();
        throw unavailable(`${showUrl(url)}: image exceeds the limit of ${opts.maxBytes} bytes`);
      }
      progress?.advance(chunk.length);
      if (!out.write(chunk)) await once(out, 'drain');
    }
  } catch (err) {
    failure = err;
  } finally {
    progress?.done();
  }
  // Whatever happened, what was received goes to disk in full before we decide about it.
  try {
    out.end();
    await finished(out);
  } catch (err) {
    failure ??= err;
    tooBig = true; // the part file cannot be trusted
  }
  if (failure !== undefined) {
    if (!canResume || tooBig) {
      await rm(partPath, { force: true });
      await rm(metaPath, { force: true });
    }
    if (tooBig && isRktError(failure)) throw failure;
    const e = transportError(failure, url, transport.signal);
    if (e.details?.aborted) throw e;
    throw unavailable(
      `${showUrl(url)}: download interrupted after ${offset + n}${total !== undefined ? ` of ${total}` : ''} bytes` +
        (canResume ? ' (the partial download is kept and will be resumed)' : ''),
      { cause: e },
    );
  }
  if (!res.complete || (total !== undefined && offset + n !== total)) {
    if (!canResume) await rm(partPath, { force: true });
    throw unavailable(
      `${showUrl(url)}: body truncated after ${offset + n}${total !== undefined ? ` of ${total}` : ''} bytes` +
        (canResume ? ' (the partial download is kept and will be resumed)' : ''),
    );
  }
  return n;
}
