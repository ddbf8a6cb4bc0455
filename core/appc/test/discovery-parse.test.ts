import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInvalidArgument } from '@rkt/api';
import {
  appToString,
  discoveryDataFromMeta,
  discoveryUrl,
  parseAppString,
  renderTemplate,
  walkPrefixes,
} from '../src/discovery/discovery.js';
import { extractAcMeta, unescapeAttr } from '../src/discovery/html.js';

test('app strings: name[:version][,label=value]', () => {
  assert.deepEqual(parseAppString('example.com/app'), { name: 'example.com/app', labels: {} });
  assert.deepEqual(parseAppString('example.com/app:1.0.0'), { name: 'example.com/app', labels: { version: '1.0.0' } });
  assert.deepEqual(parseAppString('example.com/app:1.0.0,channel=alpha,os=linux'), {
    name: 'example.com/app',
    labels: { version: '1.0.0', channel: 'alpha', os: 'linux' },
  });
  assert.deepEqual(parseAppString('example.com/app,label=v1+v2&x'), { name: 'example.com/app', labels: { label: 'v1+v2&x' } });
  assert.deepEqual(parseAppString('example.com/app:'), { name: 'example.com/app', labels: { version: '' } });
  for (const bad of ['example.com/app,os=linux:1', 'a:1:2', 'example.com/app,os', 'Example.com', 'example.com/app,OS=linux', 'x,a=1,a=2', '']) {
    assert.throws(() => parseAppString(bad), (e: unknown) => isInvalidArgument(e), bad);
  }
  assert.equal(appToString({ name: 'a/b', labels: { version: '1', os: 'linux' } }), 'a/b,version=1,os=linux');
});

test('template rendering: textual, every label, incomplete templates detected', () => {
  assert.deepEqual(renderTemplate('https://s/{name}-{version}.{ext}', [['{name}', 'a/b'], ['{version}', '1']]), {
    url: 'https://s/a/b-1.{ext}',
    complete: false,
  });
  assert.deepEqual(renderTemplate('https://s/{os}/{os}', [['{os}', 'linux']]), { url: 'https://s/linux/linux', complete: true });
  assert.equal(renderTemplate('x{}', []).complete, false);
});

test('meta tags: only ac-* meta start tags with "PREFIX URI" content, parsed like an HTML tokenizer', () => {
  const html = `<!DOCTYPE html>
<html><head>
  <title>My app <meta name="ac-discovery" content="example.com https://title/{ext}"></title>
  <!-- <meta name="ac-discovery" content="example.com https://comment/{ext}"> -->
  <script>var s = '<meta name="ac-discovery" content="example.com https://script/{ext}">';</script>
  <meta name="ac-discovery" content="example.com https://storage.example.com/{name}-{version}-{os}-{arch}.{ext}">
  <META NAME=ac-discovery CONTENT='  example.com/a   hdfs://h/{name}.{ext}?a=1&amp;b=2  '/>
  <meta name="ac-discovery-pubkeys" content="example.com https://example.com/pubkeys.gpg">
  <meta name="ac-discovery" content="example.com">
  <meta name="description" content="example.com https://not-ac/{ext}">
  <meta content="example.com https://no-name/{ext}">
  <link name="ac-discovery" content="example.com https://link/{ext}">
</head></html>`;
  assert.deepEqual(extractAcMeta(html), [
    { name: 'ac-discovery', prefix: 'example.com', uri: 'https://storage.example.com/{name}-{version}-{os}-{arch}.{ext}' },
    { name: 'ac-discovery', prefix: 'example.com/a', uri: 'hdfs://h/{name}.{ext}?a=1&b=2' },
    { name: 'ac-discovery-pubkeys', prefix: 'example.com', uri: 'https://example.com/pubkeys.gpg' },
  ]);
  assert.equal(unescapeAttr('a&amp;b&#65;&#x42;&lt&notanentity;&ampx'), 'a&bAB<&notanentity;&ampx');
});

test('endpoints from a page: prefix match, labels substituted, version defaults to latest, missing label skips', () => {
  const meta = extractAcMeta(`
    <meta name="ac-discovery" content="example.com https://storage.example.com/{os}/{arch}/{name}-{version}.{ext}">
    <meta name="ac-discovery" content="example.com https://storage.example.com/{name}-{channel}.{ext}">
    <meta name="ac-discovery" content="example.org https://other/{name}.{ext}">
    <meta name="ac-discovery" content="example.com hdfs://storage.example.com/{name}/{name}.{ext}">
    <meta name="ac-discovery-pubkeys" content="example.com https://example.com/pubkeys.gpg">
    <meta name="ac-discovery-pubkeys" content="example.com/other https://example.com/other.gpg">`);
  const dd = discoveryDataFromMeta(meta, { name: 'example.com/reduce-worker', labels: { os: 'linux', arch: 'amd64', name: 'ignored' } });
  assert.deepEqual(dd.aciEndpoints, [
    {
      aci: 'https://storage.example.com/linux/amd64/example.com/reduce-worker-latest.aci',
      asc: 'https://storage.example.com/linux/amd64/example.com/reduce-worker-latest.aci.asc',
    },
    {
      aci: 'hdfs://storage.example.com/example.com/reduce-worker/example.com/reduce-worker.aci',
      asc: 'hdfs://storage.example.com/example.com/reduce-worker/example.com/reduce-worker.aci.asc',
    },
  ]);
  assert.deepEqual(dd.publicKeys, ['https://example.com/pubkeys.gpg']);
  // prefixes are plain string prefixes, as in the reference (not path-boundary matches)
  const loose = discoveryDataFromMeta(extractAcMeta('<meta name="ac-discovery" content="example.co https://x/{name}.{ext}">'), {
    name: 'example.com/app',
    labels: {},
  });
  assert.equal(loose.aciEndpoints.length, 1);
  const v = discoveryDataFromMeta(meta, { name: 'example.com/w', labels: { version: '1.0.0', os: 'linux', arch: 'arm64', channel: 'beta' } });
  assert.equal(v.aciEndpoints[1]!.aci, 'https://storage.example.com/example.com/w-beta.aci');
  assert.equal(v.aciEndpoints[0]!.aci, 'https://storage.example.com/linux/arm64/example.com/w-1.0.0.aci');
});

test('walk order and discovery URLs', () => {
  assert.deepEqual(walkPrefixes('example.com/project/sub'), ['example.com/project/sub', 'example.com/project', 'example.com']);
  assert.deepEqual(walkPrefixes('example.com'), ['example.com']);
  assert.equal(discoveryUrl('example.com/a/b', 'https'), 'https://example.com/a/b?ac-discovery=1');
  assert.equal(discoveryUrl('example.com', 'http', 8080), 'http://example.com:8080?ac-discovery=1');
});
