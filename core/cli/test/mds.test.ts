/**
 * Metadata service, in process: the real listeners (a registration unix socket and TCP on
 * 127.0.0.1, port 0) on a temp data dir, driven with node:http and stage0's own client functions.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMetadataService, listenFds, checkListenAddress, type RunningService } from '../src/runtime/mds/service.js';
import { mergeAnnotations, parseForm, redactToken, uuidBytes, JSON_TYPE, TEXT_TYPE } from '../src/runtime/mds/server.js';
import { checkMdsReachable, unregisterPod } from '../src/runtime/mds/client.js';
import { registrationSocketPath } from '../src/runtime/mds/store.js';
import { formatError } from '@rkt/api';

const tmp = mkdtempSync(join(tmpdir(), 'rkt-mds-unit-'));
const data = join(tmp, 'data');
const logs: string[] = [];
const log = { info: (m: string) => void logs.push(m), warn: (m: string) => void logs.push(m) };
let svc: RunningService;

interface Res {
  status: number;
  type: string | undefined;
  body: string;
}

function http(o: { host?: string; port?: number; socketPath?: string; method?: string; path: string; body?: string; type?: string }): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: o.host ?? '127.0.0.1',
        agent: false,
        ...(o.socketPath ? { socketPath: o.socketPath } : { port: o.port }),
        method: o.method ?? 'GET',
        path: o.path,
        headers: { 'Metadata-Flavor': 'AppContainer', ...(o.body !== undefined ? { 'Content-Type': o.type ?? 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(o.body) } : {}) },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const pub = (path: string, method = 'GET', body?: string) => http({ port: svc.endpoint().port, path, method, ...(body !== undefined ? { body } : {}) });
const reg = (method: string, path: string, body?: string) =>
  http({ socketPath: registrationSocketPath(data), method, path, ...(body !== undefined ? { body, type: 'application/json' } : {}) });

const podManifest = (apps: Array<{ name: string; ann?: Array<[string, string]> }>) =>
  JSON.stringify({
    acVersion: '1.30.0',
    acKind: 'PodManifest',
    apps: apps.map((a) => ({
      name: a.name,
      image: { name: `example.com/${a.name}`, id: 'sha512-' + a.name.replace(/\W/g, '').padEnd(64, '0') },
      ...(a.ann ? { annotations: a.ann.map(([name, value]) => ({ name, value })) } : {}),
    })),
    volumes: null,
    isolators: null,
    annotations: [
      { name: 'coreos.com/rkt/stage1/mutable', value: 'false' },
      { name: 'ip-address', value: '10.1.2.3' },
    ],
    ports: null,
  });
const imageManifest = (name: string, ann: Array<[string, string]> = []) =>
  JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name: `example.com/${name}`, annotations: ann.map(([n, value]) => ({ name: n, value })) }, null, 2);

async function register(uuid: string, apps: Array<{ name: string; ann?: Array<[string, string]>; imageAnn?: Array<[string, string]> }>): Promise<{ token: string; pm: string; images: Record<string, string> }> {
  const pm = podManifest(apps);
  const images = Object.fromEntries(apps.map((a) => [a.name, imageManifest(a.name, a.imageAnn)]));
  const r = await reg('PUT', `/pods/${uuid}`, JSON.stringify({ podManifest: pm, images, ips: ['10.1.2.3'] }));
  assert.equal(r.status, 201, r.body);
  assert.equal(r.type, JSON_TYPE);
  const info = JSON.parse(r.body) as { token: string; port: number; addresses: string[] };
  assert.equal(info.port, svc.endpoint().port);
  assert.deepEqual(info.addresses, ['127.0.0.1']);
  return { token: info.token, pm, images };
}

/** Pods "exist" for the service when a pod directory does (it prunes others on start). */
const makePodDir = (uuid: string) => mkdirSync(join(data, 'pods', 'run', uuid), { recursive: true });

