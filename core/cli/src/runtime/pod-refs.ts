/**
 * What pods reference in the store, read from the pod directories as rkt lays them out:
 * `stage1TreeStoreID` and `appsinfo/<app>/treeStoreID` in prepare, prepared, run and
 * exited-garbage pods; images of running pods from their pod manifests.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const REFERENCING = ['prepare', 'prepared', 'run', 'exited-garbage'];

function readTrimmed(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function podTreeReferences(dataDir: string): { trees: Set<string>; runningImages: Set<string> } {
  const trees = new Set<string>();
  const runningImages = new Set<string>();
  for (const state of REFERENCING) {
    const dir = join(dataDir, 'pods', state);
    if (!existsSync(dir)) continue;
    for (const uuid of readdirSync(dir)) {
      const pod = join(dir, uuid);
      const s1 = readTrimmed(join(pod, 'stage1TreeStoreID'));
      if (s1) trees.add(s1);
      const appsinfo = join(pod, 'appsinfo');
      if (existsSync(appsinfo))
        for (const app of readdirSync(appsinfo)) {
          const t = readTrimmed(join(appsinfo, app, 'treeStoreID'));
          if (t) trees.add(t);
        }
      if (state === 'run') {
        try {
          const manifest = JSON.parse(readFileSync(join(pod, 'pod'), 'utf8')) as { apps?: { image?: { id?: string } }[] };
          for (const a of manifest.apps ?? []) if (a.image?.id) runningImages.add(a.image.id);
        } catch {
          // a pod without a readable manifest references no image
        }
      }
    }
  }
  return { trees, runningImages };
}
