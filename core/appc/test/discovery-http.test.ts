// Discovery against loopback servers: a plain http one (compared with the reference
// `actool discover --insecure`) and an https one with a self-signed certificate made by openssl.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isNotFound } from '@rkt/api';
import { discover, discoverAciEndpoints, discoverPublicKeys, parseAppString } from '../src/discovery/discovery.js';
import { NodeHttpGetter, readBody } from '../src/discovery/http.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'rkt-discovery-'));
let cert = '';
let key = '';
let httpServer: http.Server;
let httpsServer: https.Server;
let httpPort = 0;
let httpsPort = 0;
const seen: { url: string; auth?: string; scheme: string }[] = [];

type Handler = (url: string, req: http.IncomingMessage, res: http.ServerResponse) => void;
let handler: Handler = () => {};
const page = (...metas: Array<[string, string, string]>) =>
  `<!DOCTYPE html><html><head>${metas.map(([n, p, u]) => `<meta name="${n}" content="${p} ${u}">`).join('\n')}</head><body></body></html>`;

before(async () => {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'pipe' });
  cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  key = readFileSync(join(dir, 'key.pem'), 'utf8');
  const listener = (scheme: string) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push({ url: req.url!, auth: req.headers.authorization, scheme });
    handler(req.url!, req, res);
  };
  httpServer = http.createServer(listener('http'));
  httpsServer = https.createServer({ cert, key }, listener('https'));
  await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => httpsServer.listen(0, '127.0.0.1', r));
  httpPort = (httpServer.address() as AddressInfo).port;
  httpsPort = (httpsServer.address() as AddressInfo).port;
});

after(() => {
  httpServer.closeAllConnections();
  httpsServer.closeAllConnections();
  httpServer.close();
  httpsServer.close();
  rmSync(dir, { recursive: true, force: true });
});

const sitePages: Record<string, string> = {
  '/project/app?ac-discovery=1': page(['ac-discovery', '127.0.0.1/project/app', 'https://store.example/{os}/{arch}/{name}-{version}.{ext}']),
  '/project?ac-discovery=1': page(
    ['ac-discovery', '127.0.0.1/project', 'https://wrong.example/{name}.{ext}'],
    ['ac-discovery-pubkeys', '127.0.0.1/project', 'https://keys.example/project.gpg'],
  ),
  '/?ac-discovery=1': page(['ac-discovery-pubkeys', '127.0.0.1', 'https://keys.example/root.gpg']),
};
const serveSite: Handler = (url, _req, res) => {
  const body = sitePages[url];
  if (body === undefined) {
    res.statusCode = url.startsWith('/project/app/sub') ? 500 : 404;
    res.end('nope');
    return;
  }
  res.setHeader('content-type', 'text/html');
  res.end(body);
};

test('over plain http with insecure options: same endpoints, keys and failed prefixes as actool discover --insecure', async () => {
  handler = serveSite;
  for (const name of ['127.0.0.1/project/app/sub/deeper:1.2.3,os=linux,arch=amd64', '127.0.0.1/project/other,os=freebsd,arch=arm']) {
    const ref = await run('/usr/bin/actool', ['discover', '--insecure', '--json', `--port=${httpPort}`, name]);
    const jsonStart = ref.stdout.indexOf('{');
    const refJson = JSON.parse(ref.stdout.slice(jsonStart)) as { ACIEndpoints: { ACI: string; ASC: string }[]; PublicKeys: string[] };
    const refAttempts = ref.stdout
      .slice(0, jsonStart)
      .split('\n')
      .filter((l) => l.startsWith('discover endpoints walk'))
      .map((l) => /prefix: (\S+)/.exec(l)![1]);
    const ours = await discover(parseAppString(name), { insecureTls: true, insecureHttp: true, port: httpPort });
    assert.deepEqual(ours.aciEndpoints.map((e) => ({ ACI: e.aci, ASC: e.asc })), refJson.ACIEndpoints);
    assert.deepEqual(ours.publicKeys, refJson.PublicKeys);
    assert.deepEqual(ours.endpointAttempts.map((a) => a.prefix), refAttempts);
    assert.ok(ours.endpointAttempts.every((a) => /expected a 200 OK got (404|500)/.test(a.error.message)));
  }
});

test('plain http is not used unless insecure http is allowed', async () => {
  handler = serveSite;
  await assert.rejects(
    discoverAciEndpoints(parseAppString('127.0.0.1/project/app,os=linux,arch=amd64'), { port: httpPort, insecureTls: true }),
    (e: unknown) => isNotFound(e) && /discovery failed/.test((e as Error).message),
  );
});

