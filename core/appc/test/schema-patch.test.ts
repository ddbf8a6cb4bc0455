import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInvalidArgument } from '@rkt/api';
import { parseImageManifest } from '../src/schema/manifest.js';
import { patchManifest, patchManifestBytes, type PatchManifestOptions } from '../src/schema/patch.js';

const BASE =
  '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/app","app":{"exec":["/x"],"user":"0","group":"0",' +
  '"isolators":[{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_A"]}},{"name":"os/linux/seccomp-retain-set","value":{"set":["read"]}},' +
  '{"name":"resource/memory","value":{"limit":"1G"}}],"ports":[{"name":"p","protocol":"tcp","port":80}]}}';
const NOAPP = '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/noapp"}';
const base = () => parseImageManifest(BASE);
const fails = (f: () => unknown, re: RegExp) =>
  assert.throws(f, (e: unknown) => {
    assert.ok(isInvalidArgument(e), String(e));
    assert.match((e as Error).message, re);
    return true;
  });

test('exec, user, group, name, supplementary groups', () => {
  const m = patchManifest(base(), { exec: '/bin/sh -c  x', user: '1000', group: 'users', name: 'example.com/new', supplementaryGroups: '1,+2,-3' });
  assert.deepEqual(m.app!.exec, ['/bin/sh', '-c', '', 'x']);
  assert.equal(m.app!.user, '1000');
  assert.equal(m.app!.group, 'users');
  assert.equal(m.name, 'example.com/new');
  assert.deepEqual(m.app!.supplementaryGIDs, [1, 2, -3]);
  fails(() => patchManifest(base(), { name: 'Bad' }), /ACIdentifier/);
  fails(() => patchManifest(base(), { supplementaryGroups: '1,x' }), /invalid supplementary group "x"/);
});

test('an app is needed for app edits unless exec creates one; the result must be valid', () => {
  const noapp = parseImageManifest(NOAPP);
  fails(() => patchManifest(noapp, { user: 'x' }), /no app in the supplied manifest/);
  fails(() => patchManifest(noapp, { exec: '/x' }), /user is required/);
  const m = patchManifest(noapp, { exec: '/x', user: '0', group: '0' });
  assert.deepEqual(m.app!.exec, ['/x']);
});

test('capabilities replace both capability isolators; seccomp replaces both seccomp isolators', () => {
  const c = patchManifest(base(), { capability: 'CAP_X,CAP_Y' });
  assert.deepEqual(c.app!.isolators!.map((i) => i.name), ['os/linux/seccomp-retain-set', 'resource/memory', 'os/linux/capabilities-retain-set']);
  assert.deepEqual(c.app!.isolators![2]!.value, { set: ['CAP_X', 'CAP_Y'] });
  const r = patchManifest(base(), { revokeCapability: 'CAP_MKNOD' });
  assert.equal(r.app!.isolators!.at(-1)!.name, 'os/linux/capabilities-remove-set');
  fails(() => patchManifest(base(), { capability: 'A', revokeCapability: 'B' }), /conflicting capabilities/);
  const s = patchManifest(base(), { seccompMode: 'remove,errno=EPERM', seccompSet: 'reboot,kexec_load' });
  assert.deepEqual(s.app!.isolators!.at(-1), { name: 'os/linux/seccomp-remove-set', value: { set: ['reboot', 'kexec_load'], errno: 'EPERM' } });
  assert.equal(s.app!.isolators!.filter((i) => i.name.includes('seccomp')).length, 1);
  fails(() => patchManifest(base(), { seccompSet: 'x' }), /without --seccomp-mode/);
  fails(() => patchManifest(base(), { seccompMode: 'block', seccompSet: 'x' }), /unknown seccomp mode block/);
  fails(() => patchManifest(base(), { seccompMode: 'remove,errno=eperm', seccompSet: 'x' }), /errno/);
  fails(() => patchManifest(base(), { seccompMode: 'remove,x=y', seccompSet: 'x' }), /invalid seccomp-mode optional argument/);
});

