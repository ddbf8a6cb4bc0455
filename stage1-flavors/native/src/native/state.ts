/** What the native run entrypoint records for enter, stop and gc (in the pod's flavor-state dir). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson } from '../common/pod.js';
import type { PodDir } from '../common/pod.js';
import { Stage1Error } from '../common/log.js';
import { which } from '../common/proc.js';

export type RuntimeName = 'runc' | 'crun';

export interface NativeState {
  uuid: string;
  runtime: RuntimeName;
  runtimePath: string;
  /** The runtime's state dir (`--root`), private to the pod. */
  runtimeRoot: string;
  /** `/rkt/<uuid>` in every cgroup hierarchy. */
  cgroupBase: string;
  net: 'host' | 'none' | 'contained';
  apps: { name: string; cid: string; bundle: string }[];
}

export const stateFile = (pod: PodDir) => path.join(pod.flavorState, 'state.json');

export function readState(pod: PodDir): NativeState | undefined {
  if (!fs.existsSync(stateFile(pod))) return undefined;
  return readJson(stateFile(pod)) as NativeState;
}

/**
 * The OCI runtime: `RKT_STAGE1_NATIVE_RUNTIME`, else `runtime` of `<local-config>/stage1-native.json`,
 * else the image's default (`/etc/native.json`, set when the image was built), else runc.
 */
export function chooseRuntime(stage1Rootfs: string, localConfig: string | undefined): { name: RuntimeName; path: string } {
  let name: string | undefined = process.env.RKT_STAGE1_NATIVE_RUNTIME || undefined;
  for (const f of [path.join(localConfig ?? '/etc/rkt', 'stage1-native.json'), path.join(stage1Rootfs, 'etc', 'native.json')]) {
    if (name) break;
    if (fs.existsSync(f)) {
      const v = (readJson(f) as { runtime?: unknown }).runtime;
      if (typeof v === 'string' && v) name = v;
    }
  }
  name ??= 'runc';
  if (name !== 'runc' && name !== 'crun') throw new Stage1Error(`unsupported OCI runtime "${name}" (runc or crun)`);
  const p = which(name);
  if (!p) throw new Stage1Error(`OCI runtime "${name}" not found on PATH`);
  return { name, path: p };
}

export function containerId(index: number, app: string): string {
  return `${index}-${app.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}
