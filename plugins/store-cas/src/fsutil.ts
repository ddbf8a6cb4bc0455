/** Small synchronous file-system helpers shared by the image and tree stores. */
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';

/** fsync a directory so that a rename or create inside it is durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Flush the whole file system holding `path` (syncfs(2) through coreutils `sync -f`). */
export function syncFs(path: string): void {
  const r = spawnSync('sync', ['-f', path], { stdio: 'ignore' });
  if (r.error !== undefined || r.status !== 0) {
    // No `sync -f` (or it failed): fall back to a global sync, which is slower but as durable.
    spawnSync('sync', [], { stdio: 'ignore' });
  }
}

export function mkdirp(dir: string, mode = 0o700): void {
  fs.mkdirSync(dir, { recursive: true, mode });
}

/** Remove a file or tree; a missing path is success (concurrent removers race harmlessly). */
export function removeAll(path: string): void {
  fs.rmSync(path, { recursive: true, force: true, maxRetries: 2 });
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

/** Bytes used by a tree: regular file sizes plus symlink target lengths (hard links counted once). */
export function treeBytes(root: string): number {
  let total = 0;
  const seen = new Set<string>();
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let names: fs.Dirent[];
    try {
      names = fs.readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      if (isErrno(e, 'ENOENT')) continue;
      throw e;
    }
    for (const d of names) {
      const p = `${dir}/${d.name}`;
      if (d.isDirectory()) {
        stack.push(p);
        continue;
      }
      const st = fs.lstatSync(p);
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      total += st.size;
    }
  }
  return total;
}
