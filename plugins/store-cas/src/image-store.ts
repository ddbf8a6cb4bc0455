/**
 * Content-addressed image store.
 *
 * Blobs are stored *uncompressed* (normalised), as rkt does: the image ID is the hash of the
 * uncompressed tar, so the stored bytes are exactly what the ID names (a re-hash verifies a blob
 * directly); rendering and `image export` read the tar with no decompression (rendering is the
 * hot path: gunzip alone runs at ~335 MB/s in Node, xz at ~75 MB/s, far below extraction speed);
 * and two differently compressed copies of one image dedupe to one blob. The cost is disk space.
 *
 * Import (crash-consistent): decompress in-process, tee the tar into a temp file in cas/tmp and
 * into the ACI scanner (sha512 + layout + manifest) in one pass, fsync, then in one IMMEDIATE
 * transaction: rename the temp file to its content address, fsync the directory, insert the row.
 * An interrupted import leaves only an owner-tagged temp file, reclaimed once its owner is dead.
 *
 * Concurrent imports of one image from several processes: each writes its own temp file; the
 * rename + insert pairs are serialised by SQLite's write lock, and both are idempotent (rename of
 * identical content over the same name, `INSERT` only when absent), so the result is one blob and
 * one row. Removal deletes the row and unlinks the blob inside the same write transaction, so an
 * import and a removal can never interleave into "row without blob". That is why no flock is
 * needed: SQLite's lock is the only lock, and it is released by the kernel if a holder dies.
 */
import * as fs from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { once } from 'node:events';
import type {
  DigestSource,
  ImageInfo,
  ImageManifest,
  ImageStore,
  ImportOptions,
  Label,
  RemoteCacheInfo,
} from '@rkt/api';
import { invalidArgument, notFound, internal } from '@rkt/api';
import type { StreamHasher } from './appc.js';

// The ACI library (tar parsing, decompression, hashing: ~30 modules) is loaded by the first
// import, not by every command that opens the store (`rkt run` of a stored image never needs it).
let appcModule: Promise<typeof import('./appc.js')> | undefined;
const appc = () => (appcModule ??= import('./appc.js'));
import type { StoreCore } from './core.js';
import { lightWrite, type ImageRow, type RemoteRow } from './db.js';
import { fsyncDir, isErrno, mkdirp } from './fsutil.js';
import { checkImageId, IMAGE_PREFIX_RE } from './layout.js';
import { tempName } from './owner.js';

/** Start flushing written data to disk every this many bytes, so that the final fsync is short. */
const WRITEBACK_STEP = 64 << 20;
const MAX_IN_FLIGHT = 8 << 20;

function toInfo(row: ImageRow, treeSize: number): ImageInfo {
  return {
    id: row.id,
    name: row.name,
    labels: JSON.parse(row.labels) as Label[],
    importTime: new Date(row.import_time),
    lastUsed: new Date(row.last_used),
    size: row.size,
    treeSize,
  };
}

export class CasImageStore implements ImageStore {
  readonly hashesSource = true;

  constructor(private readonly core: StoreCore) {}

  private treeSize(id: string): number {
    const r = this.core.db.prepare('SELECT COALESCE(SUM(size), 0) AS s FROM trees WHERE image_id = ?').get(id) as { s: number };
    return r.s;
  }

  private row(id: string): ImageRow | undefined {
    return this.core.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as ImageRow | undefined;
  }

