/** Shared state of one store instance: layout, the lazily opened index, test hooks. */
import * as fs from 'node:fs';
import type { Database as DB } from 'better-sqlite3';
import { failedPrecondition } from '@rkt/api';
import { openIndex } from './db.js';
import { isErrno, mkdirp, removeAll } from './fsutil.js';
import { Layout } from './layout.js';
import { ownerAlive, parseTempName } from './owner.js';

export interface StoreHooks {
  /** Awaited after each chunk of an import is written (fault tests pause here). */
  importProgress?: (bytesWritten: number) => Promise<void> | void;
  /** Awaited before each archive entry of a render is written. */
  renderEntry?: (imageId: string, entryName: string) => Promise<void> | void;
}

export interface CasStoreOptions {
  hooks?: StoreHooks;
  /** Flush the file system before a tree is marked rendered (default true). */
  durable?: boolean;
}

export class StoreCore {
  readonly layout: Layout;
  readonly hooks: StoreHooks;
  readonly durable: boolean;
  private dbHandle: DB | undefined;
  private closed = false;

  constructor(dataDir: string, options: CasStoreOptions = {}) {
    this.layout = new Layout(dataDir);
    this.hooks = options.hooks ?? {};
    this.durable = options.durable ?? true;
  }

  /** The index, opened (and the directories created, stale temp files reclaimed) on first use. */
  get db(): DB {
    if (this.closed) throw failedPrecondition('the image store is closed');
    if (this.dbHandle === undefined) {
      const l = this.layout;
      mkdirp(l.cas, 0o751);
      mkdirp(l.blobs, 0o750);
      mkdirp(l.dbDir, 0o750);
      mkdirp(l.trees, 0o700);
      mkdirp(l.tmp, 0o700);
      this.dbHandle = openIndex(l.dbFile);
      this.reclaimTemp();
    }
    return this.dbHandle;
  }

  /** Delete our temporary entries whose owner process is gone. Returns how many were deleted. */
  reclaimTemp(): number {
    let n = 0;
    let names: string[];
    try {
      names = fs.readdirSync(this.layout.tmp);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return 0;
      throw e;
    }
    for (const name of names) {
      const t = parseTempName(name);
      if (t === undefined || !['import', 'tree', 'trash'].includes(t.kind)) continue;
      if (ownerAlive(t.owner)) continue;
      const p = `${this.layout.tmp}/${name}`;
      try {
        removeAll(p);
        n++;
      } catch {
        // another process reclaimed it, or it is not removable: leave it for the next run
      }
    }
    return n;
  }

  close(): void {
    this.dbHandle?.close();
    this.dbHandle = undefined;
    this.closed = true;
  }
}
