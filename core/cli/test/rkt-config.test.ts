import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authHeadersFor, configToJson, loadRktConfig, readConfigDir } from '../src/runtime/rkt-config.js';
import { parseInsecureOptions } from '../src/runtime/insecure.js';

function layer(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'rkt-cfg-'));
  for (const [rel, content] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

const dirs: string[] = [];
const mk = (f: Record<string, unknown>) => {
  const d = layer(f);
  dirs.push(d);
  return d;
};
test.after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test('system → local → user merge, per key, in rkt order and shape', () => {
  const system = mk({
    'paths.d/p.json': { rktKind: 'paths', rktVersion: 'v1', data: '/sys/data', 'stage1-images': '/sys/s1' },
    'stage1.d/s.json': { rktKind: 'stage1', rktVersion: 'v1', name: 'coreos.com/rkt/stage1-native', version: '1.30.0', location: '/usr/lib/rkt/stage1-images/stage1-native.aci' },
    'auth.d/a.json': { rktKind: 'auth', rktVersion: 'v1', domains: ['a.example', 'b.example'], type: 'basic', credentials: { user: 'u', password: 'p' } },
  });
  const local = mk({
    'paths.d/p.json': { rktKind: 'paths', rktVersion: 'v1', data: '/local/data' },
    'stage1.d/s.json': { rktKind: 'stage1', rktVersion: 'v1', name: 'coreos.com/rkt/stage1-fly', version: '1.30.0' },
    'auth.d/a.json': { rktKind: 'auth', rktVersion: 'v1', domains: ['b.example'], type: 'oauth', credentials: { token: 't0k' } },
    'auth.d/d.json': { rktKind: 'dockerAuth', rktVersion: 'v1', registries: ['quay.io'], credentials: { user: 'du', password: 'dp' } },
  });
  const user = mk({ 'stage1.d/s.json': { rktKind: 'stage1', rktVersion: 'v1', location: 'https://example.com/s1.aci' } });
  const cfg = loadRktConfig({ system, local, user });
  assert.deepEqual(cfg.paths, { data: '/local/data', stage1Images: '/sys/s1' });
  assert.deepEqual(cfg.stage1, { name: 'coreos.com/rkt/stage1-fly', version: '1.30.0', location: 'https://example.com/s1.aci' });
  assert.equal(cfg.auth.get('a.example')?.type, 'basic');
  assert.equal(cfg.auth.get('b.example')?.type, 'oauth');
  assert.deepEqual(authHeadersFor(cfg, 'a.example'), { Authorization: 'Basic ' + Buffer.from('u:p').toString('base64') });
  assert.deepEqual(authHeadersFor(cfg, 'b.example'), { Authorization: 'Bearer t0k' });
  assert.deepEqual(authHeadersFor(cfg, 'c.example'), {});
  const out = configToJson(cfg);
  assert.deepEqual(out.stage0.slice(-2), [
    { rktVersion: 'v1', rktKind: 'paths', data: '/local/data', 'stage1-images': '/sys/s1' },
    { rktVersion: 'v1', rktKind: 'stage1', name: 'coreos.com/rkt/stage1-fly', version: '1.30.0', location: 'https://example.com/s1.aci' },
  ]);
  assert.deepEqual(out.stage0[0], { rktVersion: 'v1', rktKind: 'auth', domains: ['a.example'], type: 'basic', credentials: { user: 'u', password: 'p' } });
  assert.ok(out.stage0.some((e) => (e as { rktKind: string }).rktKind === 'dockerAuth'));
});

test('only regular *.json files directly inside the kind directory are read', () => {
  const d = mk({
    'paths.d/notes.txt': 'not json at all',
    'paths.d/sub/deep.json': { rktKind: 'paths', rktVersion: 'v1', data: '/deep' },
    'elsewhere.json': { rktKind: 'paths', rktVersion: 'v1', data: '/elsewhere' },
  });
  symlinkSync(join(d, 'elsewhere.json'), join(d, 'paths.d', 'link.json'));
  assert.equal(readConfigDir(d).paths.data, '');
  assert.deepEqual(readConfigDir(join(d, 'missing')).paths, { data: '', stage1Images: '' });
});

test('errors name the file and the rule', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ 'paths.d/x.json': { rktKind: 'stage1', rktVersion: 'v1' } }, /x\.json.*kinds "paths".*kind "stage1"/],
    [{ 'paths.d/x.json': { rktVersion: 'v1', data: '/a' } }, /x\.json.*no rktKind/],
    [{ 'paths.d/x.json': { rktKind: 'paths', data: '/a' } }, /x\.json.*no rktVersion/],
    [{ 'paths.d/x.json': { rktKind: 'paths', rktVersion: 'v2' } }, /x\.json.*version "v2"/],
    [{ 'paths.d/x.json': { rktKind: 'paths', rktVersion: 'v1', data: 'relative' } }, /x\.json.*"data".*absolute/],
    [{ 'paths.d/a.json': { rktKind: 'paths', rktVersion: 'v1', data: '/a' }, 'paths.d/b.json': { rktKind: 'paths', rktVersion: 'v1', data: '/b' } }, /b\.json.*already specified/],
    [{ 'stage1.d/x.json': { rktKind: 'stage1', rktVersion: 'v1', name: 'n' } }, /x\.json.*version is missing/],
    [{ 'stage1.d/x.json': { rktKind: 'stage1', rktVersion: 'v1', location: 'ftp://h/s1.aci' } }, /x\.json.*"location".*scheme "ftp"/],
    [{ 'stage1.d/x.json': { rktKind: 'stage1', rktVersion: 'v1', location: 'rel/s1.aci' } }, /x\.json.*relative path/],
    [{ 'auth.d/x.json': { rktKind: 'auth', rktVersion: 'v1', domains: ['h'], type: 'basic', credentials: { user: 'u' } } }, /x\.json.*credentials\.password/],
    [{ 'auth.d/x.json': { rktKind: 'auth', rktVersion: 'v1', domains: [], type: 'oauth', credentials: { token: 't' } } }, /x\.json.*"domains"/],
    [{ 'auth.d/x.json': { rktKind: 'auth', rktVersion: 'v1', domains: ['h'], type: 'aws', credentials: {} } }, /x\.json.*aws/],
    [{ 'auth.d/x.json': '{ not json' }, /x\.json/],
    [{ 'auth.d/x.json': '[1,2]' }, /x\.json.*not a JSON object/],
  ];
  for (const [files, re] of cases) {
    const d = mk(files);
    assert.throws(() => readConfigDir(d), (e: Error & { code?: string }) => {
      assert.match(e.message, re);
      assert.equal(e.code, 'E_INVALID_ARGUMENT');
      return true;
    });
  }
});

test('--insecure-options: groups expand as rkt (all-fetch includes pubkey), unknown values are errors', () => {
  assert.deepEqual(parseInsecureOptions('none'), parseInsecureOptions(undefined));
  const f = parseInsecureOptions('all-fetch');
  assert.deepEqual([f.image, f.tls, f.http, f.pubkey, f.capabilities], [true, true, true, true, false]);
  const r = parseInsecureOptions('all-run,ondisk');
  assert.deepEqual([r.capabilities, r.paths, r.seccomp, r.image], [true, true, true, false]);
  assert.equal(Object.values(parseInsecureOptions('all')).every(Boolean), true);
  assert.equal(parseInsecureOptions('image,TLS').tls, true);
  assert.throws(() => parseInsecureOptions('image,bogus'), /"bogus"/);
});
