#!/usr/bin/env node
// Builds the built-in demo image: a busybox ACI made by the project itself (@rkt/appc writeAci).
// Usage: node config/demo-image.mjs OUT_DIR  → OUT_DIR/demo.aci
import { copyFileSync, createWriteStream, lutimesSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeAci } from '@rkt/appc';

const out = resolve(process.argv[2] ?? 'build/demo');
const layout = join(out, 'layout');
rmSync(layout, { recursive: true, force: true });
for (const d of ['bin', 'etc', 'tmp', 'root']) mkdirSync(join(layout, 'rootfs', d), { recursive: true });
copyFileSync('/bin/busybox', join(layout, 'rootfs', 'bin', 'busybox'));
for (const applet of ['sh', 'echo', 'cat', 'ls', 'id', 'hostname', 'uname', 'sleep', 'true', 'false', 'env', 'ps', 'wc'])
  symlinkSync('busybox', join(layout, 'rootfs', 'bin', applet));
writeFileSync(join(layout, 'rootfs', 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
writeFileSync(join(layout, 'rootfs', 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
const arch = { x64: 'amd64', arm64: 'aarch64' }[process.arch] ?? process.arch;
const manifest = {
  acKind: 'ImageManifest',
  acVersion: '0.8.11',
  name: 'example.com/rkt-ts-demo',
  labels: [
    { name: 'version', value: '1.0.0' },
    { name: 'os', value: 'linux' },
    { name: 'arch', value: arch },
  ],
  app: {
    exec: ['/bin/sh', '-c', 'echo "Hello from a rkt-ts pod: app $AC_APP_NAME, uid $(id -u), $(uname -s) $(uname -m)"'],
    user: '0',
    group: '0',
    environment: [{ name: 'GREETING', value: 'hello' }],
  },
  annotations: [{ name: 'authors', value: 'rkt-ts' }],
};
writeFileSync(join(layout, 'manifest'), JSON.stringify(manifest, null, 2));
// Fixed times: the same checkout always builds the same ImageID.
const FIXED = new Date('2020-01-01T00:00:00Z');
const touch = (p) => {
  for (const e of readdirSync(p, { withFileTypes: true })) {
    if (e.isDirectory()) touch(join(p, e.name));
    lutimesSync(join(p, e.name), FIXED, FIXED);
  }
};
touch(layout);
const file = join(out, 'demo.aci');
const result = await writeAci(layout, createWriteStream(file), { compression: 'gzip', ownerRoot: true, imageId: true, manifestMtime: FIXED });
console.log(file);
if (result.imageId) console.error(`demo image: ${result.imageId.slice(0, 39)}…`);
