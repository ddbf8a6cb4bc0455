// The manifest corpus (test/appc-corpus) judged by us and by the reference `actool validate`:
// the verdicts must be equal, equal to the corpus index, and our problems must name the path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkManifest } from '../src/schema/manifest.js';

const corpus = fileURLToPath(new URL('../../../test/appc-corpus/', import.meta.url));
const ACTOOL = '/usr/bin/actool';
const index = JSON.parse(readFileSync(join(corpus, 'index.json'), 'utf8')) as { file: string; valid: boolean; path?: string }[];

function reference(file: string): { valid: boolean; stderr: string } {
  const r = spawnSync(ACTOOL, ['validate', '--type=manifest', file], { encoding: 'utf8' });
  return { valid: r.status === 0, stderr: r.stderr };
}

test('the corpus has at least 50 manifests, all listed in index.json', () => {
  const files = readdirSync(corpus).filter((f) => f.endsWith('.json') && f !== 'index.json');
  assert.ok(files.length >= 50, `only ${files.length} corpus files`);
  assert.deepEqual(new Set(files), new Set(index.map((e) => e.file)));
  assert.ok(index.some((e) => e.valid) && index.some((e) => !e.valid));
  assert.ok(index.some((e) => e.file.startsWith('pod-')) && index.some((e) => e.file.startsWith('image-')));
});

test('the reference actool is installed', () => {
  assert.ok(existsSync(ACTOOL), `${ACTOOL} is required to compare verdicts`);
});

for (const entry of index) {
  test(`corpus ${entry.file}: our verdict equals actool's (${entry.valid ? 'valid' : 'invalid'})`, () => {
    const file = join(corpus, entry.file);
    const ref = reference(file);
    const ours = checkManifest(readFileSync(file));
    assert.equal(ref.valid, entry.valid, `actool disagrees with the corpus index: ${ref.stderr}`);
    assert.equal(ours.problems.length === 0, ref.valid, `ours: ${JSON.stringify(ours.problems)}; actool: ${ref.stderr}`);
    if (!entry.valid) {
      assert.ok(
        ours.problems.some((p) => p.path === entry.path),
        `expected a problem at ${JSON.stringify(entry.path)}, got ${JSON.stringify(ours.problems)}`,
      );
      for (const p of ours.problems) {
        assert.ok(p.rule.length > 0 && p.message.length > 0);
        if (p.path !== '') assert.ok(p.message.startsWith(`${p.path}: `), `message does not name its path: ${p.message}`);
      }
    } else {
      assert.ok(ours.manifest, 'a valid manifest decodes');
    }
  });
}
