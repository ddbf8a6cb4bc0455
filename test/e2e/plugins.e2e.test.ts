import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, rktBin, rktDirs, run } from '../lib/cli.js';
import { buildBusyboxAci } from '../lib/images.js';

const example = join(repoRoot, 'test', 'fixtures', 'mirror-fetcher-plugin');

interface Listed {
  name: string;
  type: string;
  contributions: { point: string; id: string; state: string; reason?: string }[];
}

test('a third-party plugin installs into a fresh data dir and rkt fetches through it, no core change', () => {
  const dirs = rktDirs('rkt-plugins-');
  try {
    const mirror = join(dirs.base, 'mirror');
    mkdirSync(join(mirror, 'example.com'), { recursive: true });
    buildBusyboxAci(join(mirror, 'example.com', 'hello-1.0.0.aci'), { name: 'example.com/hello', version: '1.0.0' });

    // Before installation the scheme is unknown: rkt treats it as an appc name, as rkt does.
    const before = run(rktBin, ['plugins', '--json', ...dirs.args()], { env: dirs.env() });
    assert.equal(before.status, 0, before.stderr);
    assert.ok(!(JSON.parse(before.stdout) as Listed[]).some((p) => p.name === 'rkt-plugin-mirror-fetcher'));

    const inst = run(rktBin, ['plugins', 'install', example], { env: dirs.env() });
    assert.equal(inst.status, 0, inst.stderr + inst.stdout);

    // Installed, but not configured: skipped with the plugin's own reason (not an error).
    const listed = run(rktBin, ['plugins', '--json', ...dirs.args()], { env: dirs.env() });
    assert.equal(listed.status, 0, listed.stderr);
    const mine = (JSON.parse(listed.stdout) as Listed[]).find((p) => p.name === 'rkt-plugin-mirror-fetcher');
    assert.ok(mine, listed.stdout);
    assert.equal(mine.type, 'user');
    assert.equal(mine.contributions[0]!.id, 'mirror');
    assert.equal(mine.contributions[0]!.state, 'skipped');
    assert.match(mine.contributions[0]!.reason!, /no mirror root configured/);

    // Configured through the CLI settings (cosmiconfig): ok.
    const settings = join(dirs.base, 'rkt-settings.json');
    writeFileSync(settings, JSON.stringify({ plugins: { 'rkt.fetcher.v1.mirror': { root: mirror } } }));
    const env = dirs.env({ RKT_SETTINGS: settings });
    const table = run(rktBin, ['plugins', ...dirs.args()], { env });
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /rkt-plugin-mirror-fetcher\t1\.0\.0\tuser\trkt\.fetcher\.v1\tmirror\tok/);

    // Unsigned image: refused by default, fetched with --insecure-options=image.
    const refused = run(rktBin, ['fetch', ...dirs.args(), 'mirror://example.com/hello-1.0.0.aci'], { env });
    assert.equal(refused.status, 254);
    assert.match(refused.stderr, /fetch: no signature found for image "mirror:\/\/example\.com\/hello-1\.0\.0\.aci"/);
    const fetched = run(rktBin, ['fetch', ...dirs.args(), '--insecure-options=image', 'mirror://example.com/hello-1.0.0.aci'], { env });
    assert.equal(fetched.status, 0, fetched.stderr);
    assert.match(fetched.stdout, /^sha512-[0-9a-f]{32}\n$/);
    const list = run(rktBin, ['image', 'list', '--no-legend', '--fields=name', ...dirs.args()], { env });
    assert.equal(list.stdout, 'example.com/hello:1.0.0\n');

    // A missing image is the plugin's not-found error, exit 254.
    const missing = run(rktBin, ['fetch', ...dirs.args(), '--insecure-options=image', 'mirror://example.com/nope.aci'], { env });
    assert.equal(missing.status, 254);
    assert.match(missing.stderr, /fetch: mirror fetcher: mirror:\/\/example\.com\/nope\.aci: no image at/);

    const un = run(rktBin, ['plugins', 'uninstall', 'rkt-plugin-mirror-fetcher'], { env });
    assert.equal(un.status, 0, un.stderr);
  } finally {
    dirs.cleanup();
  }
});