before(async () => {
  svc = await startMetadataService({ dataDir: data, port: 0, addresses: ['127.0.0.1'], env: {}, log });
});
after(async () => {
  await svc?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const A = randomUUID();
const B = randomUUID();
let tokA = '';
let tokB = '';
let pmA = '';
let imagesA: Record<string, string> = {};

test('registration socket is 0600 in a 0700 dir; the HMAC key is 64 bytes, 0600; ping answers the endpoint', async () => {
  assert.equal(statSync(registrationSocketPath(data)).mode & 0o777, 0o600);
  assert.equal(statSync(join(data, 'mds')).mode & 0o777, 0o700);
  const key = statSync(join(data, 'mds', 'hmac.key'));
  assert.equal(key.size, 64);
  assert.equal(key.mode & 0o777, 0o600);
  assert.deepEqual(await checkMdsReachable(data), svc.endpoint());
});

test('register: 192-bit tokens, only their hash persisted, never logged', async () => {
  makePodDir(A);
  makePodDir(B);
  const a = await register(A, [
    { name: 'web', ann: [['b', 'pod-b'], ['p', 'pod-only'], ['x/y', 'slashed']], imageAnn: [['a', 'img-a'], ['b', 'img-b'], ['c', 'img-c']] },
    { name: 'side/car' },
  ]);
  tokA = a.token;
  pmA = a.pm;
  imagesA = a.images;
  tokB = (await register(B, [{ name: 'other' }])).token;
  assert.match(tokA, /^[A-Za-z0-9_-]{32}$/);
  assert.equal(Buffer.from(tokA, 'base64url').length, 24);
  assert.notEqual(tokA, tokB);
  const persisted = readFileSync(join(data, 'mds', 'pods', `${A}.json`), 'utf8');
  assert.ok(!persisted.includes(tokA));
  assert.equal(statSync(join(data, 'mds', 'pods', `${A}.json`)).mode & 0o777, 0o600);
  const p = await pub(`/${tokA}/acMetadata/v1/pod/uuid`);
  assert.equal(p.status, 200);
  assert.ok(logs.some((l) => l === 'GET /<token>/acMetadata/v1/pod/uuid - 200'), logs.join('\n'));
  assert.ok(!logs.some((l) => l.includes(tokA) || l.includes(tokB)));
});

test('pod endpoints: exact content types and bodies', async () => {
  const base = `/${tokA}/acMetadata/v1`;
  let r = await pub(`${base}/pod/uuid`);
  assert.deepEqual(r, { status: 200, type: TEXT_TYPE, body: A });
  r = await pub(`${base}/pod/manifest`);
  assert.deepEqual(r, { status: 200, type: JSON_TYPE, body: pmA });
  r = await pub(`${base}/pod/annotations`);
  assert.equal(r.type, JSON_TYPE);
  assert.deepEqual(JSON.parse(r.body), [
    { name: 'coreos.com/rkt/stage1/mutable', value: 'false' },
    { name: 'ip-address', value: '10.1.2.3' },
  ]);
  r = await pub(`${base}/pod/annotations/ip-address`);
  assert.deepEqual(r, { status: 200, type: TEXT_TYPE, body: '10.1.2.3' });
  r = await pub(`${base}/pod/annotations/coreos.com/rkt/stage1/mutable`);
  assert.deepEqual(r, { status: 200, type: TEXT_TYPE, body: 'false' });
  assert.equal((await pub(`${base}/pod/annotations/nope`)).status, 404);
});

test('app endpoints: merged annotations (image order, pod wins in place, pod-only appended), image manifest and id; app names with "/"', async () => {
  const base = `/${tokA}/acMetadata/v1/apps`;
  let r = await pub(`${base}/web/annotations`);
  assert.equal(r.type, JSON_TYPE);
  assert.deepEqual(JSON.parse(r.body), [
    { name: 'a', value: 'img-a' },
    { name: 'b', value: 'pod-b' },
    { name: 'c', value: 'img-c' },
    { name: 'p', value: 'pod-only' },
    { name: 'x/y', value: 'slashed' },
  ]);
  assert.deepEqual(await pub(`${base}/web/annotations/b`), { status: 200, type: TEXT_TYPE, body: 'pod-b' });
  assert.deepEqual(await pub(`${base}/web/annotations/x/y`), { status: 200, type: TEXT_TYPE, body: 'slashed' });
  assert.deepEqual(await pub(`${base}/web/image/manifest`), { status: 200, type: JSON_TYPE, body: imagesA.web });
  assert.deepEqual(await pub(`${base}/web/image/id`), { status: 200, type: TEXT_TYPE, body: 'sha512-' + 'web'.padEnd(64, '0') });
  assert.deepEqual(await pub(`${base}/side/car/image/manifest`), { status: 200, type: JSON_TYPE, body: imagesA['side/car'] });
  assert.deepEqual(await pub(`${base}/side/car/annotations`), { status: 200, type: JSON_TYPE, body: '[]' });
  for (const p of ['/other/image/id', '/web/annotations/zz', '/web/image/nope', '/side/image/id', '/web/../other/image/id'])
    assert.equal((await pub(base + p)).status, 404, p);
});

test('a pod sees only its own metadata; wrong tokens get one identical 401 whatever the path', async () => {
  assert.equal((await pub(`/${tokB}/acMetadata/v1/pod/uuid`)).body, B);
  assert.equal((await pub(`/${tokB}/acMetadata/v1/apps/web/image/id`)).status, 404);
  const forged = [tokA.slice(0, -1) + (tokA.endsWith('A') ? 'B' : 'A'), A, 'x', '%zz', tokA + tokB];
  const answers = new Set<string>();
  for (const t of forged)
    for (const p of ['pod/uuid', 'pod/manifest', 'apps/web/image/id', 'apps/nonexistent/image/id', 'no/such/endpoint', 'pod/hmac/sign']) {
      const r = await pub(`/${t}/acMetadata/v1/${p}`, p.endsWith('sign') ? 'POST' : 'GET', p.endsWith('sign') ? 'content=x' : undefined);
      answers.add(JSON.stringify(r));
    }
  assert.deepEqual([...answers], [JSON.stringify({ status: 401, type: TEXT_TYPE, body: 'unauthorized\n' })]);
  assert.equal((await pub('/')).status, 404);
  assert.equal((await pub(`/${tokA}/other`)).status, 404);
});

test('HMAC: sign is base64 HMAC-SHA512(key, uuid[16] || content); verify needs no token; forgeries get 403; bad input 400', async () => {
  const base = `/${tokA}/acMetadata/v1/pod/hmac`;
  const content = 'héllo & goodbye=+\u0000';
  const form = `content=${encodeURIComponent(content)}`;
  const s = await pub(`${base}/sign`, 'POST', form);
  assert.equal(s.status, 200);
  assert.equal(s.type, TEXT_TYPE);
  const key = readFileSync(join(data, 'mds', 'hmac.key'));
  const want = createHmac('sha512', key).update(Buffer.from(A.replace(/-/g, ''), 'hex')).update(Buffer.from(content)).digest('base64');
  assert.equal(s.body, want);
  const q = (uuid: string, sig: string, c = content) => `uuid=${uuid}&signature=${encodeURIComponent(sig)}&content=${encodeURIComponent(c)}`;
  for (const path of ['/acMetadata/v1/pod/hmac/verify', `/${tokB}/acMetadata/v1/pod/hmac/verify`, '/not-a-token/acMetadata/v1/pod/hmac/verify']) {
    assert.deepEqual(await pub(path, 'POST', q(A, s.body)), { status: 200, type: TEXT_TYPE, body: '' }, path);
    assert.equal((await pub(path, 'POST', q(A.replace(/-/g, '').toUpperCase(), s.body))).status, 200);
  }
  const verify = '/acMetadata/v1/pod/hmac/verify';
  assert.equal((await pub(`${verify}?${q(A, s.body)}`)).status, 200, 'GET with a query string');
  // forgeries: another pod's uuid, other content, a flipped bit, B's own signature presented as A's
  const sigB = (await pub(`/${tokB}/acMetadata/v1/pod/hmac/sign`, 'POST', form)).body;
  assert.notEqual(sigB, s.body);
  const flipped = Buffer.from(s.body, 'base64');
  flipped[0]! ^= 1;
  for (const body of [q(B, s.body), q(A, s.body, content + 'x'), q(A, flipped.toString('base64')), q(A, sigB), q(A, Buffer.alloc(64).toString('base64'))])
    assert.equal((await pub(verify, 'POST', body)).status, 403, body);
  for (const body of [q('not-a-uuid', s.body), q(A, 'not base64!'), q(A, s.body, ''), `uuid=${A}&signature=${encodeURIComponent(s.body)}`, q(A, 'abc')])
    assert.equal((await pub(verify, 'POST', body)).status, 400, body);
  assert.equal((await pub(`${base}/sign`, 'POST', '')).status, 400);
  assert.equal((await pub(`${base}/sign`, 'POST', 'content=')).status, 400);
  assert.equal((await pub(`${base}/sign`)).status, 405);
  assert.equal((await pub(`/${tokA}/acMetadata/v1/pod/uuid`, 'POST', 'content=x')).status, 405);
  assert.equal((await pub(`${base}/sign`, 'POST', 'content=' + 'a'.repeat(2 << 20))).status, 413);
});

test('registration API: validation, re-registration rotates the token, unregister', async () => {
  assert.equal((await reg('PUT', '/pods/not-a-uuid', '{}')).status, 400);
  assert.match((await reg('PUT', `/pods/${randomUUID()}`, JSON.stringify({ podManifest: '{"acKind":"ImageManifest"}', images: {} }))).body, /not a pod manifest/);
  assert.match((await reg('PUT', `/pods/${randomUUID()}`, JSON.stringify({ podManifest: podManifest([{ name: 'x' }]), images: {} }))).body, /missing the image manifest of app "x"/);
  assert.match((await reg('PUT', `/pods/${randomUUID()}`, JSON.stringify({ podManifest: podManifest([{ name: 'x' }]), images: { x: '{}' }, ips: ['nope'] }))).body, /"ips"/);
  assert.equal((await reg('PUT', `/pods/${randomUUID()}`, 'not json')).status, 400);
  const C = randomUUID();
  makePodDir(C);
  const first = (await register(C, [{ name: 'c' }])).token;
  const second = (await register(C, [{ name: 'c' }])).token;
  assert.equal((await pub(`/${first}/acMetadata/v1/pod/uuid`)).status, 401);
  assert.equal((await pub(`/${second}/acMetadata/v1/pod/uuid`)).body, C);
  await unregisterPod(data, C);
  assert.equal((await pub(`/${second}/acMetadata/v1/pod/uuid`)).status, 401);
  assert.ok(!readdirSync(join(data, 'mds', 'pods')).includes(`${C}.json`));
  assert.equal((await reg('DELETE', `/pods/${C}`)).status, 404);
});

test('restart: registrations and the HMAC key survive; registrations of vanished pods are pruned; one instance per data dir', async () => {
  const sig = (await pub(`/${tokA}/acMetadata/v1/pod/hmac/sign`, 'POST', 'content=persist')).body;
  await assert.rejects(startMetadataService({ dataDir: data, port: 0, addresses: ['127.0.0.1'], env: {}, log }), /another metadata service is already running/);
  rmSync(join(data, 'pods', 'run', B), { recursive: true });
  await svc.close();
  await assert.rejects(checkMdsReachable(data), /not reachable at .*registration\.sock .*rkt metadata-service/);
  svc = await startMetadataService({ dataDir: data, port: 0, addresses: ['127.0.0.1'], env: {}, log });
  assert.equal((await pub(`/${tokA}/acMetadata/v1/pod/uuid`)).body, A);
  assert.equal((await pub('/acMetadata/v1/pod/hmac/verify', 'POST', `uuid=${A}&content=persist&signature=${encodeURIComponent(sig)}`)).status, 200);
  assert.equal((await pub(`/${tokB}/acMetadata/v1/pod/uuid`)).status, 401);
  assert.ok(!readdirSync(join(data, 'mds', 'pods')).includes(`${B}.json`));
});

test('unregister without a running service removes the persisted registration', async () => {
  const D = randomUUID();
  makePodDir(D);
  await register(D, [{ name: 'd' }]);
  await svc.close();
  await unregisterPod(data, D);
  assert.ok(!readdirSync(join(data, 'mds', 'pods')).includes(`${D}.json`));
  svc = await startMetadataService({ dataDir: data, port: 0, addresses: ['127.0.0.1'], env: {}, log });
});

test('helpers: LISTEN_FDS only for our pid; listen addresses; form decoding to bytes; uuid; redaction; merge', () => {
  assert.deepEqual(listenFds({ LISTEN_PID: '42', LISTEN_FDS: '2' }, 42), [3, 4]);
  const env: NodeJS.ProcessEnv = { LISTEN_PID: '41', LISTEN_FDS: '2', LISTEN_FDNAMES: 'a:b' };
  assert.deepEqual(listenFds(env, 42), []);
  assert.deepEqual(env, {});
  assert.deepEqual(listenFds({}, 42), []);
  for (const a of ['0.0.0.0', '::', 'localhost', '']) assert.throws(() => checkListenAddress(a), (e: unknown) => /--listen-address/.test(formatError(e)));
  assert.equal(checkListenAddress('10.0.0.1'), '10.0.0.1');
  const f = parseForm('content=q&x=1', Buffer.from('content=%00%ff+a%2B&k'));
  assert.deepEqual([...f.get('content')!], [0, 255, 32, 97, 43]);
  assert.equal(f.get('x')!.toString(), '1');
  assert.equal(f.get('k')!.length, 0);
  assert.throws(() => parseForm('content=%zz'));
  assert.equal(uuidBytes('6f4f3a2e-0000-4000-8000-00000000000a')?.length, 16);
  assert.equal(uuidBytes('6f4f3a2e'), undefined);
  assert.equal(redactToken('/s3cr3t/acMetadata/v1/pod/uuid'), '/<token>/acMetadata/v1/pod/uuid');
  assert.equal(redactToken('/s3cr3t'), '/<token>');
  assert.equal(redactToken('/acMetadata/v1/pod/hmac/verify'), '/acMetadata/v1/pod/hmac/verify');
  assert.deepEqual(mergeAnnotations([{ name: 'a', value: '1' }], [{ name: 'b', value: '2' }, { name: 'a', value: '3' }]), [
    { name: 'a', value: '3' },
    { name: 'b', value: '2' },
  ]);
});


test('contained networks: the service starts listening on a registration\'s host-side address (and again after a restart); unusable ones are refused', async () => {
  const E = randomUUID();
  makePodDir(E);
  const body = (hostAddresses: string[]) => JSON.stringify({ podManifest: podManifest([{ name: 'e' }]), images: { e: imageManifest('e') }, ips: ['10.0.0.5'], hostAddresses });
  assert.equal((await reg('PUT', `/pods/${E}`, body(['0.0.0.0']))).status, 400);
  const bad = await reg('PUT', `/pods/${E}`, body(['192.0.2.1']));
  assert.equal(bad.status, 503);
  assert.match(bad.body, /cannot listen on the pod network's host-side address 192\.0\.2\.1/);
  assert.ok(!readdirSync(join(data, 'mds', 'pods')).includes(`${E}.json`), 'not registered');
  const r = await reg('PUT', `/pods/${E}`, body(['127.0.0.2']));
  assert.equal(r.status, 201, r.body);
  const info = JSON.parse(r.body) as { token: string; port: number; addresses: string[] };
  assert.deepEqual(info.addresses, ['127.0.0.1', '127.0.0.2']);
  const viaBridge = () => http({ host: '127.0.0.2', port: svc.endpoint().port, path: `/${info.token}/acMetadata/v1/pod/uuid` });
  assert.equal((await viaBridge()).body, E);
  await svc.close();
  svc = await startMetadataService({ dataDir: data, port: info.port, addresses: ['127.0.0.1'], env: {}, log });
  assert.deepEqual(svc.endpoint().addresses, ['127.0.0.1', '127.0.0.2']);
  assert.equal((await viaBridge()).body, E);
  await unregisterPod(data, E);
  // two pods of a new network registering at once: one listener, both registered
  const [F, G] = [randomUUID(), randomUUID()];
  for (const u of [F, G]) makePodDir(u);
  const both = await Promise.all([F, G].map((u) => reg('PUT', `/pods/${u}`, body(['127.0.0.3']))));
  assert.deepEqual(both.map((x) => x.status), [201, 201], both.map((x) => x.body).join());
  assert.deepEqual(svc.endpoint().addresses, ['127.0.0.1', '127.0.0.2', '127.0.0.3']);
  for (const u of [F, G]) await unregisterPod(data, u);
});

test('a start that fails (address not local) leaves nothing behind', async () => {
  const fresh = join(tmp, 'fresh-data');
  await assert.rejects(startMetadataService({ dataDir: fresh, port: 0, addresses: ['192.0.2.1'], env: {}, log }), /cannot listen on 192\.0\.2\.1:0/);
  assert.equal(existsSync(fresh), false);
});
