/** The native contribution: declared as data, init skips with a reason when the host lacks tools. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as api from '@rkt/api';
import type { ActivationContext } from '@rkt/api';
import contribution from '../src/contribution.js';
import { NativeStage1 } from '../src/index.js';

function ctx(which: (n: string) => string | undefined, config: Record<string, unknown> = {}): ActivationContext {
  return {
    point: 'rkt.stage1.v1',
    id: 'native',
    pluginName: '@rkt/stage1-native',
    pluginRoot: '.',
    config,
    paths: { dataDir: '/var/lib/rkt', systemConfigDir: '/usr/lib/rkt', localConfigDir: '/etc/rkt', stage1ImagesDir: '/usr/lib/rkt/stage1-images' },
    debug: false,
    api,
    get: () => {
      throw new Error('no points');
    },
    which,
    log: () => undefined,
  };
}

describe('stage1-native contribution', () => {
  it('is declared in package.json with its requirements', () => {
    const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const c = pkg.rkt.contributes[0];
    assert.equal(c.point, 'rkt.stage1.v1');
    assert.equal(c.id, 'native');
    assert.ok(c.requires.binaries.includes('runc'));
    assert.ok('oclif' in pkg);
  });

  it('builds the flavor object on a capable host, and skips with a reason otherwise', async () => {
    const s = await contribution.init(ctx((n) => `/usr/bin/${n}`));
    assert.ok(s instanceof NativeStage1);
    assert.equal(s.imageFileName, 'stage1-native.aci');
    assert.deepEqual([...s.interfaceVersions], [6]);
    await assert.rejects(Promise.resolve().then(() => contribution.init(ctx((n) => (n === 'runc' ? undefined : `/usr/bin/${n}`)))), (e: unknown) => api.isSkipPlugin(e) && /runc/.test((e as Error).message));
    await assert.rejects(Promise.resolve().then(() => contribution.init(ctx((n) => (n === 'crun' ? undefined : `/usr/bin/${n}`), { runtime: 'crun' }))), (e: unknown) => api.isSkipPlugin(e) && /crun/.test((e as Error).message));
    await assert.rejects(Promise.resolve().then(() => contribution.init(ctx((n) => `/usr/bin/${n}`, { runtime: 'docker' }))), (e: unknown) => api.isInvalidArgument(e));
  });
});
