/**
 * The extractor alone (no store): every breakout fixture applied as layers into a fresh root.
 * cas clamps escapes with chroot semantics; the few refused shapes must be refused with
 * INVALID_ARGUMENT. Either way the host decoy directory stays untouched.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { breakoutFixtures, buildAci, bufferStream, type AciEntry } from '@rkt/testkit';
import { TreeWriter, cleanComponents } from '../src/extract.js';

const REFUSED = new Set(['HardlinkDirectRelative', 'HardlinkToHostFile', 'SymlinkEmptyFilename', 'VeryDeepPath']);

describe('TreeWriter', () => {
  let tmp: string;
  let host: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-extract-'));
    host = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-extract-host-'));
    fs.mkdirSync(`${host}/etc`);
    fs.writeFileSync(`${host}/etc/passwd`, 'host');
    fs.writeFileSync(`${host}/perm400`, '...', { mode: 0o400 });
    fs.writeFileSync(`${host}/also-exists`, '...', { mode: 0o640 });
  });
  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(host, { recursive: true, force: true });
  });

  it('cleans names lexically, clamping .. at the start', () => {
    assert.deepEqual(cleanComponents('./rootfs//a/./b/'), ['rootfs', 'a', 'b']);
    assert.deepEqual(cleanComponents('rootfs/../../../etc/x'), ['etc', 'x']);
    assert.deepEqual(cleanComponents('////rootfs/x'), ['rootfs', 'x']);
    assert.deepEqual(cleanComponents('rootfs/a/../../rootfs/b'), ['rootfs', 'b']);
  });

  for (const fx of breakoutFixtures('/placeholder')) {
    it(`breakout: ${fx.name}`, async () => {
      const real = breakoutFixtures(host).find((f) => f.name === fx.name)!;
      const root = fs.mkdtempSync(path.join(tmp, 'root-'));
      const w = new TreeWriter(root);
      const apply = async (entries: AciEntry[]) =>
        w.applyLayer(bufferStream(await buildAci({ name: 'x.com/t', entries: entries.map((e) => ({ ...e, name: `rootfs/${e.name}` }) as AciEntry) })), { label: fx.name });
      let err: unknown;
      try {
        if (real.pre) await apply(real.pre);
        await apply(real.entries);
        w.finish();
      } catch (e) {
        err = e;
      }
      assert.equal(fs.readFileSync(`${host}/etc/passwd`, 'utf8'), 'host');
      assert.deepEqual(fs.readdirSync(`${host}/etc`), ['passwd']);
      assert.equal(fs.statSync(`${host}/perm400`).mode & 0o777, 0o400);
      assert.equal(fs.statSync(`${host}/also-exists`).mode & 0o777, 0o640);
      assert.ok(!fs.existsSync('/etc/rkt-breakout-canary'));
      if (REFUSED.has(fx.name)) {
        assert.ok(err !== undefined, 'should be refused');
        assert.equal((err as { code?: string }).code, 'E_INVALID_ARGUMENT', String(err));
      } else {
        if (err !== undefined) throw err;
        real.check?.(root);
      }
    });
  }

  it('replaces a directory by a file and forgets what was below it', async () => {
    const root = fs.mkdtempSync(path.join(tmp, 'root-'));
    const w = new TreeWriter(root);
    const layer = async (entries: AciEntry[]) => w.applyLayer(bufferStream(await buildAci({ name: 'x.com/t', entries })), { label: 't' });
    await layer([{ type: 'dir', name: 'rootfs/d', mode: 0o700 }, { type: 'dir', name: 'rootfs/d/sub', mode: 0o711 }, { type: 'file', name: 'rootfs/d/sub/f', content: 'x' }]);
    await layer([{ type: 'symlink', name: 'rootfs/d', target: host }, { type: 'file', name: 'rootfs/d/sub2', content: 'y' }]);
    w.finish();
    assert.ok(fs.lstatSync(`${root}/d`).isSymbolicLink());
    assert.equal(fs.readFileSync(`${root}${host}/sub2`, 'utf8'), 'y');
    // the deferred mode of the removed d/sub must not have been applied through the symlink
    assert.deepEqual(fs.readdirSync(host).sort(), ['also-exists', 'etc', 'perm400']);
  });
});
