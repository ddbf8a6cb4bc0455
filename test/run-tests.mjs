#!/usr/bin/env node
// The test command: every *.test.ts of every package and of test/, run by node's test runner
// through tsx, files in parallel (2 at a time on the 2-core machines). `node test/run-tests.mjs
// <substring>...` runs only the files whose path contains one of the substrings.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const SKIP = new Set(['node_modules', 'dist', 'fixtures', '.git']);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = [];
for (const top of ['core', 'plugins', 'stage1-flavors', 'net-plugins', 'test']) {
  try {
    walk(join(root, top), files);
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
}
const filters = process.argv.slice(2);
const selected = files
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (selected.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.RKT_TEST_CONCURRENCY ?? '2';
// A TAP copy of the results gives the closing "N passed, N failed" line.
const tapDir = mkdtempSync(join(tmpdir(), 'rkt-tests-'));
const tapFile = join(tapDir, 'results.tap');
const child = spawn(
  process.execPath,
  [
    '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...selected,
  ],
  { cwd: root, stdio: 'inherit' },
);
child.on('exit', (code, signal) => {
  let summary = '';
  try {
    const tap = readFileSync(tapFile, 'utf8');
    const num = (k) => Number((tap.match(new RegExp(`^# ${k} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
    summary = `${num('pass')} passed, ${num('fail') + num('cancelled')} failed, ${num('skipped') + num('todo')} skipped`;
  } catch {
    summary = 'no test results';
  }
  rmSync(tapDir, { recursive: true, force: true });
  console.log(`\n${summary}`);
  process.exit(signal ? 1 : (code ?? 1));
});