  async importAci(source: Readable, options: ImportOptions = {}): Promise<ImageInfo> {
    const core = this.core;
    const db = core.db;
    const tmp = `${core.layout.tmp}/${tempName('import')}`;
    let fd: number | undefined = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    let hashing: Awaited<ReturnType<typeof importHashing>> | undefined;
    // Writes and flushes queued on the thread pool: all must be settled before the fd is closed,
    // or a late one would land in whatever file reuses the descriptor number (seen: the index).
    let tail: Promise<void> = Promise.resolve();
    let flushing: Promise<void> | undefined;
    try {
      const { decompress, manifestParser, scanAci } = await appc();
      hashing = await importHashing(source, options.sourceHashes);
      const { stream } = await decompress(hashing.stream);
      const scanInput = new PassThrough({ highWaterMark: 1 << 20 });
      const scanning = scanAci(scanInput, { parseManifest: await manifestParser(), hasher: hashing.tar });
      scanning.catch(() => undefined); // observed below; avoid an unhandled rejection while we still stream
      let written = 0; // bytes handed to the file
      let flushedAt = 0;
      const writeFd = fd;
      // Writes run on the thread pool, in order, while this thread hashes and parses; up to
      // MAX_IN_FLIGHT bytes may be queued (bounded memory).
      let inFlight = 0;
      let writeError: unknown;
      const settled: (() => void)[] = [];
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (writeError !== undefined) throw writeError;
        inFlight += chunk.length;
        tail = tail.then(() => writeAll(writeFd, chunk)).then(
          () => {
            inFlight -= chunk.length;
            settled.shift()?.();
          },
          (e: unknown) => {
            writeError ??= e;
            settled.shift()?.();
          },
        );
        if (!scanInput.write(chunk)) {
          await Promise.race([once(scanInput, 'drain'), scanning]);
        }
        written += chunk.length;
        while (inFlight > MAX_IN_FLIGHT && writeError === undefined) {
          await new Promise<void>((r) => settled.push(r));
        }
        if (written - flushedAt >= WRITEBACK_STEP && flushing === undefined) {
          flushedAt = written;
          // Start writeback early so that the final fsync has little left to do.
          flushing = new Promise<void>((res) => fs.fdatasync(writeFd, () => res())).then(() => {
            flushing = undefined;
          });
        }
        if (core.hooks.importProgress !== undefined) {
          await tail;
          await core.hooks.importProgress(written);
        }
      }
      scanInput.end();
      const scan = await scanning;
      await tail;
      if (writeError !== undefined) throw writeError;
      if (flushing !== undefined) await flushing;
      if (scan.uncompressedSize !== written) {
        throw internal(`import: scanned ${scan.uncompressedSize} bytes but wrote ${written}`);
      }
      const id = checkImageId(scan.imageId);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fd = undefined;

      const manifest = scan.manifest;
      // The caller's last word (signature check) comes before the image becomes visible.
      if (options.beforeCommit !== undefined) {
        const sourceHashes = hashing.result();
        await options.beforeCommit({ id, manifest, ...(sourceHashes ? { sourceHashes } : {}) });
      }

      const now = Date.now();
      const blobDir = core.layout.blobDir(id);
      const blob = core.layout.blob(id);
      db.transaction(() => {
        const existing = this.row(id);
        let blobPresent = false;
        try {
          blobPresent = fs.statSync(blob).size === written;
        } catch (e) {
          if (!isErrno(e, 'ENOENT')) throw e;
        }
        if (!blobPresent) {
          mkdirp(blobDir, 0o750);
          fs.renameSync(tmp, blob);
          fsyncDir(blobDir);
        }
        if (existing === undefined) {
          db.prepare(
            `INSERT INTO images (id, name, labels, manifest, import_time, last_used, size)
             VALUES (?, ?, ?, ?, ?, ?, ?)`,
          ).run(id, manifest.name, JSON.stringify(manifest.labels ?? []), scan.manifestBytes, now, now, written);
        }
        if (options.remote !== undefined) {
          upsertRemote(db, { ...options.remote, imageId: id, downloadTime: new Date(now) });
        }
      }).immediate();
      return toInfo(this.row(id)!, this.treeSize(id));
    } finally {
      hashing?.close();
      if (fd !== undefined) {
        await tail.catch(() => undefined);
        await flushing;
        fs.closeSync(fd);
      }
      fs.rmSync(tmp, { force: true });
    }
  }

  async resolveId(idOrPrefix: string): Promise<string> {
    const p = idOrPrefix.trim().toLowerCase();
    if (!IMAGE_PREFIX_RE.test(p)) {
      throw invalidArgument(
        `invalid image ID "${idOrPrefix}": expected sha512- followed by at least 2 hex digits`,
      );
    }
    const rows = this.core.db.prepare('SELECT id FROM images WHERE id GLOB ? ORDER BY id LIMIT 101').all(`${p}*`) as {
      id: string;
    }[];
    if (rows.length === 0) throw notFound(`no image with ID ${idOrPrefix} in the store`);
    if (rows.length > 1) {
      const count = rows.length > 100 ? 'more than 100' : String(rows.length);
      throw invalidArgument(`image ID prefix "${idOrPrefix}" is ambiguous: it matches ${count} images`, {
        details: { candidates: rows.slice(0, 100).map((r) => r.id) },
      });
    }
    return rows[0]!.id;
  }

  async getInfo(id: string): Promise<ImageInfo | undefined> {
    const row = this.row(id);
    return row === undefined ? undefined : toInfo(row, this.treeSize(id));
  }

  async findByName(name: string, labels: Record<string, string>): Promise<ImageInfo | undefined> {
    const rows = this.core.db
      .prepare('SELECT * FROM images WHERE name = ? ORDER BY import_time DESC, rowid DESC')
      .all(name) as ImageRow[];
    const wanted = Object.entries(labels);
    for (const row of rows) {
      const have = new Map((JSON.parse(row.labels) as Label[]).map((l) => [l.name, l.value]));
      if (wanted.every(([k, v]) => have.get(k) === v)) return toInfo(row, this.treeSize(row.id));
    }
    return undefined;
  }

  async list(): Promise<ImageInfo[]> {
    const rows = this.core.db.prepare('SELECT * FROM images ORDER BY import_time, id').all() as ImageRow[];
    const sizes = new Map(
      (this.core.db.prepare('SELECT image_id, SUM(size) AS s FROM trees GROUP BY image_id').all() as {
        image_id: string;
        s: number;
      }[]).map((r) => [r.image_id, r.s]),
    );
    return rows.map((r) => toInfo(r, sizes.get(r.id) ?? 0));
  }

  async manifest(id: string): Promise<ImageManifest> {
    return JSON.parse(this.manifestBytes(id).toString('utf8')) as ImageManifest;
  }

  manifestBytes(id: string): Buffer {
    const r = this.core.db.prepare('SELECT manifest FROM images WHERE id = ?').get(id) as { manifest: Buffer } | undefined;
    if (r === undefined) throw notFound(`image ${id} is not in the store`);
    return r.manifest;
  }

  openAci(id: string): Readable {
    checkImageId(id);
    if (this.row(id) === undefined) throw notFound(`image ${id} is not in the store`);
    let fd: number;
    try {
      // Opened now: a concurrent removal cannot pull the blob from under the reader.
      fd = fs.openSync(this.core.layout.blob(id), fs.constants.O_RDONLY);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) {
        throw notFound(`image ${id} is in the index but its blob is missing; remove the image and fetch it again`);
      }
      throw e;
    }
    return fs.createReadStream('', { fd, highWaterMark: 1 << 20 });
  }

  async remove(id: string): Promise<void> {
    checkImageId(id);
    const db = this.core.db;
    const blob = this.core.layout.blob(id);
    db.transaction(() => {
      const r = db.prepare('DELETE FROM images WHERE id = ?').run(id);
      if (r.changes === 0) throw notFound(`image ${id} is not in the store`);
      db.prepare('DELETE FROM remotes WHERE image_id = ?').run(id);
      // Unlinked inside the write transaction: an import of the same image cannot interleave.
      fs.rmSync(blob, { force: true });
    }).immediate();
    // Rendered trees are left alone: pods may be using them. `gc` removes unreferenced ones.
  }

  async remote(url: string): Promise<RemoteCacheInfo | undefined> {
    const r = this.core.db.prepare('SELECT * FROM remotes WHERE url = ?').get(url) as RemoteRow | undefined;
    if (r === undefined) return undefined;
    return {
      url: r.url,
      imageId: r.image_id,
      downloadTime: new Date(r.download_time),
      ...(r.etag !== null ? { etag: r.etag } : {}),
      ...(r.max_age !== null ? { maxAge: r.max_age } : {}),
    };
  }

  async setRemote(info: RemoteCacheInfo): Promise<void> {
    const db = this.core.db;
    db.transaction(() => {
      if (this.row(info.imageId) === undefined) {
        throw notFound(`cannot record remote ${info.url}: image ${info.imageId} is not in the store`);
      }
      upsertRemote(db, info);
    }).immediate();
  }

  async markUsed(id: string): Promise<void> {
    const db = this.core.db;
    const r = lightWrite(db, () => db.prepare('UPDATE images SET last_used = ? WHERE id = ?').run(Date.now(), id));
    if (r.changes === 0) throw notFound(`image ${id} is not in the store`);
  }
}

