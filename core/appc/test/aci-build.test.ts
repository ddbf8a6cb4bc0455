// writeAci: metadata preservation (read back with tar-stream), and byte equality with the
// reference `actool build --no-compression` for the same tree (all but the manifest's mtime).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  createWriteStream,
  lstatSync,
  linkSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { isInvalidArgument } from '@rkt/api';
import { writeAci, validateLayout, type WriteAciOptions } from '../src/aci/build.js';
import { imageIdOfFile, scanAci } from '../src/aci/scan.js';
import { createReadStream } from 'node:fs';
import { ACTOOL, MANIFEST, must, readEntries, sh, tempDir } from './aci-helpers.js';

async function build(dir: string, out: string, opts: WriteAciOptions = {}) {
  return writeAci(dir, createWriteStream(out), { compression: 'none', ...opts });
}

/** A layout with every kind of entry and metadata the builder must keep. */
function makeTree(root: string, withXattr: boolean): string {
  const l = join(root, 'layout');
  const r = join(l, 'rootfs');
  mkdirSync(join(r, 'bin'), { recursive: true });
  mkdirSync(join(r, 'tmp'));
  mkdirSync(join(r, 'dev'));
  mkdirSync(join(r, 'home/user'), { recursive: true });
  writeFileSync(join(l, 'manifest'), MANIFEST());
  writeFileSync(join(r, 'bin/tool'), Buffer.alloc(70000, 7));
  chmodSync(join(r, 'bin/tool'), 0o4755); // setuid
  chmodSync(join(r, 'tmp'), 0o1777); // sticky
  writeFileSync(join(r, 'home/user/file'), 'owned by 1234:5678\n');
  chownSync(join(r, 'home/user/file'), 1234, 5678);
  chownSync(join(r, 'home/user'), 1234, 100);
  writeFileSync(join(r, 'a-hardlink-source'), 'shared inode\n');
  linkSync(join(r, 'a-hardlink-source'), join(r, 'z-hardlink'));
  symlinkSync('/bin/tool', join(r, 'abs-link'));
  symlinkSync('../bin/tool', join(r, 'home/rel-link'));
  must('mkfifo', [join(r, 'dev/fifo')]);
  must('mknod', [join(r, 'dev/null'), 'c', '1', '3']);
  must('mknod', [join(r, 'dev/loop9'), 'b', '7', '9']);
  writeFileSync(join(r, 'empty'), '');
  const long = 'd'.repeat(90) + '/' + 'e'.repeat(90);
  mkdirSync(join(r, long), { recursive: true });
  writeFileSync(join(r, long, 'f'.repeat(120)), 'long name\n'); // needs PAX (base > 100 bytes)
  writeFileSync(join(r, 'ünïcode'), 'non-ASCII name\n'); // needs PAX
  writeFileSync(join(r, 'bigid'), 'uid above 2097151\n');
  chownSync(join(r, 'bigid'), 3000000, 3000001);
  if (withXattr) {
    writeFileSync(join(r, 'xattr-file'), 'has an xattr\n');
    must('setfattr', ['-n', 'user.rkt.test', '-v', 'hello', join(r, 'xattr-file')]);
    must('setfattr', ['-n', 'user.rkt.bin', '-v', '0x00ff10', join(r, 'xattr-file')]);
  }
  // mtimes: one with a fraction above .5 (Go rounds it up), one pre-1970.
  utimesSync(join(r, 'bin/tool'), new Date(1_600_000_000_700), new Date(1_600_000_000_700));
  utimesSync(join(r, 'empty'), new Date(-86_400_000), new Date(-86_400_000));
  return l;
}

