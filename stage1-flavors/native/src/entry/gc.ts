/**
 * native `gc [--debug] [--local-config=DIR] <uuid>` (pod already exited, stage0 holds its lock):
 * kills whatever is left in the pod's cgroups, removes the cgroups in every hierarchy, the OCI
 * runtime's state and any mount left under the pod dir. The namespaces went away with their
 * last process (nothing here pins them).
 */
import * as fs from 'node:fs';
import { PodCgroups, hostHierarchies } from '../common/cgroups.js';
import { startGc } from '../common/gc.js';
import { main, Stage1Error } from '../common/log.js';
import { unmountUnder } from '../common/mounts.js';
import { readState } from '../native/state.js';

await main(async () => {
  const { args, log, pod, state } = startGc(process.argv.slice(2), readState);
  const cg = new PodCgroups(hostHierarchies(), state?.cgroupBase ?? `/rkt/${args.uuid}`);
  const left = await cg.cleanup({ timeoutMs: 10000 });
  log.debug(`removed cgroups of pod ${args.uuid}`);
  if (state?.runtimeRoot) fs.rmSync(state.runtimeRoot, { recursive: true, force: true });
  const mounts = unmountUnder(pod.dir, (m) => log.warn(m));
  const problems = [...left.map((d) => `cgroup ${d}`), ...mounts.map((m) => `mount ${m}`)];
  if (problems.length) throw new Stage1Error(`could not clean up: ${problems.join(', ')}`);
  return 0;
});
