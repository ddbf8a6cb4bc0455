import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { rktBin, rktDirs, run } from '../lib/cli.js';
import { buildBusyboxAci } from '../lib/images.js';

const dirs = rktDirs('rkt-image-');
const rkt = (...args: string[]) => run(rktBin, [...dirs.args(), ...args], { env: dirs.env() });
let idA = '';
let idB = '';

before(() => {
  mkdirSync(join(dirs.base, 'img'));
  buildBusyboxAci(join(dirs.base, 'img', 'a.aci'), { name: 'example.com/a', version: '1.0.0', files: { 'etc/hello': 'hello\n' } });
  buildBusyboxAci(join(dirs.base, 'img', 'b.aci'), { name: 'example.com/b', version: '2.0.0' });
  const a = rkt('--insecure-options=image', 'fetch', '--full', join(dirs.base, 'img', 'a.aci'));
  assert.equal(a.status, 0, a.stderr);
  idA = a.stdout.trim();
  const b = rkt('--insecure-options=image', 'fetch', '--full', join(dirs.base, 'img', 'b.aci'));
  idB = b.stdout.trim();
});
after(() => dirs.cleanup());

test('image list: rkt columns, --full, --fields, --no-legend, --sort/--order, JSON', () => {
  const table = rkt('image', 'list');
  assert.equal(table.status, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^ID\t+NAME\t+SIZE\t+IMPORT TIME\t+LAST USED$/);
  assert.match(lines[1]!, /^sha512-[0-9a-f]{12}\t+example\.com\/a:1\.0\.0\t+[\d.]+ MiB\t+.* ago\t+.* ago$|^sha512-[0-9a-f]{12}\t+example\.com\/a:1\.0\.0\t+[\d.]+ MiB\t+now\t+now$/);
  const full = rkt('image', 'list', '--full', '--no-legend', '--fields=id,size');
  assert.match(full.stdout, new RegExp(`^${idA}\\t+\\d+\\n`));
  const desc = rkt('image', 'list', '--no-legend', '--fields=name', '--sort=name', '--order=desc');
  assert.equal(desc.stdout, 'example.com/b:2.0.0\nexample.com/a:1.0.0\n');
  const json = JSON.parse(rkt('image', 'list', '--format=json').stdout);
  assert.deepEqual(json.map((i: { id: string }) => i.id).sort(), [idA, idB].sort());
  assert.equal(typeof json[0].import_time, 'number');
  const bad = rkt('image', 'list', '--fields=id,bogus');
  assert.equal(bad.status, 254);
  assert.match(bad.stderr, /list: unknown field "bogus" in --fields/);
});

test('cat-manifest, export (same ImageID), extract and render', () => {
  const m = rkt('image', 'cat-manifest', 'example.com/a');
  assert.equal(m.status, 0, m.stderr);
  assert.equal(JSON.parse(m.stdout).name, 'example.com/a');
  const out = join(dirs.base, 'exported.aci');
  assert.equal(rkt('image', 'export', idA.slice(0, 20), out).status, 0);
  const again = rkt('--insecure-options=image', 'fetch', '--full', out);
  assert.equal(again.stdout.trim(), idA, 'an exported image has the same ImageID');
  assert.equal(rkt('image', 'export', 'example.com/a', out).status, 254, 'no overwrite without --overwrite');
  const ex = join(dirs.base, 'ex');
  assert.equal(rkt('image', 'extract', 'example.com/a', ex).status, 0);
  assert.deepEqual(readdirSync(ex).sort(), ['manifest', 'rootfs']);
  assert.equal(readFileSync(join(ex, 'rootfs', 'etc', 'hello'), 'utf8'), 'hello\n');
  const rf = join(dirs.base, 'rf');
  const r = rkt('image', 'render', '--rootfs-only', 'example.com/a', rf);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(join(rf, 'bin', 'busybox')));
  assert.equal(rkt('image', 'render', 'example.com/a', rf).status, 254);
  assert.equal(rkt('image', 'render', '--overwrite', 'example.com/a', rf).status, 0);
  assert.ok(existsSync(join(rf, 'manifest')));
  const root = rkt('image', 'extract', 'example.com/a', '/');
  assert.equal(root.status, 254);
});

test('image rm and gc', () => {
  const amb = rkt('image', 'rm', 'sha512-');
  assert.equal(amb.status, 254);
  const rm = rkt('image', 'rm', idB);
  assert.equal(rm.status, 0, rm.stderr);
  assert.equal(rm.stdout, `successfully removed aci for image: "${idB}"\n`);
  assert.match(rm.stderr, /1 image\(s\) successfully removed/);
  assert.equal(rkt('image', 'rm', idB).status, 254, 'already gone');
  // the rendered tree of a is referenced by no pod: gc removes it; with grace 0s the image goes too
  const gc = rkt('image', 'gc', '--grace-period=0s');
  assert.equal(gc.status, 0, gc.stderr);
  assert.match(gc.stderr, /removed treestore "deps-sha512-/);
  assert.equal(rkt('image', 'list', '--no-legend').stdout, '');
  assert.equal(rkt('image', 'gc', '--grace-period=soon').status, 254);
});
