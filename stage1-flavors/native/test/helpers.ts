import * as fs from 'node:fs';
import * as path from 'node:path';
import { hostHierarchies } from '../src/common/cgroups.js';

/** What a native pod may leave behind: cgroups named after it in any hierarchy, runtime state. */
export function nativeLeftovers(uuid: string, podDir: string): string[] {
  const out: string[] = [];
  for (const h of hostHierarchies()) {
    const d = path.join(h.mountPoint, 'rkt', uuid);
    if (fs.existsSync(d)) out.push(`cgroup ${d}`);
  }
  const rt = path.join(podDir, 'stage1', 'rootfs', 'rkt', 'flavor-state', 'runtime');
  if (fs.existsSync(rt) && fs.readdirSync(rt).length > 0) out.push(`runtime state ${rt}`);
  return out;
}
