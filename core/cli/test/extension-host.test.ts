import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fetcher, Store, isSkipPlugin, type RuntimePaths } from '@rkt/api';
import { ExtensionHost, type PluginSource } from '../src/runtime/extension-host.js';

const root = mkdtempSync(join(tmpdir(), 'rkt-exthost-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

function plugin(name: string, contributes: unknown, files: Record<string, string>): PluginSource {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, src] of Object.entries(files)) writeFileSync(join(dir, f), src);
  return { name, version: '1.0.0', root: dir, type: 'user', pjson: { rkt: { contributes } } };
}

const paths: RuntimePaths = { dataDir: '/nonexistent/data', systemConfigDir: '/x', localConfigDir: '/y', stage1ImagesDir: '/z' };
const logs: string[] = [];
function host(plugins: PluginSource[], extra: Partial<ConstructorParameters<typeof ExtensionHost>[1]> = {}) {
  return new ExtensionHost(plugins, { paths, debug: false, pluginSettings: {}, preferred: {}, log: (m) => logs.push(m), ...extra });
}

// An entry module that records its import in a marker file: proves lazy activation.
const fetcherModule = (id: string, marker: string) => `
import { writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(marker)}, 'imported');
export default { rktContribution: 1, point: 'rkt.fetcher.v1', init(ctx) {
  return { id: ${JSON.stringify(id)}, config: ctx.config, async fetch() { return { signature: null }; } };
} };`;

test('contributions are read as data and imported only when activated', async () => {
  const marker = join(root, 'a-imported');
  const p = plugin('a', [{ point: 'rkt.fetcher.v1', id: 'alpha', match: { schemes: ['alpha'] }, entry: './f.js' }], {
    'f.js': fetcherModule('alpha', marker),
  });
  const h = host([p], { pluginSettings: { 'rkt.fetcher.v1.alpha': { root: '/srv' } } });
  assert.equal(h.records.length, 1);
  assert.equal(existsSync(marker), false, 'nothing imported at load');
  const none = await h.activateMatching(Fetcher, (d) => d.match?.schemes?.includes('beta') ?? false);
  assert.equal(none, undefined);
  assert.equal(existsSync(marker), false, 'a non-matching contribution is never imported');
  const got = await h.activateMatching(Fetcher, (d) => d.match?.schemes?.includes('alpha') ?? false);
  assert.equal(got?.id, 'alpha');
  assert.deepEqual((got?.instance as unknown as { config: unknown }).config, { root: '/srv' });
  assert.equal(existsSync(marker), true);
  assert.equal(h.records[0]!.status.state, 'ok');
});

test('skipped (host lacks a binary, or init says skip) is distinct from error', async () => {
  const p = plugin('b', [
    { point: 'rkt.fetcher.v1', id: 'needsbin', entry: './never.js', requires: { binaries: ['definitely-not-a-binary-xyz'] } },
    { point: 'rkt.fetcher.v1', id: 'selfskip', entry: './skip.js' },
    { point: 'rkt.fetcher.v1', id: 'broken', entry: './broken.js' },
    { point: 'rkt.fetcher.v1', id: 'wrongpoint', entry: './wrong.js' },
    { point: 'rkt.fetcher.v1', id: 'noexport', entry: './empty.js' },
  ], {
    'skip.js': `export default { rktContribution: 1, point: 'rkt.fetcher.v1', init(ctx) { throw ctx.api.skipPlugin('no mirror configured'); } };`,
    'broken.js': `export default { rktContribution: 1, point: 'rkt.fetcher.v1', init() { throw new Error('boom'); } };`,
    'wrong.js': `export default { rktContribution: 1, point: 'rkt.store.v1', init() { return {}; } };`,
    'empty.js': `export const x = 1;`,
  });
  const h = host([p]);
  await h.activateAll();
  const state = Object.fromEntries(h.records.map((r) => [r.decl.id, r.status]));
  assert.deepEqual(state.needsbin, { state: 'skipped', reason: 'definitely-not-a-binary-xyz not found in PATH' });
  assert.equal(state.selfskip!.state, 'skipped');
  assert.match((state.selfskip as { reason: string }).reason, /no mirror configured/);
  assert.equal(state.broken!.state, 'error');
  assert.match((state.broken as { reason: string }).reason, /boom/);
  assert.match((state.wrongpoint as { reason: string }).reason, /contributes to rkt\.store\.v1/);
  assert.match((state.noexport as { reason: string }).reason, /does not default-export a contribution/);
  await assert.rejects(h.activate(Fetcher, 'needsbin'), (e) => isSkipPlugin(e));
});

