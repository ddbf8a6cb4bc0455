/** The nspawn flavor as a `Stage1` contribution: its id, interface version and image builder. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Stage1 } from '@rkt/api';
import { compileStatic, compileSupervisor } from '@rkt/stage1-native';
import { HOSTS_FALLBACK, LINUX_SYSCALLS } from '@rkt/stage1-native/common';
import { RUN_PREPARE_ANNOTATION, nodeEntryScript, vendoredPath, writeStage1Aci, type RootfsEntry } from '@rkt/stage1-native/image';

export const NSPAWN_INTERFACE_VERSION = 6;
export const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
const PKG = '@rkt/stage1-nspawn';
const NATIVE = '@rkt/stage1-native';

export interface NspawnOptions {
  /** C compiler for the supervisor and the app helper (default `gcc`). */
  cc?: string;
}

/**
 * The C header the app helper resolves seccomp syscall names with: every name of the shared
 * syscall list that this architecture's <sys/syscall.h> defines.
 */
export function syscallTableHeader(names: readonly string[] = LINUX_SYSCALLS): string {
  const rows = names.map((n) => `#ifdef SYS_${n}\n  { "${n}", SYS_${n} },\n#endif`);
  return `static const struct { const char *n; int nr; } SYSCALLS[] = {\n${rows.join('\n')}\n  { "", -1 },\n};\n`;
}

/** The installed @rkt/stage1-native package (vendored into the image; its C headers). */
const nativeRoot = () => path.dirname(createRequire(import.meta.url).resolve(`${NATIVE}/package.json`));

/** Compile the per-app helper (rkt-appexec) statically, with the supervisor's token reader. */
export function compileAppHelper(outFile: string, cc = 'gcc'): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-appexec-'));
  try {
    fs.writeFileSync(path.join(dir, 'syscall-table.h'), syscallTableHeader());
    const include = ['-I', dir, '-I', path.join(nativeRoot(), 'supervisor')];
    compileStatic(path.join(PACKAGE_ROOT, 'helper', 'rkt-appexec.c'), outFile, cc, include);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export class NspawnStage1 implements Stage1 {
  readonly id = 'nspawn';
  readonly interfaceVersions = [NSPAWN_INTERFACE_VERSION] as const;
  readonly imageFileName = 'stage1-nspawn.aci';
  constructor(private readonly opts: NspawnOptions = {}) {}

  async buildImage(outDir: string): Promise<string> {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-stage1-nspawn-'));
    try {
      const sup = path.join(tmp, 'rkt-supervisor');
      const helper = path.join(tmp, 'rkt-appexec');
      compileSupervisor(sup, this.opts.cc);
      compileAppHelper(helper, this.opts.cc);
      const mod = (n: string) => vendoredPath(PKG, `dist/entry/${n}.js`);
      const entries: RootfsEntry[] = [
        {
          type: 'file',
          // /init as in rkt's nspawn flavors: nspawn mounts a tmpfs on the container's /run.
          path: '/init',
          mode: 0o755,
          // Prepare in node, then become `rkt-supervisor launch` → systemd-nspawn → supervisor (PID 1).
          data: nodeEntryScript('nspawn', 'run', mod('run'), [
            // without machined, the launcher (this shell, then rkt-supervisor) joins the pod's cgroups
            'j="$d/rkt/flavor-state/join-cgroups"',
            'if [ -f "$j" ]; then while IFS= read -r f; do echo $$ 2>/dev/null >"$f" || :; done <"$j"; fi',
            'exec "$d/rkt-supervisor" launch "$d/rkt/flavor-state/launch" ppid',
          ].join('\n')),
        },
        { type: 'file', path: '/enter', mode: 0o755, data: nodeEntryScript('nspawn', 'enter', mod('enter')) },
        { type: 'file', path: '/gc', mode: 0o755, data: nodeEntryScript('nspawn', 'gc', mod('gc')) },
        { type: 'file', path: '/stop', mode: 0o755, data: nodeEntryScript('nspawn', 'stop', mod('stop')) },
        { type: 'file', path: '/rkt-supervisor', mode: 0o755, data: fs.readFileSync(sup) },
        { type: 'file', path: '/rkt-appexec', mode: 0o755, data: fs.readFileSync(helper) },
        { type: 'symlink', path: '/flavor', target: 'nspawn' },
        { type: 'file', path: '/etc/hosts-fallback', data: HOSTS_FALLBACK },
        // systemd-nspawn refuses a directory without /usr ("doesn't look like it has an OS tree").
        { type: 'dir', path: '/usr', mode: 0o755 },
        { type: 'dir', path: '/opt/stage2', mode: 0o755 },
        { type: 'dir', path: '/rkt/status', mode: 0o755 },
        { type: 'dir', path: '/rkt/env', mode: 0o755 },
      ];
      return await writeStage1Aci(
        {
          flavor: 'nspawn',
          interfaceVersion: NSPAWN_INTERFACE_VERSION,
          entrypoints: { run: '/init', enter: '/enter', gc: '/gc', stop: '/stop' },
          entries,
          vendor: [
            { name: PKG, root: PACKAGE_ROOT },
            // The shared stage1 library, next to the flavor, where node's resolution finds it.
            { name: NATIVE, root: nativeRoot() },
          ],
          annotations: [{ name: RUN_PREPARE_ANNOTATION, value: mod('run-prepare') }],
        },
        outDir,
      );
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
}
