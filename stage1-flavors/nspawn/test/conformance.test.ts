/** The stage1 conformance suite for the nspawn flavor (skipped where systemd-nspawn is missing). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe } from 'node:test';
import { stage1Suite } from '@rkt/testkit';
import { ALL_CAPS, DEFAULT_CAPS, which } from '@rkt/stage1-native/common';
import { NspawnStage1 } from '../src/index.js';
import { nspawnLeftovers } from './helpers.js';

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-nspawn-aci-'));
after(() => fs.rmSync(out, { recursive: true, force: true }));

if (which('systemd-nspawn')) {
  stage1Suite('nspawn', () => new NspawnStage1().buildImage(out), {
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
    leftovers: (pod) => nspawnLeftovers(pod.uuid, pod.dir),
  });
} else {
  describe('stage1 conformance: nspawn', { skip: 'systemd-nspawn is not on PATH (Debian: systemd-container)' }, () => undefined);
}
