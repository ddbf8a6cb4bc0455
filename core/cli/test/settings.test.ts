/** The CLI settings search (cosmiconfig): package.json's `rktSettings`, never a plugin's `rkt` section. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadSettings } from '../src/runtime/settings.js';

async function inDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const cwd = process.cwd();
  const saved = { RKT_SETTINGS: process.env.RKT_SETTINGS, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME };
  delete process.env.RKT_SETTINGS;
  process.env.XDG_CONFIG_HOME = path.join(dir, 'no-xdg');
  process.chdir(dir);
  try {
    return await fn();
  } finally {
    process.chdir(cwd);
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test("a plugin's package.json (its `rkt` contributions) is not read as settings; `rktSettings` is", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-settings-'));
  try {
    const pjson = { name: 'my-plugin', version: '1.0.0', rkt: { contributes: [{ point: 'rkt.fetcher.v1', id: 'x', entry: './x.js' }] } };
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pjson));
    const none = await inDir(dir, loadSettings);
    assert.deepEqual(none.points, {});
    assert.deepEqual(none.plugins, {});
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...pjson, rktSettings: { points: { 'rkt.store.v1': 'cas' } } }));
    const found = await inDir(dir, loadSettings);
    assert.deepEqual(found.points, { 'rkt.store.v1': 'cas' });
    assert.equal(found.source, path.join(fs.realpathSync(dir), 'package.json'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
