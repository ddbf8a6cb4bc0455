import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, rktBin, rktDirs, run } from '../lib/cli.js';

const trace = join(repoRoot, 'test', 'fixtures', 'trace-modules.mjs');

function loadedModules(args: string[]): { result: ReturnType<typeof run>; modules: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'rkt-trace-'));
  const file = join(dir, 'modules.txt');
  writeFileSync(file, '');
  try {
    const result = run(process.execPath, ['--import', trace, rktBin, ...args], { env: { ...process.env, RKT_TRACE_FILE: file } });
    return { result, modules: readFileSync(file, 'utf8').split('\n').filter(Boolean) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const heavy = (mods: string[], name: string) => mods.filter((m) => m.includes(`/node_modules/${name}/`));

test('rkt version prints rkt-style lines that Nomad parses, from the fast path', () => {
  const { result, modules } = loadedModules(['version']);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^rkt Version: 1\.30\.0\nappc Version: 0\.8\.11\nNode Version: v\d+\.\d+\.\d+\nNode OS\/Arch: linux\/\w+\nFeatures: [-+]TPM [-+]SDJOURNAL\n$/);
  assert.match(result.stdout, /rkt [vV]ersion[:]? (\d[.\d]+)/);
  assert.deepEqual(heavy(modules, '@oclif'), [], 'rkt version must not load oclif');
  assert.deepEqual(heavy(modules, 'tsyringe'), [], 'rkt version must not load the DI container');
  assert.ok(modules.length < 15, `fast path loads few modules (${modules.length})`);
});

test('the oclif version command prints exactly what the fast path prints', () => {
  const fast = run(rktBin, ['version']);
  const viaOclif = run(process.execPath, [
    '--input-type=module',
    '-e',
    `const { execute } = await import('@oclif/core/execute');
     await execute({ dir: ${JSON.stringify('file://' + join(repoRoot, 'core/cli/bin/run.js'))}, args: ['version'] });`,
  ], { cwd: join(repoRoot, 'core/cli') });
  assert.equal(viaOclif.status, 0, viaOclif.stderr);
  assert.equal(viaOclif.stdout, fast.stdout);
  const json = JSON.parse(run(rktBin, ['version', '--json']).stdout);
  assert.equal(json.rktVersion, '1.30.0');
  assert.equal(json.appcVersion, '0.8.11');
});

test('rkt help lists the commands and does not boot the DI container', () => {
  const { result, modules } = loadedModules(['help']);
  assert.equal(result.status, 0, result.stderr);
  for (const cmd of ['config', 'plugins', 'version']) assert.match(result.stdout, new RegExp(`\\n  ${cmd}\\s`));
  assert.deepEqual(heavy(modules, 'tsyringe'), []);
  assert.deepEqual(heavy(modules, 'reflect-metadata'), []);
  assert.deepEqual(heavy(modules, 'cosmiconfig'), []);
  // …while a command that needs the engine does boot it (so the check above can fail).
  const dirs = rktDirs();
  try {
    const plugins = loadedModules(['plugins', ...dirs.args()]);
    assert.equal(plugins.result.status, 0, plugins.result.stderr);
    assert.ok(heavy(plugins.modules, 'tsyringe').length > 0);
  } finally {
    dirs.cleanup();
  }
});

test('no command: "missing command" and exit 2, as rkt', () => {
  const r = run(rktBin, []);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /missing command/);
});

test('bad flags exit 254 with rkt-style "<cmd>: <msg>"', () => {
  const r = run(rktBin, ['config', '--bogus']);
  assert.equal(r.status, 254);
  assert.match(r.stderr, /^config: .*--bogus/m);
  const bad = run(rktBin, ['config', '--insecure-options=image,nonsense']);
  assert.equal(bad.status, 254);
  assert.match(bad.stderr, /config: invalid --insecure-options value "nonsense"/);
});

test('rkt config prints the merged system → local → user config in rkt shape', () => {
  const dirs = rktDirs();
  try {
    const user = join(dirs.base, 'user');
    const w = (dir: string, rel: string, obj: unknown) => {
      mkdirSync(join(dir, rel, '..'), { recursive: true });
      writeFileSync(join(dir, rel), JSON.stringify(obj));
    };
    w(dirs.system, 'stage1.d/s.json', { rktKind: 'stage1', rktVersion: 'v1', name: 'coreos.com/rkt/stage1-native', version: '1.30.0' });
    w(dirs.local, 'paths.d/p.json', { rktKind: 'paths', rktVersion: 'v1', data: '/srv/rkt' });
    w(user, 'auth.d/a.json', { rktKind: 'auth', rktVersion: 'v1', domains: ['registry.example'], type: 'oauth', credentials: { token: 'sekrit<>' } });
    const r = run(rktBin, ['config', ...dirs.args(), `--user-config=${user}`]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.startsWith('{\n\t"stage0": [\n\t\t{\n\t\t\t"rktVersion": "v1",'), 'tab-indented like rkt');
    assert.match(r.stdout, /sekrit\\u003c\\u003e/, 'Go-style escaping of < and >');
    const json = JSON.parse(r.stdout);
    assert.deepEqual(json.stage0.map((e: { rktKind: string }) => e.rktKind), ['auth', 'paths', 'stage1']);
    assert.equal(json.stage0[1].data, '/srv/rkt');
    assert.equal(json.stage0[2].name, 'coreos.com/rkt/stage1-native');
    const compact = run(rktBin, ['config', ...dirs.args(), '--pretty-print=false']);
    assert.equal(compact.status, 0, compact.stderr);
    assert.equal(compact.stdout.trim().split('\n').length, 1);
    w(dirs.local, 'paths.d/bad.json', { rktKind: 'stage1', rktVersion: 'v1' });
    const bad = run(rktBin, ['config', ...dirs.args()]);
    assert.equal(bad.status, 254);
    assert.match(bad.stderr, /^config: invalid configuration file ".*bad\.json"/m);
  } finally {
    dirs.cleanup();
  }
});
