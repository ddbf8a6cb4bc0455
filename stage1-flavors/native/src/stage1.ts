/** The native flavor as a `Stage1` contribution: its id, interface version and image builder. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Stage1 } from '@rkt/api';
import { HOSTS_FALLBACK } from './common/dns.js';
import { RUN_PREPARE_ANNOTATION, nodeEntryScript, vendoredPath, writeStage1Aci, type RootfsEntry } from './image/index.js';

export const NATIVE_INTERFACE_VERSION = 6;
export const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
const PKG = '@rkt/stage1-native';

export interface NativeOptions {
  /** Default OCI runtime baked into the image (`runc` unless set); overridable at run time. */
  runtime?: 'runc' | 'crun';
  /** C compiler for the supervisor (default `gcc`). */
  cc?: string;
}

/**
 * Compile the pod supervisor with the host C compiler, statically, so that the binary in the
 * stage1 image depends on nothing from the host.
 */
export function compileSupervisor(outFile: string, cc = 'gcc'): void {
  compileStatic(path.join(PACKAGE_ROOT, 'supervisor', 'rkt-supervisor.c'), outFile, cc);
}

/** Compile one C file into a static, stripped binary (`extraArgs`, e.g. `-I dir`, go first). */
export function compileStatic(src: string, outFile: string, cc = 'gcc', extraArgs: string[] = []): void {
  const r = spawnSync(cc, ['-O2', '-Wall', '-static', '-s', ...extraArgs, '-o', outFile, src], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`compiling ${path.basename(src)} with ${cc} failed: ${r.error?.message ?? r.stderr}`);
  }
}

export class NativeStage1 implements Stage1 {
  readonly id = 'native';
  readonly interfaceVersions = [NATIVE_INTERFACE_VERSION] as const;
  readonly imageFileName = 'stage1-native.aci';
  constructor(private readonly opts: NativeOptions = {}) {}

  async buildImage(outDir: string): Promise<string> {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-stage1-native-'));
    try {
      const sup = path.join(tmp, 'rkt-supervisor');
      compileSupervisor(sup, this.opts.cc);
      const mod = (n: string) => vendoredPath(PKG, `dist/entry/${n}.js`);
      const entries: RootfsEntry[] = [
        {
          type: 'file',
          path: '/run',
          mode: 0o755,
          // Prepare in node, then become `rkt-supervisor launch` → unshare → supervisor (PID 1).
          data: nodeEntryScript('native', 'run', mod('run'), 'exec "$d/rkt-supervisor" launch "$d/rkt/flavor-state/launch" ppid "$d/rkt/flavor-state/cgroups"'),
        },
        { type: 'file', path: '/enter', mode: 0o755, data: nodeEntryScript('native', 'enter', mod('enter')) },
        { type: 'file', path: '/gc', mode: 0o755, data: nodeEntryScript('native', 'gc', mod('gc')) },
        { type: 'file', path: '/stop', mode: 0o755, data: nodeEntryScript('native', 'stop', mod('stop')) },
        { type: 'file', path: '/rkt-supervisor', mode: 0o755, data: fs.readFileSync(sup) },
        { type: 'symlink', path: '/flavor', target: 'native' },
        { type: 'file', path: '/etc/hosts-fallback', data: HOSTS_FALLBACK },
        { type: 'file', path: '/etc/native.json', data: JSON.stringify({ runtime: this.opts.runtime ?? 'runc' }) + '\n' },
        { type: 'dir', path: '/opt/stage2', mode: 0o755 },
        { type: 'dir', path: '/rkt/status', mode: 0o755 },
        { type: 'dir', path: '/rkt/env', mode: 0o755 },
      ];
      return await writeStage1Aci(
        {
          flavor: 'native',
          interfaceVersion: NATIVE_INTERFACE_VERSION,
          entrypoints: { run: '/run', enter: '/enter', gc: '/gc', stop: '/stop' },
          entries,
          vendor: [{ name: PKG, root: PACKAGE_ROOT }],
          annotations: [{ name: RUN_PREPARE_ANNOTATION, value: mod('run-prepare') }],
        },
        outDir,
      );
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
}
