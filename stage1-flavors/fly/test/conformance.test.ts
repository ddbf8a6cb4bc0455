/** The stage1 conformance suite for fly: one app, no supervisor-status, no event handlers. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import { stage1Suite } from '@rkt/testkit';
import { FlyStage1 } from '../src/index.js';

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-fly-aci-'));
after(() => fs.rmSync(out, { recursive: true, force: true }));

stage1Suite('fly', () => new FlyStage1().buildImage(out), {
  pidFile: 'pid',
  supports: { multiApp: false, statusFiles: true, readOnlyRootfs: true, eventHandlers: false, supervisorReady: false, runPrepare: false },
});
