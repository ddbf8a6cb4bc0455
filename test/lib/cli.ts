/** Helpers for end-to-end tests that drive the real binaries. */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const rktBin = join(repoRoot, 'node_modules', '.bin', 'rkt');
export const actoolBin = join(repoRoot, 'node_modules', '.bin', 'actool');

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(bin: string, args: string[], opts: SpawnSyncOptions = {}): RunResult {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 120_000, ...opts });
  if (r.error) throw r.error;
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** A fresh set of rkt directories (data, system, local config) removed by `cleanup`. */
export function rktDirs(prefix = 'rkt-e2e-') {
  const base = mkdtempSync(join(tmpdir(), prefix));
  const dirs = {
    base,
    data: join(base, 'data'),
    system: join(base, 'system'),
    local: join(base, 'local'),
    pluginData: join(base, 'plugin-data'),
    args(): string[] {
      return [`--dir=${dirs.data}`, `--system-config=${dirs.system}`, `--local-config=${dirs.local}`];
    },
    env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
      return { ...process.env, RKT_DATA_DIR: dirs.pluginData, RKT_SETTINGS: '', ...extra };
    },
    cleanup(): void {
      rmSync(base, { recursive: true, force: true });
    },
  };
  return dirs;
}

/** Like `run`, without blocking the event loop (needed when the test process serves HTTP). */
export function runAsync(bin: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, args, { env: opts.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolvePromise({ status, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}
