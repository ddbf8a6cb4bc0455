import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInvalidArgument } from '@rkt/api';
import {
  checkManifest,
  parseImageManifest,
  parsePodManifest,
  validateImageManifest,
  validatePodManifest,
} from '../src/schema/manifest.js';
import { imageManifestToJson, podManifestToJson } from '../src/schema/serialize.js';
import {
  isACIdentifier,
  isACName,
  labelsToMap,
  parseSemVer,
  sanitizeACIdentifier,
  sanitizeACName,
} from '../src/schema/names.js';
import { parseQuantity, rfc3339Error, httpUrlError } from '../src/schema/values.js';

const img = (extra: Record<string, unknown> = {}) => ({ acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/x', ...extra });
const withApp = (app: Record<string, unknown>) => img({ app: { user: '0', group: '0', ...app } });
const pod = (extra: Record<string, unknown> = {}) => ({ acKind: 'PodManifest', acVersion: '0.8.11', apps: [], ...extra });
const rules = (problems: { rule: string }[]) => problems.map((p) => p.rule);
const at = (problems: { path: string }[]) => problems.map((p) => p.path);

test('AC Identifier and AC Name helpers follow the reference (edges and character class only)', () => {
  assert.ok(isACIdentifier('example.com/app-1_x~y'));
  assert.ok(isACIdentifier('a//b'));
  assert.ok(!isACIdentifier('a//b', true));
  assert.ok(!isACIdentifier(''));
  assert.ok(!isACIdentifier('A'));
  assert.ok(!isACIdentifier('/a'));
  assert.ok(!isACIdentifier(5));
  assert.ok(isACName('a-b'));
  assert.ok(isACName('a--b'));
  assert.ok(!isACName('a--b', true));
  assert.ok(!isACName('a.b'));
  assert.ok(!isACName('-a'));
  assert.equal(sanitizeACName('My App!'), 'my-app');
  assert.equal(sanitizeACName('---'), undefined);
  assert.equal(sanitizeACIdentifier('Example.COM/My App/'), 'example.com/my_app');
  assert.equal(sanitizeACIdentifier('///'), undefined);
});

test('acVersion: semver as go-semver parses it, zero refused, missing refused for images only', () => {
  assert.deepEqual(validateImageManifest(img({ acVersion: '1.0.0-rc1+git' })), []);
  assert.deepEqual(validateImageManifest(img({ acVersion: '01.2.3' })), []);
  for (const v of ['0.8', 'v0.8.11', ' 0.8.11', '0.0.0', '1.2.3-a..b']) {
    assert.deepEqual(at(validateImageManifest(img({ acVersion: v }))), ['acVersion'], v);
  }
  assert.deepEqual(at(validateImageManifest({ acKind: 'ImageManifest', name: 'x' })), ['acVersion']);
  assert.deepEqual(validatePodManifest({ acKind: 'PodManifest' }), []);
  const sv = parseSemVer('1.2.3-alpha.1+b');
  assert.ok(typeof sv !== 'string' && sv.major === 1n && sv.preRelease === 'alpha.1' && sv.metadata === 'b');
});

test('labels: duplicate names, the name "name", os/arch table, arch alone unchecked', () => {
  const l = (labels: unknown) => validateImageManifest(img({ labels }));
  assert.deepEqual(l([{ name: 'os', value: 'linux' }, { name: 'arch', value: 'aarch64' }]), []);
  assert.deepEqual(l([{ name: 'arch', value: 'anything' }]), []);
  assert.deepEqual(rules(l([{ name: 'os', value: 'linux' }, { name: 'arch', value: 'x86_64' }])), ['os-arch']);
  assert.deepEqual(rules(l([{ name: 'os', value: 'windows' }])), ['os-arch']);
  assert.deepEqual(rules(l([{ name: 'version', value: '1' }, { name: 'version', value: '2' }])), ['duplicate']);
  assert.deepEqual(rules(l([{ name: 'name', value: 'x' }])), ['label-name']);
  assert.deepEqual(rules(l([{ name: 'OS', value: 'linux' }])), ['ac-identifier']);
  assert.deepEqual(labelsToMap([{ name: 'a', value: '1' }, { name: 'a', value: '2' }]), new Map([['a', '2']]));
});

test('app: user/group required, workingDirectory absolute, exec may be relative (PATH lookup)', () => {
  assert.deepEqual(validateImageManifest(withApp({ exec: ['sh', '-c', 'x'] })), []);
  assert.deepEqual(at(validateImageManifest(img({ app: { group: '0' } }))), ['app.user']);
  assert.deepEqual(at(validateImageManifest(img({ app: { user: '0' } }))), ['app.group']);
  assert.deepEqual(at(validateImageManifest(withApp({ workingDirectory: 'srv' }))), ['app.workingDirectory']);
  assert.deepEqual(validateImageManifest(withApp({ workingDirectory: '/srv' })), []);
  assert.deepEqual(at(validateImageManifest(withApp({ exec: [1] }))), ['app.exec[0]']);
});

test('app: event handlers, environment, supplementaryGIDs, mount points', () => {
  const v = (app: Record<string, unknown>) => validateImageManifest(withApp(app));
  assert.deepEqual(rules(v({ eventHandlers: [{ name: 'pre-stop', exec: ['/x'] }] })), ['event-handler']);
  assert.deepEqual(rules(v({ eventHandlers: [{ name: 'pre-start' }, { name: 'pre-start' }] })), ['duplicate']);
  assert.deepEqual(rules(v({ environment: [{ name: 'A-B.c', value: '' }] })), []);
  assert.deepEqual(rules(v({ environment: [{ name: '9A', value: '' }] })), ['env-name']);
  assert.deepEqual(rules(v({ environment: [{ name: '', value: '' }] })), ['env-name']);
  assert.deepEqual(rules(v({ environment: [{ name: 'A' }, { name: 'A' }] })), ['duplicate']);
  assert.deepEqual(rules(v({ supplementaryGIDs: [1, 2.5] })), ['type']);
  assert.deepEqual(rules(v({ mountPoints: [{ name: 'db', path: '/db', readOnly: true }] })), []);
  assert.deepEqual(rules(v({ mountPoints: [{ name: 'db_1', path: '/db' }] })), ['ac-name']);
  // the reference does not require mountPoint path; strict mode does
  assert.deepEqual(rules(v({ mountPoints: [{ name: 'db' }] })), []);
  assert.deepEqual(rules(validateImageManifest(withApp({ mountPoints: [{ name: 'db' }] }), { strict: true })), ['required']);
});

test('ports: range, count, name, defaults', () => {
  const v = (ports: unknown) => validateImageManifest(withApp({ ports }));
  assert.deepEqual(v([{ name: 'p', protocol: 'tcp', port: 1, count: 65535 }]), []);
  assert.deepEqual(rules(v([{ name: 'p', protocol: 'tcp', port: 2, count: 65535 }])), ['port-range']);
  assert.deepEqual(rules(v([{ name: 'p', protocol: 'tcp', port: 0 }])), ['port-range']);
  assert.deepEqual(rules(v([{ name: 'p', protocol: 'tcp', port: 65536 }])), ['port-range']);
  assert.deepEqual(rules(v([{ name: 'p', protocol: 'tcp', port: -1 }])), ['type', 'port-range']);
  assert.deepEqual(rules(v([{ name: 'P', protocol: 'tcp', port: 80 }])), ['ac-name']);
  const m = parseImageManifest(withApp({ ports: [{ name: 'p', protocol: 'udp', port: 53 }] }));
  assert.deepEqual(m.app!.ports, [{ name: 'p', protocol: 'udp', port: 53, count: 1, socketActivated: false }]);
});

test('isolators: standard value shapes', () => {
  const v = (name: string, value: unknown) => validateImageManifest(withApp({ isolators: [{ name, value }] }));
  assert.deepEqual(v('resource/cpu', { request: '250m', limit: '500m' }), []);
  assert.deepEqual(v('resource/memory', { request: '500M', limit: '1G' }), []);
  assert.deepEqual(v('resource/memory', { limit: 1073741824 }), []);
  assert.deepEqual(rules(v('resource/memory', { limit: '1K' })), ['quantity']);
  assert.deepEqual(rules(v('resource/memory', { default: true })), ['isolator-value']);
  assert.deepEqual(v('resource/block-bandwidth', { default: true, limit: '2M' }), []);
  assert.deepEqual(rules(v('resource/block-iops', { limit: '2' })), ['isolator-value']);
  assert.deepEqual(rules(v('resource/network-bandwidth', { default: true, request: '1', limit: '2' })), ['isolator-value']);
  assert.deepEqual(v('os/linux/capabilities-remove-set', { set: ['CAP_MKNOD'] }), []);
  assert.deepEqual(rules(v('os/linux/capabilities-retain-set', {})), ['isolator-value']);
  assert.deepEqual(v('os/linux/no-new-privileges', false), []);
  assert.deepEqual(rules(v('os/linux/no-new-privileges', 'yes')), ['type']);
  assert.deepEqual(v('os/linux/seccomp-retain-set', { set: ['@appc.io/all'], errno: '' }), []);
  assert.deepEqual(rules(v('os/linux/seccomp-remove-set', { set: ['reboot'], errno: 'XPERM' })), ['isolator-value']);
  assert.deepEqual(v('os/linux/oom-score-adj', -1000), []);
  assert.deepEqual(rules(v('os/linux/oom-score-adj', -1001)), ['isolator-value']);
  assert.deepEqual(v('os/linux/cpu-shares', 262144), []);
  assert.deepEqual(rules(v('os/linux/cpu-shares', 262145)), ['isolator-value']);
  assert.deepEqual(rules(v('os/linux/selinux-context', { user: 'u', role: 'r:x', type: 't', level: 's0' })), ['isolator-value']);
  assert.deepEqual(v('os/unix/sysctl', { 'net.ipv4.tcp_keepalive_time': '300' }), []);
  assert.deepEqual(rules(v('resource/cpu', null)), ['isolator-value']);
  // unknown isolators: refused inside an app, accepted at pod level (as the reference)
  assert.deepEqual(rules(v('os/linux/apparmor-profile', { profile: 'x' })), ['isolator-unknown']);
  assert.deepEqual(validatePodManifest(pod({ isolators: [{ name: 'os/linux/apparmor-profile', value: { profile: 'x' } }] })), []);
});

test('isolators: repeats and conflicts', () => {
  const v = (isolators: unknown) => validateImageManifest(withApp({ isolators }));
  const oom = { name: 'os/linux/oom-score-adj', value: 1 };
  const cpu = { name: 'resource/cpu', value: { limit: '1' } };
  const retain = { name: 'os/linux/seccomp-retain-set', value: { set: ['read'] } };
  const remove = { name: 'os/linux/seccomp-remove-set', value: { set: ['reboot'] } };
  assert.deepEqual(v([cpu, cpu]), []);
  assert.deepEqual(rules(v([oom, oom])), ['isolator-duplicate']);
  assert.deepEqual(rules(v([retain, remove])), ['isolator-conflict']);
  // pod-level isolators are not set-checked
  assert.deepEqual(validatePodManifest(pod({ isolators: [retain, remove, oom, oom] })), []);
});

test('quantities: integer arithmetic, reference grammar', () => {
  const q = (s: string) => {
    const r = parseQuantity(s);
    assert.ok(typeof r !== 'string', `${s}: ${r}`);
    return r.nanos;
  };
  assert.equal(q('128974848'), q('125952Ki'));
  assert.equal(q('123Mi'), q('128974848'));
  assert.equal(q('0.3'), q('300m'));
  assert.equal(q('1e3'), q('1k'));
  assert.equal(q('100m'), 100_000_000n);
  assert.equal(q('1G'), 1_000_000_000n * 1_000_000_000n);
  for (const bad of ['', '1K', '1x', 'abc', '1e', ' 1', '1..2', '--1']) assert.equal(typeof parseQuantity(bad), 'string', bad);
});

test('annotations: unique identifiers; created, homepage, documentation formats', () => {
  const a = (annotations: unknown) => validateImageManifest(img({ annotations }));
  assert.deepEqual(a([{ name: 'created', value: '2014-10-27T19:32:27.67021798Z' }]), []);
  assert.deepEqual(rules(a([{ name: 'created', value: '2014-10-27' }])), ['date']);
  assert.deepEqual(rules(a([{ name: 'documentation', value: 'mailto:x@y' }])), ['url']);
  assert.deepEqual(rules(a([{ name: 'x', value: '1' }, { name: 'x', value: '1' }])), ['duplicate']);
  assert.equal(rfc3339Error('2016-02-29T23:59:59+01:00'), undefined);
  assert.ok(rfc3339Error('2015-02-29T00:00:00Z'));
  assert.equal(httpUrlError('HTTPS://example.com/a?b#c'), undefined);
  assert.ok(httpUrlError('https://exa mple.com/'));
});

test('dependencies and pathWhitelist', () => {
  const deps = (dependencies: unknown) => validateImageManifest(img({ dependencies }));
  assert.deepEqual(deps([{ imageName: 'example.com/base', imageID: 'sha512-' + 'a'.repeat(128), size: 10 }]), []);
  assert.deepEqual(at(deps([{ imageID: 'sha512-1' }])), ['dependencies[0].imageName']);
  assert.deepEqual(rules(deps([{ imageName: 'x', imageID: 'md5-1' }])), ['image-id']);
  assert.deepEqual(rules(deps([{ imageName: 'x', size: 1.5 }])), ['type']);
  assert.deepEqual(validateImageManifest(img({ pathWhitelist: ['/bin/sh', 'relative'] })), []);
  assert.deepEqual(rules(validateImageManifest(img({ pathWhitelist: ['relative'] }), { strict: true })), ['absolute-path']);
});

test('pod: apps, mounts, volumes, ports, annotations', () => {
  const id = 'sha512-' + 'c'.repeat(128);
  const ok = pod({
    apps: [{ name: 'a', image: { id }, mounts: [{ volume: 'v', path: '/v' }], readOnlyRootFS: true }],
    volumes: [{ name: 'v', kind: 'empty' }],
    ports: [{ name: 'http', hostPort: 80 }],
  });
  const m = parsePodManifest(ok);
  assert.deepEqual(m.volumes, [{ name: 'v', kind: 'empty', mode: '0755', uid: 0, gid: 0 }]);
  assert.equal(m.apps[0]!.readOnlyRootFS, true);
  const v = (extra: Record<string, unknown>) => validatePodManifest(pod(extra));
  assert.deepEqual(rules(v({ apps: [{ name: 'a' }, { name: 'a' }] })), ['duplicate']);
  assert.deepEqual(rules(v({ apps: [{ name: 'a', image: { id: 'a' } }] })), ['image-id']);
  assert.deepEqual(rules(v({ volumes: [{ name: 'v', kind: 'host', source: 'rel' }] })), ['absolute-path']);
  assert.deepEqual(rules(v({ volumes: [{ name: 'v', kind: 'host', source: '/x', uid: 0 }] })), ['volume']);
  assert.deepEqual(rules(v({ volumes: [{ name: 'v', kind: 'empty' }, { name: 'v', kind: 'empty' }] })), ['duplicate']);
  assert.deepEqual(rules(v({ volumes: [{ name: 'v', kind: 'nfs' }] })), ['volume-kind']);
  assert.deepEqual(rules(v({ ports: [{ name: 'p', hostPort: 1, hostIP: '999.1.1.1' }] })), ['ip']);
  assert.deepEqual(rules(v({ annotations: [{ name: 'a', value: '' }, { name: 'a', value: '' }] })), ['duplicate']);
  // strict: reified pods need apps with full image IDs
  assert.deepEqual(rules(validatePodManifest(pod(), { strict: true })), ['required']);
  assert.deepEqual(rules(validatePodManifest(pod({ apps: [{ name: 'a', image: { id: 'sha512-1' } }] }), { strict: true })), ['image-id-strict']);
});

test('Go JSON decoding: case-insensitive keys, last duplicate wins but each is validated, unknown keys ignored', () => {
  assert.deepEqual(validateImageManifest('{"ACKIND":"ImageManifest","ACVersion":"0.8.11","NAME":"x","app":{"USER":"0","group":"0","supplementaryGids":[3]}}'), []);
  const m = parseImageManifest('{"acKind":"ImageManifest","acVersion":"0.8.11","name":"y","name":"x","zz":1}');
  assert.equal(m.name, 'x');
  assert.deepEqual(Object.keys(m).sort(), ['acKind', 'acVersion', 'name']);
  assert.deepEqual(at(validateImageManifest('{"acKind":"ImageManifest","acVersion":"0.8.11","name":"Bad","name":"x"}')), ['name']);
  // a repeated "app" merges into the earlier one (Go decodes into the same struct)
  assert.deepEqual(validateImageManifest('{"acKind":"ImageManifest","acVersion":"0.8.11","name":"x","app":{"user":"0","group":"0"},"app":{"exec":["/x"]}}'), []);
});

test('errors are RktError INVALID_ARGUMENT with details.path and details.problems', () => {
  assert.throws(
    () => parseImageManifest(withApp({ workingDirectory: 'rel' })),
    (e: unknown) => {
      assert.ok(isInvalidArgument(e));
      const d = (e as { details: { path: string; problems: unknown[] } }).details;
      assert.equal(d.path, 'app.workingDirectory');
      assert.equal(d.problems.length, 1);
      assert.match((e as Error).message, /app\.workingDirectory/);
      return true;
    },
  );
});

test('garbage input never crashes and is reported at the root', () => {
  let deep = '';
  for (let i = 0; i < 20000; i++) deep += '[';
  const inputs: unknown[] = [
    '', 'not json', '{', '[]', 'null', '"str"', '1e999999', '{"acKind":"ImageManifest",}', '\ufeff{}', '{"a":"\u0001"}',
    new Uint8Array([0xff, 0xfe, 0x00]), deep, '{"acKind":' + deep, null, undefined, 42, [], [1, 2], 'x'.repeat(100000),
    { acKind: 'ImageManifest', acVersion: '0.8.11', name: 'x', app: () => 1, labels: [{ name: 'os', value: Symbol('x') }], annotations: [{ name: 'a', value: 1n }] },
    { acKind: 'ImageManifest', acVersion: '0.8.11', name: 'x', app: { user: '0', group: '0', ports: [{ name: 'p', port: 1e300 }] } },
    { acKind: 'ImageManifest', acVersion: 1, name: 2, labels: {}, app: [], annotations: 'x', dependencies: {}, pathWhitelist: 7 },
    { acKind: 'PodManifest', apps: [null, 1, 'x', [], { image: 5, mounts: {}, app: 'x' }], volumes: {}, ports: [1], isolators: 'x' },
  ];
  const cyclic: Record<string, unknown> = { acKind: 'ImageManifest' };
  cyclic.self = cyclic;
  inputs.push(cyclic);
  for (const input of inputs) {
    for (const f of [validateImageManifest, validatePodManifest, (x: unknown) => checkManifest(x).problems]) {
      const problems = f(input);
      assert.ok(Array.isArray(problems) && problems.length > 0, `expected problems for ${String(input).slice(0, 40)}`);
    }
    assert.throws(() => parseImageManifest(input), (e: unknown) => isInvalidArgument(e));
    assert.throws(() => parsePodManifest(input), (e: unknown) => isInvalidArgument(e));
  }
  // nesting up to Go's limit (10000) is syntax; deeper is refused
  const ok10000 = '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"x","x":' + '['.repeat(9999) + ']'.repeat(9999) + '}';
  assert.deepEqual(validateImageManifest(ok10000), []);
  assert.deepEqual(rules(validateImageManifest(ok10000.replace('"x":[', '"x":[['.replace(']', '')).replace(/}$/, ']}'))), ['json-syntax']);
});

test('serialisation follows the reference marshaller', () => {
  const m = parseImageManifest(withApp({ exec: ['/x'], isolators: [{ name: 'resource/cpu', value: { limit: '1' } }] }));
  assert.equal(
    imageManifestToJson(m),
    '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/x","app":{"exec":["/x"],"user":"0","group":"0","isolators":[{"name":"resource/cpu","value":{"limit":"1"}}]}}',
  );
  assert.equal(imageManifestToJson(parseImageManifest(img({ labels: [{ name: 'a', value: '<&>' }] }))).includes('\\u003c\\u0026\\u003e'), true);
  const p = parsePodManifest(pod({ apps: [{ name: 'a', image: { id: 'sha512-1' } }] }));
  assert.equal(
    podManifestToJson(p),
    '{"acVersion":"0.8.11","acKind":"PodManifest","apps":[{"name":"a","image":{"id":"sha512-1"}}],"volumes":null,"isolators":null,"annotations":null,"ports":null}',
  );
  // round trip
  assert.deepEqual(parsePodManifest(podManifestToJson(p)), p);
  assert.ok(podManifestToJson(p, { pretty: true }).includes('\n    "acKind": "PodManifest"'));
});