test('build keeps owners, modes, mtimes, links, devices, fifos, long names and xattrs', async (t) => {
  const d = tempDir(t);
  const l = makeTree(d, true);
  const out = join(d, 'ours.aci');
  const res = await build(l, out, { imageId: true });
  const entries = await readEntries(out);
  const byName = new Map(entries.map((e) => [e.header.name.replace(/\/$/, ''), e]));
  // Order: pre-order walk in byte order, manifest last.
  const names = entries.map((e) => e.header.name.replace(/\/$/, ''));
  assert.equal(names[0], 'rootfs');
  assert.equal(names.at(-1), 'manifest');
  assert.ok(names.indexOf('rootfs/bin') < names.indexOf('rootfs/bin/tool'));
  assert.ok(names.indexOf('rootfs/a-hardlink-source') < names.indexOf('rootfs/abs-link'));
  assert.equal(res.entries, entries.length);
  assert.equal(res.imageId, await imageIdOfFile(out));

  for (const [name, e] of byName) {
    if (name === 'manifest') continue;
    const st = lstatSync(join(l, name));
    const h = e.header;
    const uid = h.pax?.uid ? Number(h.pax.uid) : h.uid;
    const gid = h.pax?.gid ? Number(h.pax.gid) : h.gid;
    assert.equal(uid, st.uid, `${name} uid`);
    assert.equal(gid, st.gid, `${name} gid`);
    assert.equal(h.mode! & 0o7777, st.mode & 0o7777, `${name} mode`);
    const wantMtime = Math.floor(st.mtimeMs / 1000) + ((st.mtimeMs % 1000 + 1000) % 1000 >= 500 ? 1 : 0);
    const gotMtime = h.pax?.mtime ? Number(h.pax.mtime) : h.mtime!.getTime() / 1000;
    assert.equal(gotMtime, wantMtime, `${name} mtime`);
  }
  assert.equal(byName.get('rootfs/bin/tool')!.header.mode! & 0o7777, 0o4755);
  assert.equal(byName.get('rootfs/bin/tool')!.header.mtime!.getTime(), 1_600_000_001_000, 'x.7 s rounds up like Go');
  assert.equal(byName.get('rootfs/tmp')!.header.mode! & 0o7777, 0o1777);
  assert.deepEqual(byName.get('rootfs/bin/tool')!.body, Buffer.alloc(70000, 7));
  assert.equal(byName.get('rootfs/home/user/file')!.header.uid, 1234);
  assert.equal(byName.get('rootfs/home/user/file')!.header.gid, 5678);
  assert.equal(byName.get('rootfs/home/user')!.header.gname, 'users');
  assert.equal(byName.get('rootfs/bigid')!.header.pax!.uid, '3000000');
  assert.equal(byName.get('rootfs/empty')!.header.pax!.mtime, '-86400');
  const hl = byName.get('rootfs/z-hardlink')!.header;
  assert.equal(hl.type, 'link');
  assert.equal(hl.linkname, 'rootfs/a-hardlink-source');
  assert.equal(byName.get('rootfs/abs-link')!.header.linkname, '/bin/tool');
  assert.equal(byName.get('rootfs/home/rel-link')!.header.linkname, '../bin/tool');
  assert.equal(byName.get('rootfs/dev/fifo')!.header.type, 'fifo');
  const cdev = byName.get('rootfs/dev/null')!.header;
  assert.deepEqual([cdev.type, cdev.devmajor, cdev.devminor], ['character-device', 1, 3]);
  const bdev = byName.get('rootfs/dev/loop9')!.header;
  assert.deepEqual([bdev.type, bdev.devmajor, bdev.devminor], ['block-device', 7, 9]);
  const longName = `rootfs/${'d'.repeat(90)}/${'e'.repeat(90)}/${'f'.repeat(120)}`;
  assert.equal(byName.get(longName)!.body.toString(), 'long name\n');
  assert.equal(byName.get('rootfs/ünïcode')!.body.toString(), 'non-ASCII name\n');
  assert.equal(byName.get('rootfs/xattr-file')!.header.pax!['SCHILY.xattr.user.rkt.test'], 'hello');
  // Binary xattr values survive: check the raw PAX record bytes.
  const raw = readFileSync(out);
  assert.ok(raw.includes(Buffer.concat([Buffer.from('SCHILY.xattr.user.rkt.bin='), Buffer.from([0x00, 0xff, 0x10]), Buffer.from('\n')])));
  // The manifest: re-serialised like the reference, 0644 root:root.
  const m = byName.get('manifest')!;
  assert.equal(m.body.toString(), MANIFEST());
  assert.deepEqual([m.header.mode, m.header.uid, m.header.gid, m.header.uname, m.header.gname], [0o644, 0, 0, 'root', 'root']);
  // Our scanner and the reference accept it.
  const uids = new Map<string, number | undefined>();
  const scan = await scanAci(createReadStream(out), {
    onEntry: async (h, body) => {
      uids.set(h.name, h.uid);
      body.resume();
    },
  });
  assert.equal(scan.imageId, res.imageId);
  assert.equal(uids.get('rootfs/bigid'), 3000000, 'PAX uid applied to the header given to onEntry');
  assert.equal(sh(ACTOOL, ['validate', out]).status, 0);
});