test('mounts and ports are appended in the reference formats', () => {
  const m = patchManifest(base(), { mounts: 'db,path=/db,readOnly=true:cache,path=/c', ports: 'www,protocol=tcp,port=8080,socketActivated=true' });
  assert.deepEqual(m.app!.mountPoints, [{ name: 'db', path: '/db', readOnly: true }, { name: 'cache', path: '/c' }]);
  assert.deepEqual(m.app!.ports![1], { name: 'www', protocol: 'tcp', port: 8080, count: 1, socketActivated: true });
  fails(() => patchManifest(base(), { mounts: 'db' }), /path must be set/);
  fails(() => patchManifest(base(), { mounts: 'db,path=/x,foo=1' }), /unknown mountpoint parameter "foo"/);
  fails(() => patchManifest(base(), { mounts: 'db,path=/x,readOnly=yes' }), /ParseBool/);
  fails(() => patchManifest(base(), { mounts: 'db,path' }), /without a value/);
  fails(() => patchManifest(base(), { ports: 'www,port=70000' }), /out of range/);
  fails(() => patchManifest(base(), { ports: 'www,port=65535,count=2' }), /end of port range/);
});

test('isolators: resource kinds, no-new-privileges, oom-score-adj; others refused', () => {
  const m = patchManifest(base(), { isolators: 'resource/cpu,request=50m,limit=100m:os/linux/no-new-privileges,true:os/linux/oom-score-adj,5' });
  assert.deepEqual(m.app!.isolators!.slice(3), [
    { name: 'resource/cpu', value: { request: '50m', limit: '100m' } },
    { name: 'os/linux/no-new-privileges', value: true },
    { name: 'os/linux/oom-score-adj', value: 5 },
  ]);
  fails(() => patchManifest(base(), { isolators: 'resource/cpu,limit=1K' }), /suffix/);
  fails(() => patchManifest(base(), { isolators: 'resource/block-iops,limit=1' }), /default must be true/);
  fails(() => patchManifest(base(), { isolators: 'os/linux/seccomp-retain-set,set=a' }), /not supported for patching/);
  fails(() => patchManifest(base(), { isolators: 'os/linux/oom-score-adj,5:os/linux/oom-score-adj,6' }), /too many instances/);
  fails(() => patchManifest(base(), { isolators: 'os/linux/oom-score-adj,5000' }), /between -1000 and 1000/);
});

test('patchManifestBytes: verbatim --manifest, incompatibilities, compact output', () => {
  const out = new TextDecoder().decode(patchManifestBytes(BASE, { ports: 'www,protocol=tcp,port=8080' }));
  assert.ok(out.includes('{"name":"www","protocol":"tcp","port":8080,"count":0,"socketActivated":false}'), out);
  assert.equal(new TextDecoder().decode(patchManifestBytes(BASE, { manifest: 'anything at all' })), 'anything at all');
  fails(() => patchManifestBytes(BASE, { manifest: '{}', user: 'x' }), /incompatible/);
  fails(() => patchManifestBytes('{"acKind":"ImageManifest"}', { manifest: '{}' }), /invalid ImageManifest/);
});

test('output equals the reference actool patch-manifest byte for byte', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rkt-patch-'));
  try {
    mkdirSync(join(dir, 'layout', 'rootfs'), { recursive: true });
    writeFileSync(join(dir, 'layout', 'manifest'), BASE);
    const run = (args: string[]) => spawnSync('/usr/bin/actool', args, { cwd: dir, encoding: 'utf8' });
    assert.equal(run(['build', '--overwrite', 'layout', 'base.aci']).status, 0);
    const cases: Array<[PatchManifestOptions, string[]]> = [
      [{ exec: '/bin/sh -c x', user: '5' }, ['--exec=/bin/sh -c x', '--user=5']],
      [{ capability: 'CAP_X', mounts: 'db,path=/db,readOnly=true' }, ['--capability=CAP_X', '--mounts=db,path=/db,readOnly=true']],
      [{ ports: 'q,protocol=udp,port=53,count=2', supplementaryGroups: '4,5' }, ['--ports=q,protocol=udp,port=53,count=2', '--supplementary-groups=4,5']],
      [{ seccompMode: 'remove,errno=ENOSYS', seccompSet: 'reboot' }, ['--seccomp-mode=remove,errno=ENOSYS', '--seccomp-set=reboot']],
      [{ isolators: 'os/linux/no-new-privileges,true', name: 'example.com/z' }, ['--isolators=os/linux/no-new-privileges,true', '--name=example.com/z']],
    ];
    for (const [opts, flags] of cases) {
      const r = run(['patch-manifest', '--overwrite', '--no-compression', ...flags, 'base.aci', 'out.aci']);
      assert.equal(r.status, 0, r.stderr);
      const cat = run(['cat-manifest', 'out.aci']);
      const reference = cat.stdout.split('\n')[0];
      assert.equal(new TextDecoder().decode(patchManifestBytes(BASE, opts)), reference, JSON.stringify(opts));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
