/** Small test images built from the host's static busybox with GNU tar. */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