test('invalid declarations and duplicates are errors that name the problem', () => {
  const p1 = plugin('c', [
    { point: 'rkt.bogus.v1', id: 'x', entry: './x.js' },
    { point: 'rkt.fetcher.v1', id: 'Bad Id', entry: './x.js' },
    { point: 'rkt.fetcher.v1', id: 'abs', entry: '/etc/passwd' },
    { point: 'rkt.fetcher.v1', id: 'dup', entry: './x.js' },
  ], {});
  const p2 = plugin('d', [{ point: 'rkt.fetcher.v1', id: 'dup', entry: './y.js' }], {});
  const p3 = plugin('e', { point: 'rkt.fetcher.v1' }, {});
  const h = host([p1, p2, p3]);
  const reasons = h.records.map((r) => (r.status.state === 'error' ? r.status.reason : r.status.state));
  assert.match(reasons[0]!, /"point" must be one of/);
  assert.match(reasons[1]!, /"id" must be a short lowercase name/);
  assert.match(reasons[2]!, /"entry" must be a module path relative/);
  assert.equal(reasons[3], 'inactive');
  assert.match(reasons[4]!, /duplicate contribution rkt\.fetcher\.v1\.dup: already provided by c/);
  assert.match(reasons[5]!, /must be an array/);
});

test('requires.points are activated first and handed over through ctx.get; undeclared points are refused', async () => {
  const p = plugin('f', [
    { point: 'rkt.store.v1', id: 'mem', entry: './store.js' },
    { point: 'rkt.fetcher.v1', id: 'withstore', entry: './fs.js', requires: { points: ['rkt.store.v1'] } },
    { point: 'rkt.fetcher.v1', id: 'sneaky', entry: './sneaky.js' },
  ], {
    'store.js': `export default { rktContribution: 1, point: 'rkt.store.v1', init() { return { kind: 'memory-store' }; } };`,
    'fs.js': `export default { rktContribution: 1, point: 'rkt.fetcher.v1', init(ctx) {
      return { id: 'withstore', store: ctx.get(Symbol.for('rkt.store.v1')) }; } };`,
    'sneaky.js': `export default { rktContribution: 1, point: 'rkt.fetcher.v1', init(ctx) {
      return { id: 'sneaky', store: ctx.get(Symbol.for('rkt.store.v1')) }; } };`,
  });
  const activated: string[] = [];
  const h = host([p], { onActivated: (point, id) => activated.push(`${point}.${id}`) });
  const f = (await h.activate(Fetcher, 'withstore')) as unknown as { store: { kind: string } };
  assert.equal(f.store.kind, 'memory-store');
  assert.deepEqual(activated, ['rkt.store.v1.mem', 'rkt.fetcher.v1.withstore']);
  await assert.rejects(h.activate(Fetcher, 'sneaky'), /did not declare rkt\.store\.v1/);
  const s = await h.activateDefault(Store);
  assert.equal((s as unknown as { kind: string }).kind, 'memory-store');
});

test('preferred implementation from settings wins; otherwise the first working one', async () => {
  const p = plugin('g', [
    { point: 'rkt.store.v1', id: 'one', entry: './one.js' },
    { point: 'rkt.store.v1', id: 'two', entry: './two.js' },
  ], {
    'one.js': `export default { rktContribution: 1, point: 'rkt.store.v1', init(ctx) { throw ctx.api.skipPlugin('not here'); } };`,
    'two.js': `export default { rktContribution: 1, point: 'rkt.store.v1', init() { return { n: 2 }; } };`,
  });
  assert.deepEqual(await host([p]).activateDefault(Store), { n: 2 });
  await assert.rejects(host([p], { preferred: { 'rkt.store.v1': 'one' } }).activateDefault(Store), /not here/);
});
