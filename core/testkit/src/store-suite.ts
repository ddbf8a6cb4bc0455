/**
 * Conformance suite for rkt.store.v1 implementations:
 *
 *   storeSuite('cas', (dataDir) => new CasStore(dataDir));
 *
 * Every test gets a fresh data dir. Test images are generated with tar-stream. The breakout table
 * follows containerd's TestBreakouts cases (security.md §2.4) re-expressed as ACIs: a fixture's
 * pre-existing state is a dependency image, so every case is also a two-archive attack.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import type { Header } from 'tar-stream';
import type { ImageManifest, Label, Store } from '@rkt/api';
import { isRktError } from '@rkt/api';

/* ------------------------------------------------------------------ ACI builder */

export type AciEntry =
  | { type: 'dir'; name: string; mode?: number; uid?: number; gid?: number; mtime?: Date }
  | { type: 'file'; name: string; content?: string | Buffer; mode?: number; uid?: number; gid?: number; mtime?: Date }
  | { type: 'symlink'; name: string; target: string; mtime?: Date }
  | { type: 'link'; name: string; target: string; mode?: number }
  | { type: 'char' | 'block'; name: string; major: number; minor: number; mode?: number }
  | { type: 'fifo'; name: string; mode?: number };

export interface AciSpec {
  name: string;
  labels?: Record<string, string>;
  dependencies?: { imageName: string; imageID?: string; labels?: Record<string, string> }[];
  pathWhitelist?: string[];
  /** Entries as archive names (`rootfs/...`); a `rootfs` dir entry is added first unless `raw`. */
  entries?: AciEntry[];
  /** Do not add the `rootfs` dir entry automatically. */
  raw?: boolean;
  /** Extra manifest fields. */
  extra?: Record<string, unknown>;
}

export function aciManifest(spec: AciSpec): ImageManifest {
  const labels: Label[] = Object.entries(spec.labels ?? {}).map(([name, value]) => ({ name, value }));
  const m: Record<string, unknown> = { acKind: 'ImageManifest', acVersion: '0.8.11', name: spec.name };
  if (labels.length > 0) m.labels = labels;
  if (spec.dependencies !== undefined) {
    m.dependencies = spec.dependencies.map((d) => ({
      imageName: d.imageName,
      ...(d.imageID !== undefined ? { imageID: d.imageID } : {}),
      ...(d.labels !== undefined ? { labels: Object.entries(d.labels).map(([name, value]) => ({ name, value })) } : {}),
    }));
  }
  if (spec.pathWhitelist !== undefined) m.pathWhitelist = spec.pathWhitelist;
  Object.assign(m, spec.extra ?? {});
  return m as unknown as ImageManifest;
}

const EPOCH = new Date('2020-01-01T00:00:00Z');

/** Build an uncompressed ACI tar in memory. */
export async function buildAci(spec: AciSpec): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const collected = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  const add = (h: Partial<Header> & { name: string }, body?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      pack.entry(h, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  await add({ name: 'manifest', type: 'file', mode: 0o644, mtime: EPOCH }, Buffer.from(JSON.stringify(aciManifest(spec))));
  if (spec.raw !== true) await add({ name: 'rootfs', type: 'directory', mode: 0o755, mtime: EPOCH });
  for (const e of spec.entries ?? []) {
    const base = { name: e.name, mtime: 'mtime' in e && e.mtime ? e.mtime : EPOCH };
    switch (e.type) {
      case 'dir':
        await add({ ...base, type: 'directory', mode: e.mode ?? 0o755, uid: e.uid ?? 0, gid: e.gid ?? 0 });
        break;
      case 'file': {
        const body = Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content ?? '');
        await add({ ...base, type: 'file', mode: e.mode ?? 0o644, uid: e.uid ?? 0, gid: e.gid ?? 0, size: body.length }, body);
        break;
      }
      case 'symlink':
        await add({ ...base, type: 'symlink', linkname: e.target, mode: 0o777 });
        break;
      case 'link':
        await add({ ...base, type: 'link', linkname: e.target, mode: e.mode ?? 0o644 });
        break;
      case 'char':
      case 'block':
        await add({ ...base, type: e.type === 'char' ? 'character-device' : 'block-device', devmajor: e.major, devminor: e.minor, mode: e.mode ?? 0o600 });
        break;
      case 'fifo':
        await add({ ...base, type: 'fifo', mode: e.mode ?? 0o644 });
        break;
    }
  }
  pack.finalize();
  return collected;
}

/** The appc image ID of an uncompressed ACI. */
export function aciId(tar: Buffer): string {
  return `sha512-${createHash('sha512').update(tar).digest('hex')}`;
}

export function bufferStream(buf: Buffer, chunk = 64 * 1024): Readable {
  let off = 0;
  return new Readable({
    read() {
      if (off >= buf.length) this.push(null);
      else {
        this.push(buf.subarray(off, off + chunk));
        off += chunk;
      }
    },
  });
}

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function codeOf(err: unknown): string | undefined {
  return isRktError(err) ? err.code : undefined;
}

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string, re?: RegExp): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.equal(codeOf(e), code, `expected ${code}, got ${String(e)}`);
    if (re !== undefined) assert.match((e as Error).message, re);
    return;
  }
  assert.fail(`expected a rejection with ${code}`);
}

/* ------------------------------------------------------------------ breakout fixtures */

export interface BreakoutFixture {
  name: string;
  /** State laid down first, as a dependency image (entries relative to rootfs). */
  pre?: AciEntry[];
  entries: AciEntry[];
  /** Checks on the rendered rootfs (throws on failure); paths must be inspected without following symlinks out of it. */
  check?: (rootfs: string) => void;
  /** Whether refusing the image (INVALID_ARGUMENT at import or render) is acceptable. */
  mayReject: boolean;
}

const CANARY = 'rkt-breakout-canary';

