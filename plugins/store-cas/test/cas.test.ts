/** cas-specific behaviour beyond the conformance suite: laziness, layout, schema versions, ids. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { ActivationContext } from '@rkt/api';
import contribution from '../src/contribution.js';
import { CasStore } from '../src/index.js';

describe('cas store', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-cas-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('contribution init touches nothing on disk', async () => {
    const dataDir = `${tmp}/lazy`;
    const ctx = { paths: { dataDir } } as unknown as ActivationContext;
    assert.equal(contribution.point, 'rkt.store.v1');
    const store = await contribution.init(ctx);
    assert.ok(!fs.existsSync(dataDir), 'init must not create the data dir');
    assert.equal(store.tmpDir, `${dataDir}/cas/tmp`);
    assert.deepEqual(fs.readdirSync(`${dataDir}/cas`).sort(), ['blob', 'db', 'tmp', 'tree']);
    assert.equal(fs.statSync(`${dataDir}/cas/tree`).mode & 0o777, 0o700);
    assert.equal(fs.statSync(`${dataDir}/cas/tmp`).mode & 0o777, 0o700);
    store.close();
  });

  it('package.json declares the contribution', () => {
    const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    assert.deepEqual(pkg.rkt.contributes.map((c: { point: string; id: string; entry: string }) => [c.point, c.id, c.entry]), [
      ['rkt.store.v1', 'cas', './dist/contribution.js'],
    ]);
  });

  it('refuses an index written by a newer schema, with a clear error', async () => {
    const dataDir = `${tmp}/newer`;
    const s = new CasStore(dataDir);
    await s.images.list();
    s.close();
    const db = new Database(`${dataDir}/cas/db/index.sqlite`);
    db.pragma('user_version = 99');
    db.close();
    const s2 = new CasStore(dataDir);
    await assert.rejects(s2.images.list(), (e: Error & { code?: string }) => e.code === 'E_FAILED_PRECONDITION' && /99/.test(e.message));
  });

  it('never turns malformed ids into paths', async () => {
    const s = new CasStore(`${tmp}/ids`);
    assert.equal(await s.trees.get('../../etc'), undefined);
    assert.equal(await s.trees.get(`deps-sha512-${'a'.repeat(63)}/`), undefined);
    await assert.rejects(s.trees.remove('../x'), (e: Error & { code?: string }) => e.code === 'E_INVALID_ARGUMENT');
    assert.throws(() => s.images.openAci('sha512-../../../etc/passwd'), (e: Error & { code?: string }) => e.code === 'E_INVALID_ARGUMENT');
    await assert.rejects(s.images.remove(`sha512-${'A'.repeat(128)}`), (e: Error & { code?: string }) => e.code === 'E_INVALID_ARGUMENT');
    s.close();
  });

  it('closed stores refuse work', async () => {
    const s = new CasStore(`${tmp}/closed`);
    s.close();
    await assert.rejects(s.images.list(), (e: Error & { code?: string }) => e.code === 'E_FAILED_PRECONDITION');
  });
});