test('https with a trusted self-signed certificate, walking up the name', async () => {
  handler = serveSite;
  seen.length = 0;
  const getter = new NodeHttpGetter({ ca: cert });
  const r = await discoverAciEndpoints(parseAppString('127.0.0.1/project/app/sub:2.0,os=linux,arch=arm64'), { getter, port: httpsPort });
  assert.deepEqual(r.endpoints, [
    {
      aci: 'https://store.example/linux/arm64/127.0.0.1/project/app/sub-2.0.aci',
      asc: 'https://store.example/linux/arm64/127.0.0.1/project/app/sub-2.0.aci.asc',
    },
  ]);
  assert.deepEqual(r.attempts.map((a) => a.prefix), ['127.0.0.1/project/app/sub']);
  assert.ok(seen.every((s) => s.scheme === 'https'));
  const k = await discoverPublicKeys(parseAppString('127.0.0.1/project/app'), { getter, port: httpsPort });
  assert.deepEqual(k.publicKeys, ['https://keys.example/project.gpg']);
});

test('an untrusted certificate fails unless TLS verification is skipped', async () => {
  handler = serveSite;
  const app = parseAppString('127.0.0.1/project/app,os=linux,arch=amd64');
  await assert.rejects(discoverAciEndpoints(app, { port: httpsPort }), (e: unknown) => {
    assert.ok(isNotFound(e));
    const attempts = (e as { details: { attempts: { error: string }[] } }).details.attempts;
    assert.equal(attempts.length, 3);
    assert.match(attempts[0]!.error, /self[- ]signed|certificate/i);
    return true;
  });
  const r = await discoverAciEndpoints(app, { port: httpsPort, insecureTls: true });
  assert.equal(r.endpoints.length, 1);
});

test('https → http redirects are refused unless insecure http is allowed', async () => {
  handler = (url, _req, res) => {
    if (seen.at(-1)!.scheme === 'https') {
      res.statusCode = 302;
      res.setHeader('location', `http://127.0.0.1:${httpPort}${url}`);
      res.end();
    } else serveSite(url, _req, res);
  };
  const getter = new NodeHttpGetter({ ca: cert });
  const app = parseAppString('127.0.0.1/project/app,os=linux,arch=amd64');
  await assert.rejects(discoverAciEndpoints(app, { getter, port: httpsPort }), (e: unknown) => {
    const attempts = (e as { details: { attempts: { error: string }[] } }).details.attempts;
    assert.match(attempts[0]!.error, /refusing redirect .* insecure/);
    return true;
  });
  const res = await getter.get(`https://127.0.0.1:${httpsPort}/project/app?ac-discovery=1`, { allowHttp: true });
  assert.equal(res.status, 200);
  assert.equal(res.url, `http://127.0.0.1:${httpPort}/project/app?ac-discovery=1`);
  assert.match((await readBody(res.body)).toString(), /store\.example/);
});

test('per-host headers are sent to their host only, and timeouts end a stalled request', async () => {
  seen.length = 0;
  handler = serveSite;
  const getter = new NodeHttpGetter({ ca: cert, hostHeaders: { [`127.0.0.1:${httpsPort}`]: { authorization: 'Bearer s3cret' } } });
  await discoverAciEndpoints(parseAppString('127.0.0.1/project/app,os=linux,arch=amd64'), { getter, port: httpsPort });
  assert.ok(seen.length > 0 && seen.every((s) => s.auth === 'Bearer s3cret'));
  seen.length = 0;
  await discoverAciEndpoints(parseAppString('127.0.0.1/project/app,os=linux,arch=amd64'), {
    getter: new NodeHttpGetter({ ca: cert, hostHeaders: { 'other.example': { authorization: 'x' } } }),
    port: httpsPort,
  });
  assert.ok(seen.every((s) => s.auth === undefined));
  handler = () => {}; // never answers
  const started = Date.now();
  await assert.rejects(
    discoverAciEndpoints(parseAppString('127.0.0.1/a'), { getter: new NodeHttpGetter({ ca: cert }), port: httpsPort, timeoutMs: 200 }),
    (e: unknown) => isNotFound(e) && /timed out/.test(JSON.stringify((e as { details: unknown }).details)),
  );
  assert.ok(Date.now() - started < 5000);
});
