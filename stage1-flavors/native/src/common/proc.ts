/** Small process helpers over /proc and the real tools (Node has no exec, setns or wait(-1)). */
import * as fs from 'node:fs';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import * as path from 'node:path';
import { constants as osConstants } from 'node:os';
import { Stage1Error } from './log.js';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie is not alive for our purposes.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Children of `pid` (via /proc/<pid>/task/*\/children). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        const s = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
        if (s) out.push(...s.split(/\s+/).map(Number));
      } catch {
        /* thread gone */
      }
    }
  } catch {
    /* process gone */
  }
  return out;
}

/** Process group of `pid` (field 5 of /proc/<pid>/stat). */
export function pgidOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[2]);
  } catch {
    return undefined;
  }
}

/** Resolve an executable on PATH (or an absolute path), like `which`. */
export function which(name: string, envPath = process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'): string | undefined {
  if (name.includes('/')) return fs.existsSync(name) ? name : undefined;
  for (const d of [...envPath.split(':'), '/usr/sbin', '/sbin']) {
    if (!d) continue;
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function requireTool(name: string): string {
  const p = which(name);
  if (!p) throw new Stage1Error(`required tool "${name}" not found on PATH`);
  return p;
}

/** Run a tool synchronously; throws with its stderr on failure. */
export function runTool(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (r.error) throw new Stage1Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Stage1Error(`${path.basename(cmd)} ${args.join(' ')}: ${String(r.stderr ?? '').trim() || `exit status ${r.status ?? r.signal}`}`);
  }
  return String(r.stdout ?? '');
}

/** Convert a child's exit to a shell-style status (128+signal when killed). */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal) return 128 + ((osConstants.signals as Record<string, number>)[signal] ?? 0);
  return 254;
}