function upsertRemote(db: StoreCore['db'], info: RemoteCacheInfo): void {
  db.prepare(
    `INSERT INTO remotes (url, image_id, etag, max_age, download_time) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(url) DO UPDATE SET image_id = excluded.image_id, etag = excluded.etag,
       max_age = excluded.max_age, download_time = excluded.download_time`,
  ).run(info.url, info.imageId, info.etag ?? null, info.maxAge ?? null, info.downloadTime.getTime());
}

function writeAll(fd: number, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number) => {
      fs.write(fd, buf, off, buf.length - off, null, (err, n) => {
        if (err) reject(err);
        else if (off + n < buf.length) step(off + n);
        else resolve();
      });
    };
    step(0);
  });
}

/**
 * Hashes for an import: the uncompressed tar always gets sha512 (the ImageID), off the main thread
 * once it is large (see @rkt/appc's hashing). `ImportOptions.sourceHashes` are over the source
 * bytes as given: for an uncompressed source that is the same tar, so the same pass computes them
 * (sha512 comes for free); a compressed source is hashed on its way into the decompressor.
 */
async function importHashing(
  source: Readable,
  algorithms: readonly string[] | undefined,
): Promise<{
  stream: Readable;
  tar: StreamHasher;
  result(): Record<string, DigestSource> | undefined;
  close(): void;
}> {
  const { adaptiveHasher, checkHashAlgorithms, hashThrough, DETECT_BYTES, detectCompression, peek } = await appc();
  const wanted = [...new Set(algorithms ?? [])];
  try {
    checkHashAlgorithms(wanted);
  } catch (e) {
    source.destroy();
    throw e;
  }
  if (wanted.length === 0) {
    const tar = adaptiveHasher(['sha512']);
    return { stream: source, tar, result: () => undefined, close: () => tar.close() };
  }
  const { head, stream } = await peek(source, DETECT_BYTES);
  const plain = detectCompression(head) === 'none';
  const tar = adaptiveHasher(plain ? [...new Set(['sha512', ...wanted])] : ['sha512']);
  const raw = plain ? undefined : adaptiveHasher(wanted);
  let out: Readable = stream;
  if (raw !== undefined) {
    const t = hashThrough(raw, undefined, true);
    stream.on('error', (e) => t.destroy(e));
    out = stream.pipe(t);
  }
  const from = raw ?? tar;
  return {
    stream: out,
    tar,
    result: () => Object.fromEntries(wanted.map((a) => [a, from.digest(a)])),
    close() {
      tar.close();
      raw?.close();
    },
  };
}
