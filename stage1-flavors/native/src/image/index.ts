/**
 * Building a stage1 ACI (build time only; uses tar-stream, so it is not part of the vendored
 * runtime). The image holds the entrypoint wrappers, the flavor's compiled JavaScript vendored as
 * `lib/node_modules/<package>/{package.json,dist/**.js}`, and flavor files (binaries, stubs).
 *
 * How a TypeScript entrypoint becomes executable: stage0 executes `<pod>/stage1/rootfs/<entry>`
 * on the host with cwd = the pod dir. Each entry is a two-line POSIX sh wrapper that execs the
 * host's `node` on the vendored module. Vendoring the compiled packages (instead of bundling)
 * needs no new build dependency, and the stage1 code imports nothing but Node built-ins and its
 * own files, so the copy is self-contained: the image does not refer back to the rkt-ts install.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pack } from 'tar-stream';

export type RootfsEntry =
  | { type: 'file'; path: string; data: Buffer | string; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'dir'; path: string; mode?: number };

export interface Stage1ImageSpec {
  flavor: string;
  version?: string;
  interfaceVersion: number;
  /** Entrypoint paths inside the rootfs, e.g. `{ run: '/run', … }`. */
  entrypoints: Record<'run' | 'enter' | 'gc' | 'stop', string>;
  entries: RootfsEntry[];
  /** Packages whose package.json and dist/**.js are vendored under /lib/node_modules. */
  vendor: { name: string; root: string }[];
  /** More image annotations, e.g. `rkt-ts.io/stage1/network` (see docs/extension-points/stage1.md). */
  annotations?: { name: string; value: string }[];
}

export const RKT_VERSION = '1.30.0';

/**
 * Names the ES module (a path in the rootfs) whose `prepare(argv, podPath)` is the run entrypoint's
 * first step, so that stage0 can run it in its own process (docs/extension-points/stage1.md).
 */
export const RUN_PREPARE_ANNOTATION = 'rkt-ts.io/stage1/run-prepare';

export function aciArch(arch = process.arch): string {
  const m: Record<string, string> = { x64: 'amd64', arm64: 'aarch64', ia32: 'i386', ppc64: 'ppc64le', arm: 'armv7l' };
  return m[arch] ?? arch;
}

export function stage1Manifest(spec: Stage1ImageSpec): object {
  return {
    acKind: 'ImageManifest',
    acVersion: '0.8.11',
    name: `coreos.com/rkt/stage1-${spec.flavor}`,
    labels: [
      { name: 'version', value: spec.version ?? RKT_VERSION },
      { name: 'arch', value: aciArch() },
      { name: 'os', value: 'linux' },
    ],
    annotations: [
      { name: 'coreos.com/rkt/stage1/run', value: spec.entrypoints.run },
      { name: 'coreos.com/rkt/stage1/enter', value: spec.entrypoints.enter },
      { name: 'coreos.com/rkt/stage1/gc', value: spec.entrypoints.gc },
      { name: 'coreos.com/rkt/stage1/stop', value: spec.entrypoints.stop },
      { name: 'coreos.com/rkt/stage1/interface-version', value: String(spec.interfaceVersion) },
      ...(spec.annotations ?? []),
    ],
  };
}

/** Path of the vendored module `rel` (relative to the package root) inside the rootfs. */
export function vendoredPath(pkg: string, rel: string): string {
  return path.posix.join('/lib/node_modules', pkg, rel);
}

/** The sh wrapper that runs a vendored module with the host's node. */
export function nodeEntryScript(flavor: string, name: string, modulePath: string, after?: string): string {
  const rel = modulePath.replace(/^\//, '');
  const node = `\${RKT_STAGE1_NODE:-$(command -v node || echo ${shq(process.execPath)})}`;
  const lines = ['#!/bin/sh', `# rkt-ts stage1-${flavor} ${name} entrypoint: the flavor's compiled TypeScript, run by the host's node.`, 'd=${0%/*}'];
  if (after) {
    // RKT_TS_STAGE1_PREPARED=1: stage0 already ran this step in its own process (the module is the
    // image's `rkt-ts.io/stage1/run-prepare` annotation), so only what follows is left.
    lines.push(
      'if [ "${RKT_TS_STAGE1_PREPARED:-}" = 1 ]; then',
      '  unset RKT_TS_STAGE1_PREPARED',
      'else',
      `  node=${node}`,
      `  "$node" "$d/${rel}" "$@" || exit $?`,
      'fi',
      after,
    );
  } else lines.push(`node=${node}`, `exec "$node" "$d/${rel}" "$@"`);
  return lines.join('\n') + '\n';
}

export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function vendorEntries(name: string, root: string): RootfsEntry[] {
  const out: RootfsEntry[] = [];
  const base = vendoredPath(name, '');
  out.push({ type: 'file', path: path.posix.join(base, 'package.json'), data: fs.readFileSync(path.join(root, 'package.json')) });
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = path.posix.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && e.name.endsWith('.js')) out.push({ type: 'file', path: path.posix.join(base, r), data: fs.readFileSync(path.join(root, r)) });
    }
  };
  if (!fs.existsSync(path.join(root, 'dist'))) throw new Error(`${name}: ${root}/dist is missing (build with tsc -b first)`);
  walk('dist');
  return out;
}

const MTIME = new Date('2020-02-01T00:00:00Z');

/** Write `<outDir>/stage1-<flavor>.aci` (an uncompressed tar) and return its path. */
export async function writeStage1Aci(spec: Stage1ImageSpec, outDir: string): Promise<string> {
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `stage1-${spec.flavor}.aci`);
  const entries: RootfsEntry[] = [...spec.entries];
  for (const v of spec.vendor) entries.push(...vendorEntries(v.name, v.root));
  // Every parent directory, once, before its children.
  const dirs = new Map<string, number>();
  for (const e of entries) {
    if (e.type === 'dir') dirs.set(e.path, e.mode ?? 0o755);
    let d = path.posix.dirname(e.path);
    while (d !== '/' && d !== '.') {
      if (!dirs.has(d)) dirs.set(d, 0o755);
      d = path.posix.dirname(d);
    }
  }
  const tmp = `${file}.tmp-${process.pid}`;
  const p = pack();
  const out = fs.createWriteStream(tmp);
  const done = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
    p.on('error', reject);
  });
  p.pipe(out);
  const add = (header: Parameters<typeof p.entry>[0], data?: Buffer | string) =>
    new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (data !== undefined) p.entry(header, data, cb);
      else p.entry(header, cb);
    });
  const common = { uid: 0, gid: 0, mtime: MTIME };
  await add({ ...common, name: 'manifest', mode: 0o644 }, JSON.stringify(stage1Manifest(spec)));
  await add({ ...common, name: 'rootfs', type: 'directory', mode: 0o755 });
  for (const [d, mode] of [...dirs].sort(([a], [b]) => a.localeCompare(b))) {
    await add({ ...common, name: 'rootfs' + d, type: 'directory', mode });
  }
  for (const e of entries) {
    if (e.type === 'dir') continue;
    if (e.type === 'symlink') await add({ ...common, name: 'rootfs' + e.path, type: 'symlink', linkname: e.target, mode: 0o777 });
    else await add({ ...common, name: 'rootfs' + e.path, mode: e.mode ?? 0o644 }, e.data);
  }
  p.finalize();
  await done;
  fs.renameSync(tmp, file);
  return file;
}
