/**
 * appc ACE validator conformance (appc-spec.md §8): ace-validator-main (with its pre-start and
 * post-stop handlers) and ace-validator-sidekick run as one pod sharing an empty `database`
 * volume at /db; every mode must print `<mode> OK`.
 *
 * The metadata-service checks of `main` (§8.3 step 9) need `--mds-register`. While this rkt refuses
 * that flag (the metadata service is a separate issue), the pod runs without it and only the
 * metadata errors are tolerated: every other check of every mode must pass, and `main` must have
 * failed for the metadata reason alone. Once `--mds-register` is accepted, all checks must pass.
 *
 * Other flavors add themselves to FLAVORS (each case builds its stage1 with the flavor's
 * build-image script).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rktBin, rktDirs, run, type RunResult } from '../lib/cli.js';
import { aceImages, buildStage1, isMetadataError, parseAceOutput, type AceImages } from '../lib/ace.js';

const FLAVORS = ['native'];

const dirs = rktDirs('rkt-ace-');
const s1dir = join(dirs.base, 'stage1-images');
let images: AceImages;

before(() => {
  images = aceImages();
  for (const f of FLAVORS) buildStage1(f, s1dir);
  mkdirSync(join(dirs.local, 'paths.d'), { recursive: true });
  writeFileSync(join(dirs.local, 'paths.d', 'paths.json'), JSON.stringify({ rktKind: 'paths', rktVersion: 'v1', 'stage1-images': s1dir }));
});

after(() => {
  run(rktBin, ['gc', ...dirs.args(), '--grace-period=0s'], { env: dirs.env() });
  for (const m of readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m): m is string => Boolean(m?.startsWith(dirs.base))).reverse())
    run('umount', ['-l', m]);
  dirs.cleanup();
});

const mdsRefused = (r: RunResult) => r.status === 254 && /--mds-register: the metadata service is not implemented/.test(r.stderr);

/** Run the validator pod on `flavor` as rkt's functional test does; returns the run and whether the MDS was on. */
function runAcePod(flavor: string, extra: string[] = []): { r: RunResult; mds: boolean; uuid: string } {
  const uuidFile = join(dirs.base, `${flavor}.uuid`);
  const args = (mds: boolean) => [
    'run',
    ...dirs.args(),
    '--insecure-options=image',
    `--stage1-from-dir=stage1-${flavor}.aci`,
    '--net=host',
    `--mds-register=${mds}`,
    `--uuid-file-save=${uuidFile}`,
    '--volume=database,kind=empty',
    ...extra,
    images.main,
    images.sidekick,
  ];
  let mds = true;
  let r = run(rktBin, args(true), { env: dirs.env(), timeout: 90_000 });
  if (mdsRefused(r)) {
    mds = false;
    r = run(rktBin, args(false), { env: dirs.env(), timeout: 90_000 });
  }
  return { r, mds, uuid: readFileSync(uuidFile, 'utf8') };
}

for (const flavor of FLAVORS) {
  test(`${flavor}: the appc ACE validator passes (pre-start, main, sidekick, post-stop)`, (t) => {
    const { r, mds, uuid } = runAcePod(flavor);
    const report = parseAceOutput(r.stdout, r.stderr);
    const detail = `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
    // every mode ran exactly once; pre-start first, post-stop last
    assert.deepEqual(report.modes.map((m) => m.mode).sort(), ['main', 'poststop', 'prestart', 'sidekick'], detail);
    assert.equal(report.modes[0]!.mode, 'prestart', detail);
    assert.equal(report.modes.at(-1)!.mode, 'poststop', detail);
    const status = (m: string) => report.modes.find((x) => x.mode === m)!.ok;
    for (const m of ['prestart', 'sidekick', 'poststop']) assert.ok(status(m), `${m} FAIL\n${detail}`);
    if (mds) {
      assert.deepEqual(report.errors, [], detail);
      assert.ok(status('main'), detail);
      assert.equal(r.status, 0, detail);
    } else {
      t.diagnostic('metadata-service checks skipped: this rkt refuses --mds-register (metadata service not implemented yet)');
      const others = report.errors.filter((e) => !isMetadataError(e));
      assert.deepEqual(others, [], detail);
      // without a metadata service, main fails for exactly that reason, and rkt run reports it
      assert.deepEqual(report.errors, ['AC_METADATA_URL is not set'], detail);
      assert.equal(status('main'), false);
      assert.equal(r.status, 1, detail);
    }
    const st = run(rktBin, ['status', ...dirs.args(), uuid], { env: dirs.env() });
    assert.match(st.stdout, /^state=exited\n/);
    assert.match(st.stdout, new RegExp(`app-ace-validator-sidekick=0\n`));
    assert.match(st.stdout, new RegExp(`app-ace-validator-main=${mds ? 0 : 1}\n`));
  });
}
