// scanAci on reference-built images of every compression (same ImageID as sha512 of the
// decompressed tar), and clean errors for malformed archives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isInvalidArgument } from '@rkt/api';
import { detectCompression } from '../src/aci/compression.js';
import { imageIdOfFile, scanAci } from '../src/aci/scan.js';
import { checkAciFile } from '../src/aci/check.js';
import { ACTOOL, MANIFEST, must, packTar, sh, tempDir } from './aci-helpers.js';

const sha512 = (b: Buffer) => 'sha512-' + createHash('sha512').update(b).digest('hex');

test('reference-built ACI in all four compressions: same ImageID as sha512 of the tar, manifest read', async (t) => {
  const d = tempDir(t);
  const l = join(d, 'layout');
  mkdirSync(join(l, 'rootfs/etc'), { recursive: true });
  writeFileSync(join(l, 'manifest'), MANIFEST('example.com/ref'));
  writeFileSync(join(l, 'rootfs/etc/data'), Buffer.alloc(300000, 'abc'));
  const gz = join(d, 'ref.aci');
  must(ACTOOL, ['build', l, gz]);
  const plain = must('gzip', ['-dc', gz]);
  const want = sha512(plain);
  const files: Record<string, string> = { gzip: gz, none: join(d, 'none.aci'), bzip2: join(d, 'bz.aci'), xz: join(d, 'xz.aci') };
  writeFileSync(files.none!, plain);
  writeFileSync(files.bzip2!, must('bzip2', ['-c'], { input: plain }));
  writeFileSync(files.xz!, must('xz', ['-c'], { input: plain }));
  for (const [c, f] of Object.entries(files)) {
    assert.equal(detectCompression(readFileSync(f).subarray(0, 512)), c);
    const seen: string[] = [];
    const s = await scanAci(createReadStream(f), {
      onEntry: async (h, body) => {
        seen.push(h.name);
        body.resume();
      },
    });
    assert.equal(s.compression, c);
    assert.equal(s.imageId, want, `${c}: ImageID`);
    assert.equal(await imageIdOfFile(f), want);
    assert.equal(s.uncompressedSize, plain.length);
    assert.equal(s.manifest.name, 'example.com/ref');
    assert.deepEqual(seen.map((n) => n.replace(/\/$/, '')), ['rootfs', 'rootfs/etc', 'rootfs/etc/data']);
    assert.equal(sh(ACTOOL, ['validate', f]).status, 0, `actool validates the ${c} image`);
  }
});

const dir = (name: string) => ({ header: { name, type: 'directory' as const, mode: 0o755 } });
const file = (name: string, body: string | Buffer = 'x') => ({ header: { name, type: 'file' as const, mode: 0o644 }, body });
const good = () => [dir('rootfs'), file('rootfs/a'), file('manifest', MANIFEST())];

async function scanBytes(b: Buffer) {
  return scanAci(Readable.from([b]));
}

let scratch = '';
let nfile = 0;

/** Both readers (streaming scanAci, file-based checkAciFile) refuse `b` with a clean error. */
async function rejectsClean(b: Buffer, re: RegExp) {
  const check = (e: unknown) => {
    assert.ok(isInvalidArgument(e), `not an INVALID_ARGUMENT RktError: ${String(e)}`);
    assert.match((e as Error).message, re);
    return true;
  };
  await assert.rejects(scanBytes(b), check);
  const f = join(scratch, `case-${nfile++}.aci`);
  writeFileSync(f, b);
  await assert.rejects(checkAciFile(f), check);
}

test('a well-formed crafted archive passes (control for the malformed cases)', async (t) => {
  const b = await packTar(good());
  const s = await scanBytes(b);
  assert.equal(s.manifest.name, 'example.com/test');
  const f = join(tempDir(t), 'good.aci');
  writeFileSync(f, b);
  assert.equal((await checkAciFile(f)).manifest.name, 'example.com/test');
  writeFileSync(f, must('xz', ['-c'], { input: b }));
  assert.deepEqual([(await checkAciFile(f)).compression, (await checkAciFile(f)).manifestBytes.toString()], ['xz', MANIFEST()]);
});

