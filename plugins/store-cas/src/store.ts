/** The `cas` store: image store + tree store + gc over one data dir. */
import * as fs from 'node:fs';
import type { Store, StoreGcOptions, StoreGcReport } from '@rkt/api';
import { type CasStoreOptions, StoreCore } from './core.js';
import type { ImageRow } from './db.js';
import { isErrno } from './fsutil.js';
import { CasImageStore } from './image-store.js';
import { IMAGE_ID_RE } from './layout.js';
import { CasTreeStore } from './tree-store.js';

export type { CasStoreOptions, StoreHooks } from './core.js';

export class CasStore implements Store {
  readonly images: CasImageStore;
  readonly trees: CasTreeStore;
  private readonly core: StoreCore;

  /** Cheap: nothing touches the disk until the first operation. */
  constructor(dataDir: string, options: CasStoreOptions = {}) {
    this.core = new StoreCore(dataDir, options);
    this.images = new CasImageStore(this.core);
    this.trees = new CasTreeStore(this.core, this.images);
  }

  get tmpDir(): string {
    void this.core.db; // make sure it exists
    return this.core.layout.tmp;
  }

  async gc(options: StoreGcOptions): Promise<StoreGcReport> {
    const report: StoreGcReport = { removedTrees: [], removedImages: [], reclaimedTemp: 0, errors: [] };
    const db = this.core.db;
    report.reclaimedTemp = this.core.reclaimTemp();

    // 1. Trees not referenced by any pod.
    const referenced = new Set(options.referencedTrees);
    const keepImages = new Set(options.imagesInUse ?? []);
    for (const id of this.trees.allIds()) {
      if (referenced.has(id)) {
        const t = await this.trees.get(id);
        for (const l of t?.layers ?? []) keepImages.add(l);
        continue;
      }
      try {
        await this.trees.remove(id);
        report.removedTrees.push(id);
      } catch (e) {
        report.errors.push(`tree ${id}: ${(e as Error).message}`);
      }
    }
    db.prepare("DELETE FROM trees WHERE id NOT IN (SELECT value FROM json_each(?))").run(JSON.stringify(this.trees.allIds()));

    // 2. Images unused for the grace period (oldest first; stop at the first recent one, as rkt).
    if (options.imageGracePeriodMs !== undefined) {
      const cutoff = Date.now() - options.imageGracePeriodMs;
      const rows = db.prepare('SELECT id, last_used FROM images ORDER BY last_used, id').all() as Pick<ImageRow, 'id' | 'last_used'>[];
      for (const r of rows) {
        if (r.last_used > cutoff) break;
        if (keepImages.has(r.id)) continue;
        try {
          await this.images.remove(r.id);
          report.removedImages.push(r.id);
        } catch (e) {
          report.errors.push(`image ${r.id}: ${(e as Error).message}`);
        }
      }
    }

    // 3. Blobs without an index row (a crash between rename and commit). Under the write lock,
    //    so an import cannot be between its rename and its insert.
    db.transaction(() => {
      const known = new Set((db.prepare('SELECT id FROM images').all() as { id: string }[]).map((r) => r.id));
      let shards: string[] = [];
      try {
        shards = fs.readdirSync(this.core.layout.blobs);
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) throw e;
      }
      for (const shard of shards) {
        const dir = `${this.core.layout.blobs}/${shard}`;
        for (const name of fs.readdirSync(dir)) {
          if (IMAGE_ID_RE.test(name) && known.has(name)) continue;
          fs.rmSync(`${dir}/${name}`, { force: true, recursive: true });
          report.reclaimedTemp++;
        }
      }
      // Claims of dead renderers.
      db.prepare('DELETE FROM render_claims WHERE started < ?').run(Date.now() - 7 * 24 * 3600_000);
    }).immediate();
    return report;
  }

  close(): void {
    this.core.close();
  }
}

export function openCasStore(dataDir: string, options?: CasStoreOptions): CasStore {
  return new CasStore(dataDir, options);
}
