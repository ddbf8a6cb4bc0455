/**
 * The store index: SQLite (better-sqlite3) in WAL mode under `cas/db/index.sqlite`.
 *
 * Several rkt processes share the index. Every write runs in a `BEGIN IMMEDIATE` transaction
 * (one writer at a time; others wait up to the busy timeout), so check-then-insert sequences are
 * atomic across processes. The schema version is `PRAGMA user_version`; migrations run in one
 * IMMEDIATE transaction that re-reads the version first, so concurrent first opens migrate once.
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type { Database as DB } from 'better-sqlite3';

// Loaded with require: importing this CommonJS package from ESM makes Node scan it for export
// names first, ~10 ms of every command that opens the store.
const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
import { failedPrecondition } from '@rkt/api';

export const SCHEMA_VERSION = 1;
const BUSY_TIMEOUT_MS = 30_000;

/** migrations[i] brings the schema from version i to i + 1. */
const MIGRATIONS: string[] = [
  `CREATE TABLE images (
     id          TEXT PRIMARY KEY,
     name        TEXT NOT NULL,
     labels      TEXT NOT NULL,          -- JSON [{name, value}]
     manifest    BLOB NOT NULL,          -- the manifest bytes as found in the archive
     import_time INTEGER NOT NULL,       -- ms since the epoch
     last_used   INTEGER NOT NULL,
     size        INTEGER NOT NULL,       -- bytes of the stored blob
     latest      INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX images_name ON images(name);
   CREATE TABLE remotes (
     url           TEXT PRIMARY KEY,
     image_id      TEXT NOT NULL,
     etag          TEXT,
     max_age       INTEGER,
     download_time INTEGER NOT NULL
   );
   CREATE INDEX remotes_image ON remotes(image_id);
   CREATE TABLE trees (
     id            TEXT PRIMARY KEY,
     image_id      TEXT NOT NULL,
     layers        TEXT NOT NULL,        -- JSON [imageId] in extraction order
     size          INTEGER NOT NULL,
     rendered_time INTEGER NOT NULL
   );
   CREATE INDEX trees_image ON trees(image_id);
   -- advisory: who is rendering a tree right now (avoids duplicate work; not needed for safety)
   CREATE TABLE render_claims (
     tree_id TEXT PRIMARY KEY,
     owner   TEXT NOT NULL,
     started INTEGER NOT NULL
   );`,
];

export interface ImageRow {
  id: string;
  name: string;
  labels: string;
  manifest: Buffer;
  import_time: number;
  last_used: number;
  size: number;
  latest: number;
}

export interface RemoteRow {
  url: string;
  image_id: string;
  etag: string | null;
  max_age: number | null;
  download_time: number;
}

export interface TreeRow {
  id: string;
  image_id: string;
  layers: string;
  size: number;
  rendered_time: number;
}

export function openIndex(file: string): DB {
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // WAL: readers never block the writer; with synchronous=FULL a commit is durable when it returns.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

/**
 * Run a write that need not survive a power cut (e.g. a last-used time, a hint for gc) without
 * synchronous=FULL's fsync. In WAL mode synchronous=NORMAL keeps the database consistent; the write
 * just may be lost. Saves an fsync (tens of ms on a busy disk) on every `rkt run`.
 */
export function lightWrite<T>(db: DB, fn: () => T): T {
  if (db.inTransaction) return fn();
  db.pragma('synchronous = NORMAL');
  try {
    return fn();
  } finally {
    db.pragma('synchronous = FULL');
  }
}

function migrate(db: DB): void {
  const current = () => db.pragma('user_version', { simple: true }) as number;
  if (current() === SCHEMA_VERSION) return;
  db.transaction(() => {
    const v = current();
    if (v > SCHEMA_VERSION) {
      throw failedPrecondition(`store index schema version ${v} is newer than this rkt supports (${SCHEMA_VERSION}); use a newer rkt`);
    }
    for (let i = v; i < SCHEMA_VERSION; i++) db.exec(MIGRATIONS[i]!);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
