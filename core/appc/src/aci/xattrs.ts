/**
 * Extended attributes of a whole tree, read with ONE `getfattr -R` process (Debian package
 * `attr`). Node has no xattr API and a native addon is not worth it for this: one process per
 * build costs a few milliseconds, one per file would cost seconds.
 *
 * `system.*` (ACLs) and `security.selinux` (a host label) are left out, as GNU tar's --xattrs does.
 */
import { spawn } from 'node:child_process';

export type XattrMap = Map<string, Map<string, Buffer>>;

export const DEFAULT_XATTR_FILTER = (name: string): boolean =>
  !name.startsWith('system.') && name !== 'security.selinux';

/** Undo getfattr's quoting of file names (`\ooo` octal escapes, `\\` written as `\134`). */
function unquote(b: Buffer): Buffer {
  if (!b.includes(0x5c)) return b;
  const out: number[] = [];
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x5c && i + 3 < b.length && /^[0-7]{3}$/.test(b.subarray(i + 1, i + 4).toString('latin1'))) {
      out.push(parseInt(b.subarray(i + 1, i + 4).toString('latin1'), 8));
      i += 3;
    } else out.push(b[i]!);
  }
  return Buffer.from(out);
}

/** Parse `getfattr --absolute-names -d -e hex` output into path -> (attribute -> value). */
export function parseGetfattr(out: Buffer, root: string, filter = DEFAULT_XATTR_FILTER): XattrMap {
  const result: XattrMap = new Map();
  const prefix = root.endsWith('/') ? root : root + '/';
  let current: Map<string, Buffer> | undefined;
  let start = 0;
  while (start < out.length) {
    let end = out.indexOf(0x0a, start);
    if (end < 0) end = out.length;
    const line = out.subarray(start, end);
    start = end + 1;
    if (line.length === 0) continue;
    if (line.subarray(0, 8).toString('latin1') === '# file: ') {
      const path = unquote(line.subarray(8)).toString('utf8');
      const rel = path === root || path === prefix.slice(0, -1) ? '' : path.startsWith(prefix) ? path.slice(prefix.length) : undefined;
      current = undefined;
      if (rel !== undefined) {
        current = new Map();
        result.set(rel, current);
      }
      continue;
    }
    if (!current) continue;
    const s = line.toString('latin1');
    const eq = s.indexOf('=');
    const name = Buffer.from(eq < 0 ? s : s.slice(0, eq), 'latin1').toString('utf8');
    if (!filter(name)) continue;
    const v = eq < 0 ? '' : s.slice(eq + 1);
    let value: Buffer;
    if (v.startsWith('0x')) value = Buffer.from(v.slice(2), 'hex');
    else if (v.startsWith('0s')) value = Buffer.from(v.slice(2), 'base64');
    else if (v.startsWith('"') && v.endsWith('"')) value = unquote(Buffer.from(v.slice(1, -1), 'latin1'));
    else value = Buffer.alloc(0);
    current.set(name, value);
  }
  for (const [k, m] of result) if (m.size === 0) result.delete(k);
  return result;
}

export interface XattrReadResult {
  xattrs: XattrMap;
  /** Why some or all attributes could not be read (getfattr missing, unsupported file system…). */
  warning?: string;
}

/** Every extended attribute under `root` (paths relative to it; '' is `root` itself). */
export function readTreeXattrs(root: string, filter = DEFAULT_XATTR_FILTER): Promise<XattrReadResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const errs: Buffer[] = [];
    let child;
    try {
      child = spawn('getfattr', ['--absolute-names', '-h', '-R', '-P', '-d', '-m', '-', '-e', 'hex', '--', root], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      resolve({ xattrs: new Map(), warning: `extended attributes not read: ${(e as Error).message}` });
      return;
    }
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => errs.push(c));
    child.on('error', (e: NodeJS.ErrnoException) => {
      resolve({
        xattrs: new Map(),
        warning:
          e.code === 'ENOENT'
            ? 'extended attributes not preserved: getfattr is not installed (Debian package "attr")'
            : `extended attributes not read: ${e.message}`,
      });
    });
    child.on('close', (code) => {
      const xattrs = parseGetfattr(Buffer.concat(chunks), root, filter);
      const err = Buffer.concat(errs).toString('utf8').trim();
      resolve(code === 0 ? { xattrs } : { xattrs, warning: `some extended attributes not read: ${err.split('\n')[0] ?? `getfattr exited ${code}`}` });
    });
  });
}