test('--owner-root: every entry root:root', async (t) => {
  const d = tempDir(t);
  const l = makeTree(d, false);
  const out = join(d, 'root.aci');
  await build(l, out, { ownerRoot: true });
  for (const e of await readEntries(out)) {
    assert.deepEqual([e.header.uid, e.header.gid, e.header.uname, e.header.gname, e.header.pax?.uid], [0, 0, 'root', 'root', undefined], e.header.name);
  }
});

/** Mask the manifest header's mtime and checksum (the only bytes allowed to differ). */
function maskManifest(tarBytes: Buffer, manifestLen: number): Buffer {
  const b = Buffer.from(tarBytes);
  const off = b.length - 1024 - Math.ceil(manifestLen / 512) * 512 - 512;
  assert.equal(b.toString('latin1', off, off + 8), 'manifest');
  b.fill(0x20, off + 136, off + 156);
  return b;
}

for (const ownerRoot of [false, true]) {
  test(`same bytes as the reference actool build --no-compression${ownerRoot ? ' --owner-root' : ''} (but the manifest mtime)`, async (t) => {
    const d = tempDir(t);
    const l = makeTree(d, false);
    const ref = join(d, 'ref.aci');
    must(ACTOOL, ['build', '--no-compression', ...(ownerRoot ? ['--owner-root'] : []), l, ref]);
    const ours = join(d, 'ours.aci');
    const res = await build(l, ours, { ownerRoot });
    const a = readFileSync(ref);
    const b = readFileSync(ours);
    assert.equal(b.length, a.length);
    const ma = maskManifest(a, res.manifestBytes.length);
    const mb = maskManifest(b, res.manifestBytes.length);
    const firstDiff = ma.findIndex((x, i) => x !== mb[i]);
    assert.equal(firstDiff, -1, `first differing byte at ${firstDiff}`);
  });
}

test('gzip, bzip2 and xz outputs hold the same tar; the reference validates each', async (t) => {
  const d = tempDir(t);
  const l = makeTree(d, false);
  const when = new Date(1_700_000_000_000);
  const plain = join(d, 'plain.aci');
  const base = await build(l, plain, { imageId: true, manifestMtime: when });
  for (const [c, tool] of [['gzip', 'gzip'], ['bzip2', 'bzip2'], ['xz', 'xz']] as const) {
    const out = join(d, `${c}.aci`);
    const r = await build(l, out, { compression: c, imageId: true, manifestMtime: when });
    assert.equal(r.imageId, base.imageId);
    assert.deepEqual(must(tool, ['-dc', out]), readFileSync(plain), `${c} decompresses to the same tar`);
    assert.equal(await imageIdOfFile(out), base.imageId);
    const v = sh(ACTOOL, ['validate', out]);
    assert.equal(v.status, 0, `${c}: ${v.stderr}`);
  }
});

test('layout errors: missing manifest or rootfs, invalid manifest, stray top-level entries', async (t) => {
  const d = tempDir(t);
  const fails = (dir: string, re: RegExp) =>
    assert.throws(() => validateLayout(dir), (e: unknown) => isInvalidArgument(e) && re.test((e as Error).message));
  fails(join(d, 'nope'), /error accessing layout: stat .*no such file or directory/);
  writeFileSync(join(d, 'file'), '');
  fails(join(d, 'file'), /is not a directory/);
  mkdirSync(join(d, 'l1'));
  fails(join(d, 'l1'), /no image manifest found in layout/);
  writeFileSync(join(d, 'l1/manifest'), MANIFEST());
  fails(join(d, 'l1'), /no rootfs found in layout/);
  writeFileSync(join(d, 'l1/rootfs'), '');
  fails(join(d, 'l1'), /rootfs is not a directory/);
  mkdirSync(join(d, 'l2/rootfs'), { recursive: true });
  writeFileSync(join(d, 'l2/manifest'), '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"Bad Name"}');
  fails(join(d, 'l2'), /image manifest validation failed: .*AC Identifier/);
  writeFileSync(join(d, 'l2/manifest'), 'not json');
  fails(join(d, 'l2'), /image manifest validation failed/);
  writeFileSync(join(d, 'l2/manifest'), MANIFEST());
  mkdirSync(join(d, 'l2/rootfsX'));
  fails(join(d, 'l2'), /unrecognized file path in layout: "rootfsX"/);
  const ws = createWriteStream(join(d, 'x.aci'));
  const closed = once(ws, 'close');
  await assert.rejects(writeAci(join(d, 'l2'), ws), /unrecognized file path/);
  await closed;
  assert.ok(ws.destroyed, 'the output is destroyed on failure');
});
