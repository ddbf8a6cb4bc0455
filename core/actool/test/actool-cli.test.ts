// Our actool against the reference /usr/bin/actool 0.8.11: same stdout, stderr and exit status
// for every command's success and main failures; images made by one tool accepted by the other;
// patch-manifest results equal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar-stream';
import { Readable } from 'node:stream';

const REF = '/usr/bin/actool';
const OURS = fileURLToPath(new URL('../bin/run.js', import.meta.url));

const work = mkdtempSync(join(tmpdir(), 'actool-cli-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}
function run(tool: 'ref' | 'ours', args: string[]): Run {
  const r = tool === 'ref' ? spawnSync(REF, args, { cwd: work }) : spawnSync(process.execPath, [OURS, ...args], { cwd: work });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Run both tools (removing `cleanup` files after each) and demand identical results. */
function same(args: string[], cleanup: string[] = [], expectStatus?: number): Run {
  const rm = () => cleanup.forEach((f) => rmSync(join(work, f), { force: true }));
  rm();
  const ref = run('ref', args);
  rm();
  const ours = run('ours', args);
  rm();
  assert.deepEqual(ours, ref, `actool ${args.join(' ')}`);
  if (expectStatus !== undefined) assert.equal(ours.status, expectStatus);
  return ours;
}

const MANIFEST = JSON.stringify({
  acKind: 'ImageManifest',
  acVersion: '0.8.11',
  name: 'example.com/cli',
  labels: [{ name: 'os', value: 'linux' }],
  app: { exec: ['/bin/true'], user: '0', group: '0' },
});

function layout(name: string, manifest = MANIFEST): string {
  const l = join(work, name);
  mkdirSync(join(l, 'rootfs/bin'), { recursive: true });
  writeFileSync(join(l, 'manifest'), manifest);
  writeFileSync(join(l, 'rootfs/bin/true'), '#!/bin/sh\n');
  chmodSync(join(l, 'rootfs/bin/true'), 0o755);
  return l;
}

async function tarOf(entries: { name: string; type?: 'file' | 'directory'; body?: string }[]): Promise<Buffer> {
  const p = tar.pack();
  for (const e of entries) p.entry({ name: e.name, type: e.type ?? 'file', mode: 0o644 }, e.body ?? '');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as Readable) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('help, version, global flags and unknown commands', () => {
  for (const args of [[], ['help'], ['-help'], ['--help'], ['-h'], ['-debug'], ['version'], ['--version'], ['bogus'], ['-x', 'build'], ['help', 'nope']])
    same(args);
  for (const c of ['build', 'cat-manifest', 'discover', 'help', 'patch-manifest', 'validate', 'version']) same(['help', c], [], 0);
});

test('flag syntax: -flag and --flag, =value, bad flags, -h per command', () => {
  layout('lay');
  same(['build', '--bad', 'lay', 'o.aci'], ['o.aci'], 2);
  same(['build', '-h'], [], 2);
  same(['build', '-overwrite=maybe', 'lay', 'o.aci'], ['o.aci'], 2);
  same(['build', '---x'], [], 2);
  same(['validate', '-type'], [], 2);
  same(['discover', '--port=x', 'a'], [], 2);
  same(['build', '-no-compression', '--owner-root=true', 'lay', 'o.aci'], ['o.aci'], 0);
  same(['build', '--', 'lay', 'o.aci'], ['o.aci'], 0);
  // Go stops at the first non-flag argument: a trailing flag is an argument.
  same(['build', 'lay', 'o.aci', '--overwrite'], ['o.aci'], 1);
});

test('build: argument, extension, layout and target errors; success', () => {
  layout('lay');
  mkdirSync(join(work, 'nomanifest/rootfs'), { recursive: true });
  layout('badmanifest', '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"x","app":{"exec":["rel"]}}');
  same(['build'], [], 1);
  same(['build', 'lay'], [], 1);
  same(['build', 'lay', 'x.tar'], [], 1);
  same(['build', 'lay', '.aci'], ['.aci'], 0);
  same(['build', 'nodir', 'o.aci'], ['o.aci'], 1);
  same(['build', 'nomanifest', 'o.aci'], ['o.aci'], 1);
  same(['build', 'lay', 'missing-dir/o.aci'], [], 1);
  writeFileSync(join(work, 'exists.aci'), 'x');
  same(['build', 'lay', 'exists.aci'], [], 1);
  same(['build', '--overwrite', 'lay', 'exists.aci'], [], 0);
  assert.equal(readFileSync(join(work, 'exists.aci'))[0], 0x1f, 'overwritten with a gzip image');
  // A bad manifest: both fail (messages differ in wording: ours names the field).
  const r = run('ref', ['build', 'badmanifest', 'b.aci']);
  const o = run('ours', ['build', 'badmanifest', 'b2.aci']);
  assert.equal(o.status, r.status);
  assert.equal(r.status, 1);
  assert.match(o.stderr, /^build: Layout failed validation: image manifest validation failed: app\.user: user is required/);
  assert.ok(!existsSync(join(work, 'b2.aci')));
});

test('images built by each tool validate with the other; cat-manifest prints the same', () => {
  layout('lay');
  for (const flags of [[], ['--no-compression'], ['--owner-root']]) {
    for (const builder of ['ref', 'ours'] as const) {
      const out = `${builder}${flags.join('')}.aci`;
      rmSync(join(work, out), { force: true });
      assert.equal(run(builder, ['build', ...flags, 'lay', out]).status, 0);
      same(['validate', out], [], 0);
      same(['-debug', 'validate', out], [], 0);
      same(['cat-manifest', out], [], 0);
      same(['cat-manifest', '--pretty-print', out], [], 0);
    }
  }
  for (const c of ['bzip2', 'xz']) {
    const plain = spawnSync('gzip', ['-dc', join(work, 'ref.aci')]).stdout;
    writeFileSync(join(work, `ref-${c}.aci`), spawnSync(c, ['-c'], { input: plain }).stdout);
    same(['validate', `ref-${c}.aci`], [], 0);
    same(['cat-manifest', `ref-${c}.aci`], [], 0);
  }
});

test('validate: types, layouts, manifests, directories and errors', async () => {
  layout('lay');
  writeFileSync(join(work, 'm.json'), MANIFEST);
  writeFileSync(join(work, 'pod.json'), '{"acKind":"PodManifest","acVersion":"0.8.11","apps":[]}');
  writeFileSync(join(work, 'bad.json'), '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"Bad"}');
  writeFileSync(join(work, 'txt'), 'hello');
  writeFileSync(join(work, 'bin'), Buffer.from([0, 1, 2, 3, 4, 5]));
  same(['validate'], [], 1);
  same(['validate', 'nonexist'], [], 1);
  same(['validate', 'm.json', 'pod.json', 'lay'], [], 0);
  same(['-debug', 'validate', 'm.json', 'pod.json', 'lay'], [], 0);
  same(['validate', '--type=layout', 'lay'], [], 0);
  same(['validate', '--type=manifest', 'lay'], [], 1);
  same(['validate', '--type=appimage', 'lay'], [], 1);
  same(['validate', '--type=foo', 'm.json'], [], 1);
  same(['validate', 'bin'], [], 1);
  same(['validate', '--type=appimage', 'txt'], [], 1);
  same(['validate', '--type=appimage', 'bin'], [], 1);
  // Invalid manifests: same status; our message names the field.
  for (const f of ['bad.json', 'txt']) {
    const r = run('ref', ['validate', f]);
    const o = run('ours', ['validate', f]);
    assert.equal(o.status, r.status, f);
    assert.equal(o.stdout, '');
    assert.ok(o.stderr.startsWith(r.stderr.split(':').slice(0, 2).join(':')), `${o.stderr} vs ${r.stderr}`);
  }
  // Malformed archives: both exit 1 with "<file>: error validating: …" (texts differ).
  const cases: Record<string, Buffer> = {
    'two.aci': await tarOf([{ name: 'rootfs', type: 'directory' }, { name: 'manifest', body: MANIFEST }, { name: 'manifest', body: MANIFEST }]),
    'nomanifest.aci': await tarOf([{ name: 'rootfs', type: 'directory' }]),
    'norootfs.aci': await tarOf([{ name: 'manifest', body: MANIFEST }]),
    'notjson.aci': await tarOf([{ name: 'rootfs', type: 'directory' }, { name: 'manifest', body: '{{' }]),
    'dup.aci': await tarOf([{ name: 'rootfs', type: 'directory' }, { name: 'rootfs/a' }, { name: 'rootfs/a' }, { name: 'manifest', body: MANIFEST }]),
    'escape.aci': await tarOf([{ name: 'rootfs', type: 'directory' }, { name: 'etc/passwd' }, { name: 'manifest', body: MANIFEST }]),
  };
  const big = await tarOf([{ name: 'rootfs', type: 'directory' }, { name: 'rootfs/big', body: 'x'.repeat(20000) }, { name: 'manifest', body: MANIFEST }]);
  cases['truncated.aci'] = big.subarray(0, 5000);
  for (const [name, bytes] of Object.entries(cases)) {
    writeFileSync(join(work, name), bytes);
    const r = run('ref', ['validate', name]);
    const o = run('ours', ['validate', name]);
    assert.equal(r.status, 1, `reference on ${name}: ${r.stderr}`);
    assert.equal(o.status, 1, `ours on ${name}: ${o.stderr}`);
    assert.match(o.stderr, new RegExp(`^${name}: error validating: .+\\n$`));
  }
  // One file failing does not stop the others (exit 1 at the end), like the reference.
  same(['validate', 'm.json'], [], 0);
  const r = run('ref', ['validate', 'two.aci', 'm.json']);
  const o = run('ours', ['validate', 'two.aci', 'm.json']);
  assert.deepEqual([o.status, o.stdout], [r.status, r.stdout]);
});

test('cat-manifest: errors; an image without manifest prints nothing and succeeds', async () => {
  writeFileSync(join(work, 'txt'), 'hello');
  writeFileSync(join(work, 'bin'), Buffer.from([0, 1, 2, 3]));
  writeFileSync(join(work, 'nomanifest.aci'), await tarOf([{ name: 'rootfs', type: 'directory' }]));
  same(['cat-manifest'], [], 1);
  same(['cat-manifest', 'a', 'b'], [], 1);
  same(['cat-manifest', 'missing.aci'], [], 1);
  same(['cat-manifest', 'txt'], [], 1);
  same(['cat-manifest', 'bin'], [], 1);
  same(['cat-manifest', 'nomanifest.aci'], [], 0);
});

test('patch-manifest: every edit flag gives the same manifest as the reference', () => {
  layout('lay');
  rmSync(join(work, 'in.aci'), { force: true });
  assert.equal(run('ref', ['build', 'lay', 'in.aci']).status, 0);
  const edits: string[][] = [
    ['--name=example.com/renamed'],
    ['--exec=/bin/sh -c true'],
    ['--user=1000', '--group=1000', '--supplementary-groups=10,20'],
    ['--capability=CAP_NET_ADMIN,CAP_SYS_ADMIN'],
    ['--revoke-capability=CAP_MKNOD'],
    ['--mounts=work,path=/opt,readOnly=true:cache,path=/c'],
    ['--ports=www,protocol=tcp,port=8080:dns,protocol=udp,port=53'],
    ['--isolators=resource/cpu,request=50m,limit=100m:os/linux/no-new-privileges,true'],
    ['--seccomp-mode=retain,errno=ENOSYS', '--seccomp-set=read,write'],
    ['-no-compression', '-user', 'nobody'],
  ];
  for (const e of edits) {
    for (const tool of ['ref', 'ours'] as const) {
      const out = `p-${tool}.aci`;
      rmSync(join(work, out), { force: true });
      const r = run(tool, ['patch-manifest', ...e, 'in.aci', out]);
      assert.deepEqual([r.status, r.stdout, r.stderr], [0, '', ''], `${tool} ${e.join(' ')}`);
      assert.equal(run('ref', ['validate', out]).status, 0);
    }
    const a = run('ref', ['cat-manifest', 'p-ref.aci']);
    const b = run('ref', ['cat-manifest', 'p-ours.aci']);
    if (e.some((f) => f.startsWith('--isolators=')))
      // The reference builds a resource isolator's value from a Go map (url.Values): its key order
      // is random (measured: "limit" first about 1 run in 12). Same content, any order.
      assert.deepStrictEqual(JSON.parse(b.stdout), JSON.parse(a.stdout), `manifest after ${e.join(' ')}`);
    else assert.equal(b.stdout, a.stdout, `manifest after ${e.join(' ')}`);
    assert.equal(readFileSync(join(work, 'p-ours.aci'))[0] === 0x1f, !e.includes('-no-compression'));
  }
  // --manifest replaces it verbatim.
  writeFileSync(join(work, 'new.json'), MANIFEST.replace('example.com/cli', 'example.com/other'));
  for (const tool of ['ref', 'ours'] as const) {
    rmSync(join(work, `m-${tool}.aci`), { force: true });
    assert.equal(run(tool, ['patch-manifest', '--manifest=new.json', 'in.aci', `m-${tool}.aci`]).status, 0);
  }
  assert.equal(run('ours', ['cat-manifest', 'm-ours.aci']).stdout, run('ref', ['cat-manifest', 'm-ref.aci']).stdout);
});

test('patch-manifest: failures remove the output; --replace rewrites in place', () => {
  layout('lay');
  rmSync(join(work, 'in.aci'), { force: true });
  assert.equal(run('ref', ['build', 'lay', 'in.aci']).status, 0);
  writeFileSync(join(work, 'txt'), 'hello');
  same(['patch-manifest'], [], 1);
  same(['patch-manifest', 'in.aci'], [], 1);
  same(['patch-manifest', '--replace', '--overwrite', 'in.aci'], [], 1);
  same(['patch-manifest', '--replace', 'in.aci', 'x.aci'], [], 1);
  same(['patch-manifest', '--manifest=x', '--name=a', 'in.aci', 'o.aci'], ['o.aci'], 1);
  same(['patch-manifest', 'in.aci', 'o.tar'], [], 1);
  same(['patch-manifest', 'missing.aci', 'o.aci'], ['o.aci'], 1);
  same(['patch-manifest', 'txt', 'o.aci'], ['o.aci'], 1);
  same(['patch-manifest', '--manifest=nope.json', 'in.aci', 'o.aci'], ['o.aci'], 1);
  writeFileSync(join(work, 'exists.aci'), 'x');
  same(['patch-manifest', 'in.aci', 'exists.aci'], [], 1);
  for (const bad of [['--name=Bad'], ['--seccomp-set=read'], ['--capability=A', '--revoke-capability=B'], ['--ports=www,port=99999'], ['--isolators=os/linux/seccomp-retain-set,set=a']]) {
    for (const tool of ['ref', 'ours'] as const) {
      rmSync(join(work, 'o.aci'), { force: true });
      const r = run(tool, ['patch-manifest', ...bad, 'in.aci', 'o.aci']);
      assert.equal(r.status, 1, `${tool} ${bad.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^patch-manifest: Unable to read in\.aci: /);
      assert.ok(!existsSync(join(work, 'o.aci')), `${tool} removed the output after ${bad.join(' ')}`);
    }
  }
  // --replace: the file is patched in place (mode 0600, as the reference's temp file).
  for (const tool of ['ref', 'ours'] as const) {
    const f = `r-${tool}.aci`;
    writeFileSync(join(work, f), readFileSync(join(work, 'in.aci')));
    const r = run(tool, ['patch-manifest', '--replace', '--user=42', f]);
    assert.deepEqual([r.status, r.stderr], [0, '']);
    assert.equal(statSync(join(work, f)).mode & 0o777, 0o600);
  }
  assert.equal(run('ref', ['cat-manifest', 'r-ours.aci']).stdout, run('ref', ['cat-manifest', 'r-ref.aci']).stdout);
  assert.match(run('ref', ['cat-manifest', 'r-ours.aci']).stdout, /"user":"42"/);
});

test('discover: argument errors like the reference (no network needed)', () => {
  same(['discover'], [], 0);
  // The reference panics on a malformed name (exit 2); we exit 2 with a message instead.
  const o = run('ours', ['discover', 'a:b:c']);
  assert.equal(o.status, run('ref', ['discover', 'a:b:c']).status);
  assert.match(o.stderr, /^a:b:c: malformed app string/);
});
