/** What the nspawn run entrypoint records for enter, stop and gc (in the pod's flavor-state dir). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson, type PodDir } from '@rkt/stage1-native/common';

export interface NspawnState {
  uuid: string;
  machine: string;
  /** Registered with systemd-machined (systemd is PID 1 on the host). */
  registered: boolean;
  /** `/rkt/<uuid>` in every cgroup hierarchy. */
  cgroupBase: string;
  /** The machine id (the UUID without dashes), for the journal link gc removes. */
  machineId: string;
  /** Each app's plan for rkt-appexec, as a path inside the container. */
  apps: { name: string; plan: string }[];
  /** `--private-users`: the container runs in a user namespace mapping 0..count-1 to shift.. */
  privateUsers?: { shift: number; count: number };
}

export const stateFile = (pod: PodDir) => path.join(pod.flavorState, 'state.json');

export function readState(pod: PodDir): NspawnState | undefined {
  if (!fs.existsSync(stateFile(pod))) return undefined;
  return readJson(stateFile(pod)) as NspawnState;
}

/** A host path under the stage1 rootfs as the container sees it. */
export function inContainer(stage1Rootfs: string, hostPath: string): string {
  const rel = path.relative(stage1Rootfs, hostPath);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${hostPath} is outside the stage1 rootfs`);
  return '/' + rel;
}

/** The in-container directory a cgroup hierarchy's pod cgroup is bound to. */
export function cgroupBindDir(mountPoint: string): string {
  return '/rkt/cgroup/' + path.basename(mountPoint).replace(/[^A-Za-z0-9_.=-]/g, '_');
}
