/** Small test images built from the host's static busybox with GNU tar. */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './cli.js';

export interface TestImageOptions {
  name: string;
  version?: string;
  exec?: string[];
  extraLabels?: Record<string, string>;
  /** Extra files under rootfs/. */
  files?: Record<string, string>;
}

export function appcArch(): string {
  return ({ x64: 'amd64', arm64: 'aarch64' } as Record<string, string>)[process.arch] ?? process.arch;
}

/** Write `<dir>/<file>` as an uncompressed ACI with busybox at /bin/busybox. */
export function buildBusyboxAci(outFile: string, o: TestImageOptions): void {
  const work = mkdtempSync(join(tmpdir(), 'rkt-img-'));
  try {
    mkdirSync(join(work, 'rootfs', 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(work, 'rootfs', 'bin', 'busybox'));
    for (const [p, content] of Object.entries(o.files ?? {})) {
      mkdirSync(join(work, 'rootfs', p, '..'), { recursive: true });
      writeFileSync(join(work, 'rootfs', p), content);
    }
    const labels = [
      ...(o.version ? [{ name: 'version', value: o.version }] : []),
      { name: 'os', value: 'linux' },
      { name: 'arch', value: appcArch() },
      ...Object.entries(o.extraLabels ?? {}).map(([name, value]) => ({ name, value })),
    ];
    const manifest = {
      acKind: 'ImageManifest',
      acVersion: '0.8.11',
      name: o.name,
      labels,
      app: { exec: o.exec ?? ['/bin/busybox', 'true'], user: '0', group: '0' },
    };
    writeFileSync(join(work, 'manifest'), JSON.stringify(manifest));
    execFileSync('tar', ['-C', work, '-cf', outFile, 'manifest', 'rootfs']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The stage1 flavor's image in `dir` (as `stage1-<flavor>.aci`): a copy of the one the set-up built
 * into the CLI's stage1 images dir when that is newer than the flavor's build, else built afresh.
 * Building compiles the flavor's C programs; the test files share the set-up's build instead.
 */
export function stage1Image(flavor: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const built = join(repoRoot, 'core', 'cli', 'stage1-images', `stage1-${flavor}.aci`);
  const dist = join(repoRoot, 'stage1-flavors', flavor, 'dist', 'build-image.js');
  const out = join(dir, `stage1-${flavor}.aci`);
  // What the image is made of: the flavor's build and C sources, and the shared stage1 library.
  const inputs = [flavor, 'native'].flatMap((f) => ['dist', 'supervisor', 'helper'].map((d) => join(repoRoot, 'stage1-flavors', f, d)));
  if (existsSync(built) && statSync(built).mtimeMs >= Math.max(...inputs.map(newestMtime))) {
    copyFileSync(built, out);
    return out;
  }
  return execFileSync(process.execPath, [dist, dir], { encoding: 'utf8' }).trim();
}

function newestMtime(p: string): number {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((n) => newestMtime(join(p, n))));
}
