/**
 * The Isolator extension point end to end: isolators are checked by the `rkt.isolator.v1`
 * contributions before the pod exists, and a third-party isolator plugin (the worked example in
 * test/fixtures/oom-preset-isolator-plugin) installed into a fresh data dir takes effect in a
 * native pod with no change to rkt.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, rktBin, rktDirs, run } from '../lib/cli.js';
import { buildAppAci } from './pods-lib.js';

const dirs = rktDirs('rkt-isolators-');
after(() => {
  run(rktBin, ['gc', ...dirs.args(), '--grace-period=0s'], { env: dirs.env() });
  dirs.cleanup();
});
const rkt = (...args: string[]) => run(rktBin, [args[0]!, ...dirs.args(), '--insecure-options=image', ...args.slice(1)], { env: dirs.env() });
const pods = () => ['embryo', 'prepare', 'prepared', 'run'].flatMap((s) => (existsSync(join(dirs.data, 'pods', s)) ? readdirSync(join(dirs.data, 'pods', s)) : []));
const img = (n: string) => join(dirs.base, `${n}.aci`);

test('a standard isolator the schema accepts but the isolator refuses fails before the pod exists, naming app and isolator', () => {
  // A valid quantity (the schema's rule), but no usable memory limit (the isolator's rule).
  buildAppAci(img('badmem'), { name: 'example.com/badmem', isolators: [{ name: 'resource/memory', value: { limit: '100' } }] });
  const r = rkt('run', '--net=none', img('badmem'));
  assert.equal(r.status, 254, r.stderr);
  assert.match(r.stderr, /app "badmem" \(apps\[0\]\) isolators\[0\].*memory limit below 4096 bytes/);
  assert.deepEqual(pods(), [], 'no pod directory left behind');
});

test('a third-party isolator plugin: unknown until installed, then checked in stage0 and applied in the pod', () => {
  buildAppAci(img('oom'), { name: 'example.com/oom', exec: ['/bin/busybox', 'cat', '/proc/self/oom_score_adj'] });
  const f = rkt('fetch', '--full', img('oom'));
  assert.equal(f.status, 0, f.stderr);
  const id = f.stdout.trim();
  // appc allows isolators of other names only at pod level: a pod manifest.
  const podManifest = (preset: string) => {
    const file = join(dirs.base, `pod-${preset}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        acVersion: '0.8.11',
        acKind: 'PodManifest',
        apps: [{ name: 'oom', image: { id } }],
        isolators: [{ name: 'example.com/oom-preset', value: preset }],
      }),
    );
    return `--pod-manifest=${file}`;
  };
  const last = (out: string) => out.trim().split('\n').pop();

  // Not installed: the stage1 ignores the unknown pod isolator, with a warning.
  const before = rkt('run', '--net=none', podManifest('high'));
  assert.equal(before.status, 0, before.stderr);
  assert.equal(last(before.stdout), '0');
  assert.match(before.stderr, /ignoring unknown pod isolator example\.com\/oom-preset/);

  const inst = run(rktBin, ['plugins', 'install', join(repoRoot, 'test', 'fixtures', 'oom-preset-isolator-plugin')], { env: dirs.env() });
  assert.equal(inst.status, 0, inst.stderr + inst.stdout);
  const listed = run(rktBin, ['plugins', ...dirs.args()], { env: dirs.env() });
  assert.match(listed.stdout, /oom-preset/);

  const normal = rkt('run', '--net=none', podManifest('normal'));
  assert.equal(normal.status, 0, normal.stderr);
  assert.equal(last(normal.stdout), '300');
  assert.doesNotMatch(normal.stderr, /ignoring unknown/);
  const high = rkt('run', '--net=none', podManifest('high'));
  assert.equal(last(high.stdout), '900', high.stderr);
  if (existsSync('/usr/bin/systemd-nspawn')) {
    // The same settings file reaches the other flavor built on the shared stage1 library.
    const nspawn = rkt('run', '--net=none', '--stage1-from-dir=stage1-nspawn.aci', podManifest('normal'));
    assert.equal(nspawn.status, 0, nspawn.stderr);
    assert.equal(last(nspawn.stdout), '300', nspawn.stderr);
  }

  const before2 = pods().length;
  const bad = rkt('run', '--net=none', podManifest('sometimes'));
  assert.equal(bad.status, 254, bad.stderr);
  assert.match(bad.stderr, /pod manifest isolators\[0\].*example\.com\/oom-preset must be one of low, normal, high, not "sometimes"/);
  assert.equal(pods().length, before2, 'a refused isolator leaves no pod');
});