test('malformed archives give clean INVALID_ARGUMENT errors', async (t) => {
  const d = tempDir(t);
  scratch = d;
  const ok = await packTar(good());
  await rejectsClean(Buffer.alloc(0), /empty/);
  await rejectsClean(Buffer.from('this is not an image at all, just text'), /not an ACI: unknown file type/);
  await rejectsClean(Buffer.alloc(4096, 0x41), /not an ACI/);
  // Truncated inside a body and inside a header.
  const big = await packTar([dir('rootfs'), file('rootfs/big', Buffer.alloc(10000, 1)), file('manifest', MANIFEST())]);
  await rejectsClean(big.subarray(0, 3000), /truncated/);
  await rejectsClean(big.subarray(0, 512 + 700), /truncated/);
  // Layout violations.
  await rejectsClean(await packTar([...good(), file('manifest', MANIFEST())]), /more than one manifest/);
  await rejectsClean(await packTar([dir('rootfs'), file('rootfsX/a'), file('manifest', MANIFEST())]), /unrecognized file path in layout: "rootfsX\/a"/);
  await rejectsClean(await packTar([dir('rootfs'), file('../x'), file('manifest', MANIFEST())]), /contains "\.\."/);
  await rejectsClean(await packTar([dir('rootfs'), file('rootfs/../../x'), file('manifest', MANIFEST())]), /contains "\.\."/);
  await rejectsClean(await packTar([dir('rootfs'), file('/abs'), file('manifest', MANIFEST())]), /absolute entry name/);
  await rejectsClean(await packTar([dir('rootfs'), file('rootfs/a'), file('rootfs/./a'), file('manifest', MANIFEST())]), /duplicate file entry in archive: rootfs\/a/);
  await rejectsClean(await packTar([dir('rootfs'), file('rootfs/a')]), /no image manifest found/);
  await rejectsClean(await packTar([file('manifest', MANIFEST())]), /no rootfs found/);
  await rejectsClean(await packTar([file('rootfs'), file('manifest', MANIFEST())]), /rootfs is not a directory/);
  await rejectsClean(await packTar([dir('rootfs'), file('manifest', Buffer.alloc(2 << 20, 0x20))]), /manifest is larger than/);
  await rejectsClean(await packTar([dir('rootfs'), dir('manifest')]), /manifest is not a regular file \(it is a directory\)/);
  await rejectsClean(
    await packTar([dir('rootfs'), { header: { name: 'manifest', type: 'symlink', linkname: 'rootfs/a' } }]),
    /manifest is not a regular file \(it is a symlink\)/,
  );
  await rejectsClean(await packTar([dir('rootfs'), file('manifest', 'not json {')]), /not valid JSON/);
  await rejectsClean(await packTar([dir('rootfs'), file('manifest', '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"UPPER"}')]), /AC Identifier/);
  // Corrupt compressed streams.
  const gz = must('gzip', ['-c'], { input: ok });
  await rejectsClean(gz.subarray(0, gz.length - 30), /gzip image is corrupt|truncated/);
  const xz = must('xz', ['-c'], { input: big });
  await rejectsClean(xz.subarray(0, xz.length - 40), /xz image is corrupt|truncated/);
  const bz = must('bzip2', ['-c'], { input: big });
  await rejectsClean(bz.subarray(0, bz.length - 20), /bzip2 image is corrupt|truncated/);
  // The reference agrees on the verdict for each malformed archive but one: it accepts
  // "rootfsX/a" (it only checks the "rootfs" prefix); we refuse it on purpose.
  const rootfsX = join(d, 'rootfsx.aci');
  writeFileSync(rootfsX, await packTar([dir('rootfs'), file('rootfsX/a'), file('manifest', MANIFEST())]));
  assert.equal(sh(ACTOOL, ['validate', rootfsX]).status, 0);
  const two = join(d, 'two.aci');
  writeFileSync(two, await packTar([...good(), file('manifest', MANIFEST())]));
  assert.equal(sh(ACTOOL, ['validate', two]).status, 1);
  const trunc = join(d, 'trunc.aci');
  writeFileSync(trunc, big.subarray(0, 3000));
  assert.equal(sh(ACTOOL, ['validate', trunc]).status, 1);
});
