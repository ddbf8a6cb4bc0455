/**
 * Crash and concurrency tests with real processes: SIGKILL in the middle of an import and of a
 * render, a renderer waiting for another process's render, 10 parallel importing processes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildAci, aciId, type AciEntry } from '@rkt/testkit';
import { CasStore } from '../src/index.js';

const CHILD = fileURLToPath(new URL('./helpers/store-child.ts', import.meta.url));

function start(args: string[]): ChildProcess & { out: Promise<string>; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const result = exit.then((code) => {
    if (code !== 0) throw new Error(`child ${args.join(' ')} exited ${code}: ${err}`);
    return out.trim();
  });
  result.catch(() => undefined); // killed children: only observed when awaited
  return Object.assign(child, { out: result, exit });
}

function waitFor(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (c) => {
      buf += c;
      if (buf.includes(text)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`child exited (${code}) before printing ${text}`)));
  });
}

async function kill9(child: ChildProcess & { exit: Promise<number | null> }): Promise<void> {
  child.kill('SIGKILL');
  await child.exit;
}

const tmpEntries = (dataDir: string) => fs.readdirSync(`${dataDir}/cas/tmp`);

describe('store-cas under crashes and concurrency', () => {
  let tmp: string;
  let aciPath: string;
  let aci: Buffer;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-faults-'));
    // ~8 MiB, 120 files: big enough to pause in the middle of both import and render.
    const entries: AciEntry[] = [{ type: 'dir', name: 'rootfs/data' }];
    for (let i = 0; i < 120; i++) {
      entries.push({ type: 'file', name: `rootfs/data/f${i}`, content: Buffer.alloc(64 * 1024 + i, i & 0xff) });
    }
    aci = await buildAci({ name: 'x.com/faults', entries });
    aciPath = `${tmp}/image.aci`;
    fs.writeFileSync(aciPath, aci);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('SIGKILL during an import leaves no image; leftovers are reclaimed; a retry succeeds', async () => {
    const dataDir = fs.mkdtempSync(`${tmp}/data-`);
    const child = start(['import-hang', dataDir, aciPath]);
    await waitFor(child, 'PAUSED');
    await kill9(child);
    const left = tmpEntries(dataDir);
    assert.equal(left.filter((n) => n.startsWith('import.')).length, 1, `expected one partial import file: ${left}`);
    const store = new CasStore(dataDir);
    try {
      assert.deepEqual(await store.images.list(), []);
      assert.deepEqual(tmpEntries(dataDir), [], 'the dead import was reclaimed on open');
      assert.deepEqual(fs.readdirSync(`${dataDir}/cas/blob/sha512`), []);
      const info = await store.images.importAci(fs.createReadStream(aciPath));
      assert.equal(info.id, aciId(aci));
    } finally {
      store.close();
    }
  });

  it('SIGKILL during a render leaves no tree; the next render redoes it', async () => {
    const dataDir = fs.mkdtempSync(`${tmp}/data-`);
    const store = new CasStore(dataDir);
    try {
      const { id } = await store.images.importAci(fs.createReadStream(aciPath));
      const child = start(['render-hang', dataDir, id]);
      await waitFor(child, 'PAUSED');
      // While the child holds the render, a render here waits instead of duplicating the work.
      let done = false;
      const waiting = store.trees.render(id).then((t) => {
        done = true;
        return t;
      });
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(done, false, 'a second renderer waits for the live first one');
      assert.equal(tmpEntries(dataDir).filter((n) => n.startsWith('tree.')).length, 1);
      await kill9(child);
      const tree = await waiting; // takes over once the owner is dead
      assert.equal(fs.readdirSync(`${tree.path}/rootfs/data`).length, 120);
      assert.deepEqual((await store.trees.list()).map((t) => t.id), [tree.id]);
      assert.ok(fs.existsSync(`${tree.path}/rendered`));
      // the dead renderer's temp dir is reclaimed by gc
      const report = await store.gc({ referencedTrees: [tree.id] });
      assert.equal(report.reclaimedTemp, 1);
      assert.deepEqual(tmpEntries(dataDir), []);
    } finally {
      store.close();
    }
  });

  it('SIGKILL during a render with nobody waiting: the tree stays invisible until rendered again', async () => {
    const dataDir = fs.mkdtempSync(`${tmp}/data-`);
    const first = new CasStore(dataDir);
    const { id } = await first.images.importAci(fs.createReadStream(aciPath));
    first.close();
    const child = start(['render-hang', dataDir, id]);
    await waitFor(child, 'PAUSED');
    await kill9(child);
    const store = new CasStore(dataDir);
    try {
      assert.deepEqual(await store.trees.list(), []);
      assert.deepEqual(fs.readdirSync(`${dataDir}/cas/tree`), []);
      const tree = await store.trees.render(id);
      assert.equal(fs.readdirSync(`${tree.path}/rootfs/data`).length, 120);
      assert.deepEqual(tmpEntries(dataDir), []);
    } finally {
      store.close();
    }
  });

  it('10 processes importing one image at once: one blob, one row', async () => {
    const dataDir = fs.mkdtempSync(`${tmp}/data-`);
    const children = Array.from({ length: 10 }, () => start(['import', dataDir, aciPath]));
    const ids = await Promise.all(children.map((c) => c.out));
    assert.ok(ids.every((i) => i === aciId(aci)), ids.join(','));
    const store = new CasStore(dataDir);
    try {
      assert.equal((await store.images.list()).length, 1);
      const shards = fs.readdirSync(`${dataDir}/cas/blob/sha512`);
      const blobs = shards.flatMap((s) => fs.readdirSync(`${dataDir}/cas/blob/sha512/${s}`));
      assert.deepEqual(blobs, [aciId(aci)]);
      assert.deepEqual(tmpEntries(dataDir), []);
      assert.ok(fs.readFileSync(`${dataDir}/cas/blob/sha512/${shards[0]}/${blobs[0]}`).equals(aci));
    } finally {
      store.close();
    }
  });
});