function r(e: AciEntry): AciEntry {
  return { ...e, name: `rootfs/${e.name}` } as AciEntry;
}

function sameInode(root: string, a: string, b: string): void {
  const sa = fs.lstatSync(path.join(root, a));
  const sb = fs.lstatSync(path.join(root, b));
  assert.equal(sa.ino, sb.ino, `${a} and ${b} should be the same file`);
}

function fileIs(root: string, p: string, content: string): void {
  const st = fs.lstatSync(path.join(root, p));
  assert.ok(st.isFile(), `${p} should be a regular file`);
  assert.equal(fs.readFileSync(path.join(root, p), 'utf8'), content, `${p} content`);
}

function symlinkTo(root: string, p: string, target: string): void {
  const st = fs.lstatSync(path.join(root, p));
  assert.ok(st.isSymbolicLink(), `${p} should be a symlink`);
  assert.equal(fs.readlinkSync(path.join(root, p)), target);
}

/** `host` is a directory outside the store that no fixture may touch. */
export function breakoutFixtures(host: string): BreakoutFixture[] {
  const etcDir = { type: 'dir', name: 'etc' } as const;
  const passwd = { type: 'file', name: 'etc/passwd', content: 'inside' } as const;
  const canaryIn = (root: string) => fileIs(root, `etc/${CANARY}`, 'unbroken');
  const hostEtc = `${host}/etc`; // stands in for the host's /etc in absolute-target cases
  const f: BreakoutFixture[] = [
    // -- symlinks followed by later entries resolve inside the tree
    { name: 'SymlinkAbsolute', mayReject: true, check: canaryIn,
      entries: [etcDir, { type: 'symlink', name: 'localetc', target: '/etc' }, { type: 'file', name: `localetc/${CANARY}`, content: 'unbroken' }] },
    { name: 'SymlinkUpAndOut', mayReject: true, check: canaryIn,
      entries: [etcDir, { type: 'dir', name: 'dummy' }, { type: 'symlink', name: 'localetc', target: '/dummy/../etc' }, { type: 'file', name: `localetc/${CANARY}`, content: 'unbroken' }] },
    { name: 'SymlinkMultipleAbsolute', mayReject: true, check: canaryIn,
      entries: [etcDir, { type: 'dir', name: 'dummy' }, { type: 'symlink', name: 'dummy/etc', target: '/etc' }, { type: 'symlink', name: 'localetc', target: '/dummy/etc' }, { type: 'file', name: `dummy/etc/${CANARY}`, content: 'unbroken' }] },
    { name: 'SymlinkMultipleRelative', mayReject: true, check: canaryIn,
      entries: [etcDir, { type: 'dir', name: 'dummy' }, { type: 'symlink', name: 'dummy/etc', target: '/etc' }, { type: 'symlink', name: 'localetc', target: './dummy/etc' }, { type: 'file', name: `localetc/${CANARY}`, content: 'unbroken' }] },
    { name: 'SymlinkEmptyFile', mayReject: true, check: (root) => fileIs(root, 'etc/emptied', ''),
      entries: [etcDir, { type: 'file', name: 'etc/emptied', content: 'notempty' }, { type: 'symlink', name: 'localetc', target: '/etc' }, { type: 'file', name: 'localetc/emptied', content: '' }] },
    { name: 'SymlinkToHostDir', mayReject: true, check: (root) => fileIs(root, `${hostEtc.slice(1)}/${CANARY}`, 'unbroken'),
      entries: [{ type: 'symlink', name: 'x', target: hostEtc }, { type: 'file', name: `x/${CANARY}`, content: 'unbroken' }] },
    // -- hard links through symlinks stay inside
    { name: 'HardlinkRelative', mayReject: true, check: (root) => sameInode(root, 'breakouts/mypasswd', 'etc/passwd'),
      entries: [etcDir, passwd, { type: 'dir', name: 'breakouts' }, { type: 'symlink', name: 'breakouts/d1', target: '../../etc' }, { type: 'link', name: 'breakouts/mypasswd', target: 'rootfs/breakouts/d1/passwd' }] },
    { name: 'HardlinkDownAndOut', mayReject: true, check: (root) => sameInode(root, 'breakouts/mypasswd', 'etc/passwd'),
      entries: [etcDir, passwd, { type: 'dir', name: 'breakouts' }, { type: 'dir', name: 'downandout' }, { type: 'symlink', name: 'breakouts/d1', target: '../downandout/../../etc' }, { type: 'link', name: 'breakouts/mypasswd', target: 'rootfs/breakouts/d1/passwd' }] },
    { name: 'HardlinkAbsolute', mayReject: true, check: (root) => sameInode(root, 'localpasswd', 'etc/passwd'),
      entries: [etcDir, passwd, { type: 'symlink', name: 'localetc', target: '/etc' }, { type: 'link', name: 'localpasswd', target: 'rootfs/localetc/passwd' }] },
    { name: 'HardlinkRelativeLong', mayReject: true, check: (root) => sameInode(root, 'localpasswd', 'etc/passwd'),
      entries: [etcDir, passwd, { type: 'symlink', name: 'localetc', target: '../../../../../../../etc' }, { type: 'link', name: 'localpasswd', target: 'rootfs/localetc/passwd' }] },
    { name: 'HardlinkRelativeUpAndOut', mayReject: true, check: (root) => sameInode(root, 'localpasswd', 'etc/passwd'),
      entries: [etcDir, passwd, { type: 'symlink', name: 'localetc', target: 'upandout/../../../etc' }, { type: 'link', name: 'localpasswd', target: 'rootfs/localetc/passwd' }] },
    { name: 'HardlinkDirectRelative', mayReject: true, check: (root) => sameInode(root, 'localpasswd', 'etc/passwd'),
      entries: [etcDir, passwd, { type: 'link', name: 'localpasswd', target: 'rootfs/../../../../../etc/passwd' }] },
    { name: 'HardlinkDirectAbsolute', mayReject: true, check: (root) => sameInode(root, 'localpasswd', 'etc/passwd'),
      entries: [etcDir, passwd, { type: 'link', name: 'localpasswd', target: '/rootfs/etc/passwd' }] },
    { name: 'HardlinkToHostFile', mayReject: true, check: (root) => assert.ok(!fs.existsSync(path.join(root, 'hostlink')) || fs.lstatSync(path.join(root, 'hostlink')).ino !== fs.statSync(`${host}/etc/passwd`).ino),
      entries: [{ type: 'link', name: 'hostlink', target: `${host}/etc/passwd` }] },
    // -- odd names
    { name: 'SymlinkParentDirectory', mayReject: true, check: (root) => sameInode(root, 'localpasswd', 'etc/passwd'),
      entries: [etcDir, passwd, { type: 'symlink', name: '..', target: '/etc/' }, { type: 'link', name: 'localpasswd', target: 'rootfs/etc/passwd' }] },
    { name: 'SymlinkEmptyFilename', mayReject: true, check: (root) => sameInode(root, 'localpasswd', 'etc/passwd'),
      entries: [etcDir, passwd, { type: 'symlink', name: '', target: '/etc/' }, { type: 'link', name: 'localpasswd', target: 'rootfs/etc/passwd' }] },
    { name: 'SymlinkParentRelative', mayReject: true, check: (root) => sameInode(root, 'etc/localpasswd', 'etc/passwd'),
      entries: [etcDir, passwd, { type: 'symlink', name: 'localetc/sub/..', target: '/etc/' }, { type: 'link', name: 'localetc/localpasswd', target: 'rootfs/etc/passwd' }] },
    { name: 'SymlinkSlashEnded', mayReject: true, check: (root) => sameInode(root, 'localetc/localpasswd', 'etc/passwd'),
      entries: [etcDir, passwd, { type: 'dir', name: 'localetc/' }, { type: 'link', name: 'localetc/localpasswd', target: 'rootfs/etc/passwd' }] },
    { name: 'AbsoluteEntryName', mayReject: true, check: (root) => fileIs(root, CANARY, 'unbroken'),
      entries: [{ type: 'file', name: `///${CANARY}`, content: 'unbroken' }] },
    { name: 'DotDotEntryName', mayReject: true, check: (root) => assert.ok(!fs.existsSync(path.join(root, '..', CANARY))),
      entries: [{ type: 'file', name: `../../../${CANARY}`, content: 'unbroken' }] },
    // -- overrides across layers (pre = dependency)
    { name: 'SymlinkOverrideDirectory', mayReject: true,
      check: (root) => { symlinkTo(root, 'localetc', '/etc'); sameInode(root, 'etc/localpasswd', 'etc/passwd'); },
      pre: [etcDir, passwd, { type: 'dir', name: 'localetc' }],
      entries: [{ type: 'symlink', name: 'localetc', target: '/etc' }, { type: 'link', name: 'localetc/localpasswd', target: 'rootfs/etc/passwd' }] },
    { name: 'SymlinkOverrideDirectoryRelative', mayReject: true,
      check: (root) => { symlinkTo(root, 'localetc', '../../etc'); sameInode(root, 'etc/localpasswd', 'etc/passwd'); },
      pre: [etcDir, passwd, { type: 'dir', name: 'localetc' }],
      entries: [{ type: 'symlink', name: 'localetc', target: '../../etc' }, { type: 'link', name: 'localetc/localpasswd', target: 'rootfs/etc/passwd' }] },
    { name: 'DirectoryOverrideSymlink', mayReject: true,
      check: (root) => { assert.ok(fs.lstatSync(path.join(root, 'localetc')).isDirectory()); sameInode(root, 'localetc/localpasswd', 'etc/passwd'); },
      pre: [etcDir, passwd, { type: 'symlink', name: 'localetc', target: '/etc' }],
      entries: [{ type: 'dir', name: 'localetc/' }, { type: 'link', name: 'localetc/localpasswd', target: 'rootfs/etc/passwd' }] },
    { name: 'DirectoryOverrideSymlinkAndHardlink', mayReject: true,
      check: (root) => { fileIs(root, 'localetc/localpasswd', 'different'); fileIs(root, 'etc/passwd', 'inside'); },
      pre: [etcDir, passwd, { type: 'symlink', name: 'localetc', target: 'etc' }, { type: 'link', name: 'localetc/localpasswd', target: 'rootfs/etc/passwd' }],
      entries: [{ type: 'dir', name: 'localetc/' }, { type: 'file', name: 'localetc/localpasswd', content: 'different' }] },
    { name: 'TwoArchiveSymlinkPlant', mayReject: true, check: (root) => fileIs(root, `${hostEtc.slice(1)}/${CANARY}`, 'planted'),
      pre: [{ type: 'symlink', name: 'x', target: hostEtc }],
      entries: [{ type: 'file', name: `x/${CANARY}`, content: 'planted' }] },
    { name: 'TwoArchiveRelativePlant', mayReject: true, check: (root) => fileIs(root, `etc/${CANARY}`, 'planted'),
      pre: [{ type: 'symlink', name: 'x', target: '../../../../../../../../../etc' }],
      entries: [{ type: 'file', name: `x/${CANARY}`, content: 'planted' }] },
    { name: 'FileOverHardlinkedName', mayReject: true,
      check: (root) => { fileIs(root, 'etc/passwd', 'inside'); fileIs(root, 'a', 'new'); },
      pre: [etcDir, passwd, { type: 'link', name: 'a', target: 'rootfs/etc/passwd' }],
      entries: [{ type: 'file', name: 'a', content: 'new' }] },
    { name: 'FileOverSymlinkToHost', mayReject: true,
      check: (root) => fileIs(root, 'a', 'new'),
      pre: [{ type: 'symlink', name: 'a', target: `${host}/etc/passwd` }],
      entries: [{ type: 'file', name: 'a', content: 'new' }] },
    // -- appc has no whiteouts: these are plain names and delete nothing
    ...(['.wh..', '.wh...', 'etc/.wh..', 'etc/.wh...'] as const).map((n) => ({
      name: `Whiteout ${n}`, mayReject: true,
      check: (root: string) => fileIs(root, 'etc/passwd', 'inside'),
      pre: [etcDir, passwd], entries: [{ type: 'file', name: n, content: '' } as AciEntry],
    })),
    { name: 'WhiteoutSymlink', mayReject: true,
      check: (root) => { fileIs(root, 'etc/passwd', 'inside'); symlinkTo(root, 'localetc', '/etc'); },
      pre: [etcDir, passwd, { type: 'symlink', name: 'localetc', target: '/etc' }],
      entries: [{ type: 'file', name: '.wh.localetc', content: '' }] },
    { name: 'WhiteoutSymlinkPath', mayReject: true,
      check: (root) => { fileIs(root, 'etc/whitedout', 'still here'); },
      pre: [etcDir, passwd, { type: 'file', name: 'etc/whitedout', content: 'still here' }, { type: 'symlink', name: 'localetc', target: '/etc' }],
      entries: [{ type: 'file', name: 'localetc/.wh.whitedout', content: '' }] },
    { name: 'WhiteoutRelativePath', mayReject: true,
      check: (root) => fileIs(root, 'etc/passwd', 'inside'),
      pre: [etcDir, passwd, { type: 'symlink', name: 'localetc', target: '/dne' }],
      entries: [{ type: 'file', name: 'dne/../.wh.etc', content: '' }] },
    // -- links to symlinks are links to the symlink itself
    { name: 'HardlinkSymlinkBeforeCreateTarget', mayReject: true,
      check: (root) => { symlinkTo(root, 'localpasswd-dup', '/etc/passwd'); fileIs(root, 'etc/passwd', 'after'); },
      entries: [etcDir, { type: 'symlink', name: 'localpasswd', target: '/etc/passwd' }, { type: 'link', name: 'localpasswd-dup', target: 'rootfs/localpasswd' }, { type: 'file', name: 'etc/passwd', content: 'after' }] },
    { name: 'HardlinkSymlinkRelative', mayReject: true,
      check: (root) => { symlinkTo(root, 'localpasswd', '../../../../../etc/passwd'); sameInode(root, 'localpasswd', 'passwdlink'); },
      entries: [etcDir, passwd, { type: 'symlink', name: 'passwdlink', target: '../../../../../etc/passwd' }, { type: 'link', name: 'localpasswd', target: 'rootfs/passwdlink' }] },
    { name: 'HardlinkSymlinkAbsolute', mayReject: true,
      check: (root) => { symlinkTo(root, 'localpasswd', '/etc/passwd'); sameInode(root, 'localpasswd', 'passwdlink'); },
      entries: [etcDir, passwd, { type: 'symlink', name: 'passwdlink', target: '/etc/passwd' }, { type: 'link', name: 'localpasswd', target: 'rootfs/passwdlink' }] },
    { name: 'HardlinkSymlinkChmod', mayReject: true,
      entries: [{ type: 'symlink', name: `${host}/also-exists`.slice(1), target: `${host}/perm400` }, { type: 'link', name: 'sketchylink', target: `rootfs${host}/also-exists`, mode: 0o777 }] },
    // -- resource bounds
    { name: 'VeryDeepPath', mayReject: true,
      entries: [{ type: 'file', name: `${'d/'.repeat(2000)}deep`, content: 'x' }] },
  ];
  return f;
}

