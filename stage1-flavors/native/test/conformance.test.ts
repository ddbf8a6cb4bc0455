/** The stage1 conformance suite for the native flavor, with runc (the default) and with crun. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import { stage1Suite, type TestPod } from '@rkt/testkit';
import { NativeStage1 } from '../src/index.js';
import { ALL_CAPS, DEFAULT_CAPS } from '../src/common/caps.js';
import { nativeLeftovers } from './helpers.js';

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-native-aci-'));
after(() => fs.rmSync(out, { recursive: true, force: true }));

for (const runtime of (process.env.NATIVE_RUNTIMES?.split(',') ?? ['runc', 'crun']) as ('runc' | 'crun')[]) {
  stage1Suite(`native`, () => new NativeStage1({ runtime }).buildImage(path.join(out, runtime)), {
    title: `native (${runtime})`,
    runArgs: ['--net=host'],
    pidFile: 'ppid',
    supports: {
      multiApp: true,
      statusFiles: true,
      readOnlyRootfs: true,
      eventHandlers: true,
      supervisorReady: true,
      runPrepare: true,
      isolation: { allCaps: ALL_CAPS, defaultCaps: DEFAULT_CAPS },
    },
    leftovers: (pod: TestPod) => nativeLeftovers(pod.uuid, pod.dir),
  });
}
