/** The pod's network as systemd-nspawn sees it. */
import * as fs from 'node:fs';
import { Stage1Error, type PodDir } from '@rkt/stage1-native/common';
import type { NspawnArgvInput } from './argv.js';

/** The pod's network: host, none, or the netns stage0 prepared (its path in `$pod/netns`). */
export function podNetwork(pod: PodDir, net: string[]): NspawnArgvInput['network'] {
  if (net.length === 1 && net[0] === 'host') return { mode: 'host' };
  if (net.length === 1 && net[0] === 'none') return { mode: 'none' };
  let p = '';
  try {
    p = fs.readFileSync(pod.file('netns'), 'utf8').trim();
  } catch {
    /* none prepared */
  }
  if (p && p.startsWith('/') && fs.existsSync(p)) return { mode: 'netns', path: p };
  throw new Stage1Error(
    `failed to setup network: --net=${net.join(',')} needs a network namespace prepared by stage0 ($pod/netns); use --net=host or --net=none`,
  );
}
