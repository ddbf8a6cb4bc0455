import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAppcName, parseImageRef, shortImageId } from '../src/runtime/image-ref.js';

test('image arguments are classified in rkt order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rkt-ref-'));
  const cwd = process.cwd();
  try {
    writeFileSync(join(dir, 'plainfile'), 'x');
    process.chdir(dir);
    const kind = (raw: string, schemes?: Set<string>) => parseImageRef(raw, schemes).kind;
    assert.equal(kind('sha512-ab'), 'hash');
    assert.equal(kind('sha512-a'), 'name', 'one hex digit is not a hash');
    assert.equal(kind('/abs/app.aci'), 'path');
    assert.equal(kind('plainfile'), 'path', 'an existing regular file');
    assert.equal(kind('example.com/app:v1'), 'name');
    assert.equal(kind('./app'), 'path');
    assert.equal(kind('sub/app.aci'), 'path');
    assert.equal(kind('example.com/app'), 'name');
    assert.equal(kind('file:///tmp/app.aci'), 'path');
    assert.equal(kind('https://example.com/app.aci'), 'url');
    assert.equal(kind('mirror://example.com/app.aci', new Set(['mirror'])), 'url');
    assert.equal(kind('mirror://example.com/app.aci'), 'name', 'unknown schemes are names, as rkt');
  } finally {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => parseImageRef('https://example.com/app.tgz'), /must name an \.aci file/);
  assert.throws(() => parseImageRef('docker://busybox'), /docker images are not supported/);
  assert.throws(() => parseImageRef(''), /empty image argument/);
  const p = parseImageRef('file:///srv/my%20app.aci');
  assert.deepEqual(p.kind === 'path' && p.path, '/srv/my app.aci');
});

test('appc names: name[:version][,label=value…]', () => {
  assert.deepEqual(parseAppcName('example.com/app:v1.0,os=linux,arch=amd64'), {
    name: 'example.com/app',
    labels: { version: 'v1.0', os: 'linux', arch: 'amd64' },
  });
  assert.deepEqual(parseAppcName('example.com/app'), { name: 'example.com/app', labels: {} });
  assert.throws(() => parseAppcName('a:b:c'), /more than one ":"/);
  assert.throws(() => parseAppcName('a:'), /empty version/);
  assert.throws(() => parseAppcName('a,os'), /label "os" is not name=value/);
  assert.throws(() => parseAppcName('a:v1,version=v2'), /label "version" given twice/);
});

test('short image ids are sha512- plus 32 hex digits', () => {
  const id = 'sha512-' + 'a'.repeat(128);
  assert.equal(shortImageId(id), 'sha512-' + 'a'.repeat(32));
  assert.equal(shortImageId(id, true), id);
});