/** Prepare the host-side decoy dir the fixtures aim at; returns a checker that it is untouched. */
function makeHost(dir: string): () => void {
  fs.mkdirSync(`${dir}/etc`, { recursive: true });
  fs.writeFileSync(`${dir}/etc/passwd`, 'host');
  fs.writeFileSync(`${dir}/perm400`, '...', { mode: 0o400 });
  fs.writeFileSync(`${dir}/also-exists`, '...', { mode: 0o640 });
  fs.chmodSync(`${dir}/perm400`, 0o400);
  const snapshot = () =>
    fs.readdirSync(dir, { recursive: true }).map(String).sort().map((p) => {
      const st = fs.lstatSync(`${dir}/${p}`);
      return `${p} ${st.mode.toString(8)} ${st.nlink} ${st.isFile() ? fs.readFileSync(`${dir}/${p}`, 'utf8') : ''}`;
    }).join('\n');
  const before = snapshot();
  return () => {
    assert.equal(snapshot(), before, 'the host decoy directory was modified');
    assert.ok(!fs.existsSync(`/etc/${CANARY}`), `/etc/${CANARY} was written on the host`);
    assert.ok(!fs.existsSync(`/${CANARY}`), `/${CANARY} was written on the host`);
  };
}

/* ------------------------------------------------------------------ the suite */

