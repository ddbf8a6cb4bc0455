/** The fly flavor as a `Stage1` contribution. */
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Stage1 } from '@rkt/api';
import { nodeEntryScript, vendoredPath, writeStage1Aci, type RootfsEntry } from '@rkt/stage1-native/image';

export const FLY_INTERFACE_VERSION = 5;
export const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
const PKG = '@rkt/stage1-fly';
const NATIVE = '@rkt/stage1-native';

export class FlyStage1 implements Stage1 {
  readonly id = 'fly';
  readonly interfaceVersions = [FLY_INTERFACE_VERSION] as const;
  readonly imageFileName = 'stage1-fly.aci';

  async buildImage(outDir: string): Promise<string> {
    // The shared stage1 library is vendored next to the flavor, where node's resolution finds it.
    const nativeRoot = path.dirname(createRequire(import.meta.url).resolve(`${NATIVE}/package.json`));
    const mod = (n: string) => vendoredPath(PKG, `dist/entry/${n}.js`);
    const entries: RootfsEntry[] = [
      { type: 'file', path: '/run', mode: 0o755, data: nodeEntryScript('fly', 'run', mod('run')) },
      { type: 'file', path: '/enter', mode: 0o755, data: nodeEntryScript('fly', 'enter', mod('enter')) },
      { type: 'file', path: '/gc', mode: 0o755, data: nodeEntryScript('fly', 'gc', mod('gc')) },
      { type: 'file', path: '/stop', mode: 0o755, data: nodeEntryScript('fly', 'stop', mod('stop')) },
      { type: 'symlink', path: '/flavor', target: 'fly' },
      { type: 'dir', path: '/opt/stage2', mode: 0o755 },
      { type: 'dir', path: '/rkt/status', mode: 0o755 },
      { type: 'dir', path: '/rkt/env', mode: 0o755 },
    ];
    return writeStage1Aci(
      {
        flavor: 'fly',
        interfaceVersion: FLY_INTERFACE_VERSION,
        entrypoints: { run: '/run', enter: '/enter', gc: '/gc', stop: '/stop' },
        // rkt fly semantics: pods always share the host's network; stage0 sets up no pod network.
        annotations: [{ name: 'rkt-ts.io/stage1/network', value: 'host' }],
        entries,
        vendor: [
          { name: PKG, root: PACKAGE_ROOT },
          { name: NATIVE, root: nativeRoot },
        ],
      },
      outDir,
    );
  }
}
