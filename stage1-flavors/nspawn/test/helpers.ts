import * as fs from 'node:fs';
import * as path from 'node:path';
import { PodCgroups, hostHierarchies } from '@rkt/stage1-native/common';

/**
 * What an nspawn pod may leave behind: its cgroups (any hierarchy), nspawn's per-machine
 * directories under /run, a journal link, the machine's processes.
 */
export function nspawnLeftovers(uuid: string, podDir: string): string[] {
  const out = new PodCgroups(hostHierarchies(), `/rkt/${uuid}`).subtree().map((d) => `cgroup ${d}`);
  for (const d of ['propagate', 'unix-export']) {
    const p = path.join('/run/systemd/nspawn', d, `rkt-${uuid}`);
    if (fs.existsSync(p)) out.push(`nspawn dir ${p}`);
  }
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes(`--machine=rkt-${uuid}`) || cmd.includes(path.join(podDir, 'stage1'))) out.push(`process ${p}: ${cmd.replace(/\0/g, ' ')}`);
    } catch {
      /* gone */
    }
  }
  return out;
}