export interface StoreSuiteOptions {
  /** Breakout fixtures that this implementation must render (clamp) rather than refuse. */
  mustClamp?: string[];
}

export function storeSuite(
  name: string,
  factory: (dataDir: string) => Store | Promise<Store>,
  options: StoreSuiteOptions = {},
): void {
  describe(`store conformance: ${name}`, () => {
    let tmpRoot: string;
    const opened: Store[] = [];
    before(() => {
      tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-store-suite-'));
    });
    after(() => {
      for (const s of opened) {
        try {
          s.close();
        } catch {
          // already closed
        }
      }
      fs.rmSync(tmpRoot, { recursive: true, force: true });
    });
    const fresh = async (): Promise<{ store: Store; dir: string }> => {
      const dir = fs.mkdtempSync(path.join(tmpRoot, 'data-'));
      const store = await factory(dir);
      opened.push(store);
      return { store, dir };
    };
    const importSpec = async (store: Store, spec: AciSpec) => {
      const tar = await buildAci(spec);
      return store.images.importAci(bufferStream(tar));
    };

    it('imports an ACI under its sha512 ID and reads it back', async () => {
      const { store } = await fresh();
      const tar = await buildAci({
        name: 'example.com/hello',
        labels: { version: '1.0', os: 'linux' },
        entries: [{ type: 'file', name: 'rootfs/hello', content: 'hi' }],
      });
      const t0 = Date.now();
      const info = await store.images.importAci(bufferStream(tar));
      assert.equal(info.id, aciId(tar));
      assert.equal(info.name, 'example.com/hello');
      assert.deepEqual(info.labels, [{ name: 'version', value: '1.0' }, { name: 'os', value: 'linux' }]);
      assert.equal(info.size, tar.length);
      assert.equal(info.treeSize, 0);
      assert.ok(info.importTime.getTime() >= t0 - 1000);
      assert.deepEqual((await store.images.getInfo(info.id))?.name, 'example.com/hello');
      assert.deepEqual((await store.images.list()).map((i) => i.id), [info.id]);
      assert.equal((await store.images.manifest(info.id)).name, 'example.com/hello');
      assert.ok((await readAll(store.images.openAci(info.id))).equals(tar));
      assert.equal(await store.images.getInfo(`sha512-${'0'.repeat(128)}`), undefined);
    });

    it('dedupes compressed and uncompressed copies of one image', async () => {
      const { store } = await fresh();
      const tar = await buildAci({ name: 'example.com/z', entries: [{ type: 'file', name: 'rootfs/a', content: 'a'.repeat(5000) }] });
      const a = await store.images.importAci(bufferStream(gzipSync(tar)));
      const b = await store.images.importAci(bufferStream(tar));
      assert.equal(a.id, aciId(tar));
      assert.equal(b.id, a.id);
      assert.equal((await store.images.list()).length, 1);
      assert.ok((await readAll(store.images.openAci(a.id))).equals(tar), 'the blob is the uncompressed tar');
    });

    it('refuses invalid archives and leaves nothing visible', async () => {
      const { store } = await fresh();
      await assert.rejects(store.images.importAci(bufferStream(Buffer.from('not an image at all'.repeat(40)))));
      const noManifest = await buildAci({ name: 'x.com/y' });
      // drop the manifest: rebuild without it
      const p = tarStream.pack();
      const chunks: Buffer[] = [];
      p.on('data', (c: unknown) => chunks.push(c as Buffer));
      p.entry({ name: 'rootfs', type: 'directory' });
      p.finalize();
      await new Promise<void>((r) => p.on('end', () => r()));
      await assert.rejects(store.images.importAci(bufferStream(Buffer.concat(chunks))));
      assert.ok(noManifest.length > 0);
      assert.deepEqual(await store.images.list(), []);
    });

    it('beforeCommit sees the image before it is visible, and can veto it', async () => {
      const { store } = await fresh();
      const tar = await buildAci({ name: 'x.com/signed' });
      let seen: { id: string; name: string; listed: number } | undefined;
      await assert.rejects(
        store.images.importAci(bufferStream(tar), {
          beforeCommit: async (img) => {
            seen = { id: img.id, name: img.manifest.name, listed: (await store.images.list()).length };
            throw new Error('untrusted signature');
          },
        }),
        /untrusted signature/,
      );
      assert.deepEqual(seen, { id: aciId(tar), name: 'x.com/signed', listed: 0 });
      assert.deepEqual(await store.images.list(), []);
      let called = 0;
      const info = await store.images.importAci(bufferStream(tar), { beforeCommit: async () => void called++ });
      assert.equal(called, 1);
      assert.equal(info.id, aciId(tar));
    });

    it('hashes the source bytes as given when asked (sourceHashes), compressed or not', async (t) => {
      const { store } = await fresh();
      if (!store.images.hashesSource) {
        t.skip('this store does not hash sources (hashesSource is not set)');
        return;
      }
      const tar = await buildAci({ name: 'x.com/hashed', entries: [{ type: 'file', name: 'rootfs/a', content: Buffer.alloc(300_000, 3) }] });
      const gz = gzipSync(tar);
      for (const [label, bytes] of [['plain', tar], ['gzip', gz]] as const) {
        for (const algs of [['sha512'], ['sha256'], ['sha512', 'sha256']]) {
          let got: Record<string, string> | undefined;
          await store.images.importAci(bufferStream(bytes, label === 'plain' ? 100 : 7000), {
            sourceHashes: algs,
            beforeCommit: async (img) => {
              got = {};
              for (const [a, h] of Object.entries(img.sourceHashes ?? {})) got[a] = (await h.digestWith()).toString('hex');
              // With a suffix: what an OpenPGP check does with its trailer.
              const suffix = Buffer.from('trailer');
              for (const [a, h] of Object.entries(img.sourceHashes ?? {}))
                assert.equal((await h.digestWith(suffix)).toString('hex'), createHash(a).update(bytes).update(suffix).digest('hex'));
            },
          });
          const want = Object.fromEntries(algs.map((a) => [a, createHash(a).update(bytes).digest('hex')]));
          assert.deepEqual(got, want, `${label} source, ${algs.join('+')}`);
        }
      }
      await assert.rejects(
        store.images.importAci(bufferStream(tar), { sourceHashes: ['no-such-hash'] }),
        /no-such-hash/,
      );
      assert.equal((await store.images.list()).length, 1);
    });

    it('an import whose source fails midway leaves no image, and a retry succeeds', async () => {
      const { store } = await fresh();
      const tar = await buildAci({ name: 'x.com/big', entries: [{ type: 'file', name: 'rootfs/big', content: Buffer.alloc(2 << 20, 7) }] });
      let sent = 0;
      const failing = new Readable({
        read() {
          if (sent >= 1 << 20) {
            this.destroy(new Error('connection reset'));
            return;
          }
          this.push(tar.subarray(sent, sent + 65536));
          sent += 65536;
        },
      });
      await assert.rejects(store.images.importAci(failing));
      assert.deepEqual(await store.images.list(), []);
      const info = await store.images.importAci(bufferStream(tar));
      assert.equal(info.id, aciId(tar));
    });

    it('concurrent imports of one image give one image', async () => {
      const { store } = await fresh();
      const tar = await buildAci({ name: 'x.com/same', entries: [{ type: 'file', name: 'rootfs/f', content: Buffer.alloc(300000, 1) }] });
      const infos = await Promise.all(Array.from({ length: 6 }, () => store.images.importAci(bufferStream(tar, 8192))));
      assert.ok(infos.every((i) => i.id === aciId(tar)));
      assert.equal((await store.images.list()).length, 1);
    });

    it('resolves full IDs and unique prefixes; ambiguous prefixes name the candidate count', async () => {
      const { store } = await fresh();
      // Generate images until two share the first two hex digits.
      const byPrefix = new Map<string, Buffer>();
      let pair: [Buffer, Buffer] | undefined;
      for (let i = 0; pair === undefined && i < 2000; i++) {
        const tar = await buildAci({ name: 'x.com/p', labels: { version: String(i) } });
        const pfx = aciId(tar).slice(0, 9);
        const prev = byPrefix.get(pfx);
        if (prev !== undefined) pair = [prev, tar];
        else byPrefix.set(pfx, tar);
      }
      assert.ok(pair !== undefined);
      const a = await store.images.importAci(bufferStream(pair[0]));
      const b = await store.images.importAci(bufferStream(pair[1]));
      assert.equal(await store.images.resolveId(a.id), a.id);
      let common = 9;
      while (a.id[common] === b.id[common]) common++;
      assert.equal(await store.images.resolveId(a.id.slice(0, common + 1)), a.id);
      assert.equal(await store.images.resolveId(b.id.slice(0, common + 1)), b.id);
      await rejectsWith(store.images.resolveId(a.id.slice(0, 9)), 'E_INVALID_ARGUMENT', /ambiguous.*\b2\b/);
      const absent = a.id.slice(0, 7) + (a.id[7] === 'f' ? '0' : 'f') + a.id.slice(8, 20);
      if (!b.id.startsWith(absent)) await rejectsWith(store.images.resolveId(absent), 'E_NOT_FOUND');
      await rejectsWith(store.images.resolveId('sha512-'), 'E_INVALID_ARGUMENT');
      await rejectsWith(store.images.resolveId('sha256-abcd'), 'E_INVALID_ARGUMENT');
      await rejectsWith(store.images.resolveId('sha512-../../x'), 'E_INVALID_ARGUMENT');
    });

    it('finds images by name and labels; the newest import wins', async () => {
      const { store } = await fresh();
      const v1 = await importSpec(store, { name: 'x.com/app', labels: { version: '1', arch: 'amd64' } });
      await new Promise((r) => setTimeout(r, 5));
      const v2 = await importSpec(store, { name: 'x.com/app', labels: { version: '2', arch: 'amd64' } });
      await importSpec(store, { name: 'x.com/other', labels: { version: '1' } });
      assert.equal((await store.images.findByName('x.com/app', {}))?.id, v2.id);
      assert.equal((await store.images.findByName('x.com/app', { arch: 'amd64' }))?.id, v2.id);
      assert.equal((await store.images.findByName('x.com/app', { version: '1' }))?.id, v1.id);
      assert.equal((await store.images.findByName('x.com/app', { version: '1', arch: 'arm64' })), undefined);
      assert.equal((await store.images.findByName('x.com/app', { os: 'linux' })), undefined);
      assert.equal((await store.images.findByName('x.com/nope', {})), undefined);
    });

    it('removes images (and their remote cache rows)', async () => {
      const { store } = await fresh();
      const tar = await buildAci({ name: 'x.com/rm' });
      const info = await store.images.importAci(bufferStream(tar), { remote: { url: 'https://x.com/rm.aci', etag: '"e1"', maxAge: 60 } });
      const keep = await importSpec(store, { name: 'x.com/keep' });
      assert.equal((await store.images.remote('https://x.com/rm.aci'))?.imageId, info.id);
      await store.images.remove(info.id);
      assert.deepEqual((await store.images.list()).map((i) => i.id), [keep.id]);
      assert.equal(await store.images.getInfo(info.id), undefined);
      assert.equal(await store.images.remote('https://x.com/rm.aci'), undefined);
      await rejectsWith(() => store.images.openAci(info.id), 'E_NOT_FOUND');
      await rejectsWith(store.images.remove(info.id), 'E_NOT_FOUND');
      await rejectsWith(store.images.resolveId(info.id), 'E_NOT_FOUND');
      // and it can come back
      assert.equal((await store.images.importAci(bufferStream(tar))).id, info.id);
    });

    it('keeps the fetch cache per URL', async () => {
      const { store } = await fresh();
      const info = await importSpec(store, { name: 'x.com/cache' });
      assert.equal(await store.images.remote('https://x.com/cache.aci'), undefined);
      const t = new Date('2024-05-01T10:00:00Z');
      await store.images.setRemote({ url: 'https://x.com/cache.aci', imageId: info.id, etag: '"v1"', maxAge: 300, downloadTime: t });
      const r1 = await store.images.remote('https://x.com/cache.aci');
      assert.deepEqual(r1, { url: 'https://x.com/cache.aci', imageId: info.id, etag: '"v1"', maxAge: 300, downloadTime: t });
      await store.images.setRemote({ url: 'https://x.com/cache.aci', imageId: info.id, downloadTime: new Date(t.getTime() + 1000) });
      const r2 = await store.images.remote('https://x.com/cache.aci');
      assert.equal(r2?.etag, undefined);
      assert.equal(r2?.downloadTime.getTime(), t.getTime() + 1000);
      await rejectsWith(
        store.images.setRemote({ url: 'https://x.com/n.aci', imageId: `sha512-${'a'.repeat(128)}`, downloadTime: t }),
        'E_NOT_FOUND',
      );
    });

    it('markUsed updates lastUsed', async () => {
      const { store } = await fresh();
      const info = await importSpec(store, { name: 'x.com/used' });
      await new Promise((r) => setTimeout(r, 10));
      await store.images.markUsed(info.id);
      const after = await store.images.getInfo(info.id);
      assert.ok(after!.lastUsed.getTime() > info.lastUsed.getTime());
    });

    it('renders an image once, preserving file metadata', async () => {
      const { store } = await fresh();
      const asRoot = process.getuid?.() === 0;
      const mtime = new Date('2021-03-04T05:06:07Z');
      const info = await importSpec(store, {
        name: 'x.com/render',
        entries: [
          { type: 'dir', name: 'rootfs/bin', mode: 0o750, uid: 12, gid: 34, mtime },
          { type: 'file', name: 'rootfs/bin/suid', content: '#!/bin/sh\n', mode: 0o4755, uid: 0, gid: 0, mtime },
          { type: 'file', name: 'rootfs/bin/owned', content: 'o', mode: 0o640, uid: 1000, gid: 1001 },
          { type: 'symlink', name: 'rootfs/bin/sh', target: '/bin/busybox' },
          { type: 'link', name: 'rootfs/bin/hard', target: 'rootfs/bin/owned' },
          { type: 'fifo', name: 'rootfs/run.fifo', mode: 0o600 },
          { type: 'file', name: 'rootfs/etc/implied-parent', content: 'p' },
          { type: 'dir', name: 'rootfs/ro', mode: 0o555 },
          { type: 'file', name: 'rootfs/ro/inside', content: 'ro' },
        ],
      });
      const tree = await store.trees.render(info.id);
      assert.match(tree.id, /^deps-sha512-[0-9a-f]{64}$/);
      assert.equal(tree.imageId, info.id);
      assert.deepEqual(tree.layers, [info.id]);
      assert.ok(tree.size > 0);
      assert.equal(JSON.parse(fs.readFileSync(`${tree.path}/manifest`, 'utf8')).name, 'x.com/render');
      const root = `${tree.path}/rootfs`;
      const bin = fs.lstatSync(`${root}/bin`);
      assert.equal(bin.mode & 0o7777, 0o750);
      assert.equal(bin.mtime.getTime(), mtime.getTime());
      const suid = fs.lstatSync(`${root}/bin/suid`);
      assert.equal(suid.mode & 0o7777, 0o4755);
      assert.equal(suid.mtime.getTime(), mtime.getTime());
      if (asRoot) {
        assert.equal(bin.uid, 12);
        assert.equal(bin.gid, 34);
        assert.equal(fs.lstatSync(`${root}/bin/owned`).uid, 1000);
        assert.equal(fs.lstatSync(`${root}/bin/owned`).gid, 1001);
      }
      symlinkTo(root, 'bin/sh', '/bin/busybox');
      sameInode(root, 'bin/hard', 'bin/owned');
      assert.ok(fs.lstatSync(`${root}/run.fifo`).isFIFO());
      fileIs(root, 'etc/implied-parent', 'p');
      fileIs(root, 'ro/inside', 'ro');
      assert.equal(fs.lstatSync(`${root}/ro`).mode & 0o777, 0o555);

      const again = await store.trees.render(info.id);
      assert.deepEqual(again, tree);
      assert.deepEqual(await store.trees.get(tree.id), tree);
      assert.deepEqual((await store.trees.list()).map((t) => t.id), [tree.id]);
      assert.equal((await store.images.getInfo(info.id))!.treeSize, tree.size);
      const both = await Promise.all([store.trees.render(info.id), store.trees.render(info.id.slice(0, 30))]);
      assert.equal(both[0].path, both[1].path);
      await store.trees.remove(tree.id);
      assert.equal(await store.trees.get(tree.id), undefined);
      assert.ok(!fs.existsSync(tree.path));
      await rejectsWith(store.trees.remove(tree.id), 'E_NOT_FOUND');
      assert.equal((await store.trees.render(info.id)).id, tree.id);
    });

    it('renders dependencies depth-first in list order, by ID and by name + labels', async () => {
      const { store } = await fresh();
      const layer = (n: string, files: string[]): AciEntry[] => [
        { type: 'file', name: `rootfs/own-${n}`, content: n },
        ...files.map((f) => ({ type: 'file', name: `rootfs/${f}`, content: n }) as AciEntry),
      ];
      const d = await importSpec(store, { name: 'x.com/d', labels: { version: '1' }, entries: layer('D', ['shared2', 'shared3']) });
      await importSpec(store, { name: 'x.com/d', labels: { version: '0' }, entries: layer('D0', ['shared2']) });
      const b = await importSpec(store, { name: 'x.com/b', entries: layer('B', ['shared1', 'shared2', 'shared3']) });
      const c = await importSpec(store, {
        name: 'x.com/c',
        dependencies: [{ imageName: 'x.com/d', labels: { version: '1' } }],
        entries: layer('C', ['shared1']),
      });
      const a = await importSpec(store, {
        name: 'x.com/a',
        dependencies: [{ imageName: 'x.com/b', imageID: b.id }, { imageName: 'x.com/c' }],
        entries: layer('A', ['shared3']),
      });
      const tree = await store.trees.render(a.id);
      assert.deepEqual(tree.layers, [b.id, d.id, c.id, a.id]);
      const root = `${tree.path}/rootfs`;
      for (const n of ['A', 'B', 'C', 'D']) fileIs(root, `own-${n}`, n);
      fileIs(root, 'shared1', 'C'); // C after B
      fileIs(root, 'shared2', 'D'); // D after B
      fileIs(root, 'shared3', 'A');
      assert.equal(JSON.parse(fs.readFileSync(`${tree.path}/manifest`, 'utf8')).name, 'x.com/a');

      // Another version of a name-resolved dependency gives another tree.
      await new Promise((r) => setTimeout(r, 5));
      await importSpec(store, { name: 'x.com/c', dependencies: [{ imageName: 'x.com/d', labels: { version: '0' } }], entries: layer('C2', []) });
      const tree2 = await store.trees.render(a.id);
      assert.notEqual(tree2.id, tree.id);
      fileIs(`${tree2.path}/rootfs`, 'own-C2', 'C2');
      assert.ok(await store.trees.get(tree.id));
    });

    it('fails clearly when a dependency is missing', async () => {
      const { store } = await fresh();
      const a = await importSpec(store, { name: 'x.com/a', dependencies: [{ imageName: 'x.com/missing', labels: { version: '9' } }] });
      await rejectsWith(store.trees.render(a.id), 'E_NOT_FOUND', /x\.com\/missing/);
      const b = await importSpec(store, { name: 'x.com/b', dependencies: [{ imageName: 'x.com/gone', imageID: `sha512-${'1'.repeat(128)}` }] });
      await rejectsWith(store.trees.render(b.id), 'E_NOT_FOUND', /x\.com\/gone/);
      assert.deepEqual(await store.trees.list(), []);
    });

    it('honours pathWhitelist across dependencies', async () => {
      const { store } = await fresh();
      await importSpec(store, {
        name: 'x.com/base',
        entries: [
          { type: 'file', name: 'rootfs/keep', content: 'k' },
          { type: 'file', name: 'rootfs/drop', content: 'd' },
          { type: 'dir', name: 'rootfs/dir' },
          { type: 'file', name: 'rootfs/dir/keep2', content: 'k2' },
          { type: 'file', name: 'rootfs/dir/drop2', content: 'd2' },
          { type: 'dir', name: 'rootfs/dropdir' },
        ],
      });
      const top = await importSpec(store, {
        name: 'x.com/top',
        dependencies: [{ imageName: 'x.com/base' }],
        pathWhitelist: ['/keep', '/dir/keep2', '/own-listed'],
        entries: [
          { type: 'file', name: 'rootfs/own-listed', content: 'l' },
          { type: 'file', name: 'rootfs/own-unlisted', content: 'u' },
          { type: 'dir', name: 'rootfs/owndir' },
        ],
      });
      const root = `${(await store.trees.render(top.id)).path}/rootfs`;
      fileIs(root, 'keep', 'k');
      fileIs(root, 'dir/keep2', 'k2');
      fileIs(root, 'own-listed', 'l');
      for (const gone of ['drop', 'dir/drop2', 'dropdir', 'own-unlisted']) {
        assert.ok(!fs.existsSync(`${root}/${gone}`), `${gone} should be filtered out`);
      }
      assert.ok(fs.lstatSync(`${root}/owndir`).isDirectory(), "the image's own directories are kept");
    });

    describe('archive breakouts', () => {
      let hostDir: string;
      let hostUntouched: () => void;
      before(() => {
        hostDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-breakout-host-'));
        hostUntouched = makeHost(hostDir);
      });
      after(() => fs.rmSync(hostDir, { recursive: true, force: true }));
      const names = breakoutFixtures('/placeholder').map((f) => f.name);
      for (const fname of names) {
        it(fname, async () => {
          const fx = breakoutFixtures(hostDir).find((f) => f.name === fname)!;
          const { store } = await fresh();
          let tree;
          try {
            const deps = [];
            if (fx.pre !== undefined) {
              await importSpec(store, { name: 'x.com/pre', entries: fx.pre.map(r) });
              deps.push({ imageName: 'x.com/pre' });
            }
            const img = await importSpec(store, { name: 'x.com/evil', dependencies: deps, entries: fx.entries.map(r) });
            tree = await store.trees.render(img.id);
          } catch (e) {
            hostUntouched();
            if (!fx.mayReject || options.mustClamp?.includes(fname)) throw e;
            assert.equal(codeOf(e), 'E_INVALID_ARGUMENT', `a refusal must be INVALID_ARGUMENT: ${String(e)}`);
            return;
          }
          hostUntouched();
          fx.check?.(`${tree.path}/rootfs`);
        });
      }
    });

    it('gc removes unreferenced trees and images unused for the grace period', async () => {
      const { store } = await fresh();
      const a = await importSpec(store, { name: 'x.com/a', entries: [{ type: 'file', name: 'rootfs/a', content: 'a' }] });
      const b = await importSpec(store, { name: 'x.com/b', entries: [{ type: 'file', name: 'rootfs/b', content: 'b' }] });
      const c = await importSpec(store, { name: 'x.com/c' });
      const ta = await store.trees.render(a.id);
      const tb = await store.trees.render(b.id);
      const r1 = await store.gc({ referencedTrees: [ta.id] });
      assert.deepEqual(r1.removedTrees, [tb.id]);
      assert.deepEqual(r1.removedImages, []);
      assert.ok(await store.trees.get(ta.id));
      assert.equal(await store.trees.get(tb.id), undefined);
      assert.equal((await store.images.list()).length, 3);
      await new Promise((res) => setTimeout(res, 400));
      await store.images.markUsed(c.id);
      const r2 = await store.gc({ referencedTrees: [ta.id], imageGracePeriodMs: 200 });
      // a is kept (its tree is referenced), c was used recently, b goes
      assert.deepEqual(r2.removedImages, [b.id]);
      assert.deepEqual((await store.images.list()).map((i) => i.id).sort(), [a.id, c.id].sort());
      const r3 = await store.gc({ referencedTrees: [], imageGracePeriodMs: 0, imagesInUse: [c.id] });
      assert.deepEqual(r3.removedTrees, [ta.id]);
      assert.deepEqual(r3.removedImages, [a.id]);
      assert.deepEqual(r3.errors, []);
    });
  });
}
