/** The loopback test server and test CA behave as the fetcher tests rely on. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as http from 'node:http';
import { createTestCa, startTestServer, startHttpServer, discoveryHtml, type TestServer, type TestCa } from '../src/index.js';

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  error?: Error;
}

function get(url: string, opts: { ca?: string; headers?: Record<string, string> } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { agent: false, headers: opts.headers, ...(opts.ca ? { ca: opts.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (error) =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), error }),
      );
    });
    req.on('error', reject);
  });
}

describe('test CA', () => {
  it('issues a loopback certificate signed by a fresh CA and cleans up', async () => {
    const ca = await createTestCa();
    try {
      assert.match(ca.caPem, /BEGIN CERTIFICATE/);
      assert.ok(fs.existsSync(ca.caPath));
      const { X509Certificate } = await import('node:crypto');
      const cert = new X509Certificate(ca.server.certPem);
      const caCert = new X509Certificate(ca.caPem);
      assert.ok(cert.verify(caCert.publicKey));
      assert.ok(cert.checkIP('127.0.0.1'));
      assert.ok(cert.checkHost('localhost'));
      assert.ok(caCert.ca);
    } finally {
      await ca.cleanup();
    }
    assert.ok(!fs.existsSync(ca.dir));
  });
});

describe('test https server', () => {
  let server: TestServer;
  const body = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('binds 127.0.0.1 and is trusted only through its CA', async () => {
    assert.equal(server.hostname, '127.0.0.1');
    assert.equal(server.origin, `https://127.0.0.1:${server.port}`);
    server.route('/hello', { body: 'hi\n' });
    const ok = await get(server.url('/hello'), { ca: server.caPem! });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.toString(), 'hi\n');
    await assert.rejects(get(server.url('/hello')), /self.signed|unable to (get|verify)/i);
  });

  it('serves ACIs with signatures, 404 for the rest, and logs requests', async () => {
    server.clearLog();
    server.aci('/img/app.aci', body, { signature: 'SIG' });
    assert.deepEqual((await get(server.url('/img/app.aci'), { ca: server.caPem! })).body, body);
    assert.equal((await get(server.url('/img/app.aci.asc'), { ca: server.caPem! })).body.toString(), 'SIG');
    assert.equal((await get(server.url('/nope'), { ca: server.caPem! })).status, 404);
    assert.deepEqual(server.requests.map((r) => [r.path, r.status]), [
      ['/img/app.aci', 200],
      ['/img/app.aci.asc', 200],
      ['/nope', 404],
    ]);
    assert.equal(server.requestsTo('/img/app.aci').length, 1);
  });

  it('answers discovery pages by query', async () => {
    server.discovery('/example/app', { discovery: [['example.com/app', 'https://x/{name}-{version}.{ext}']] });
    const page = await get(server.url('/example/app?ac-discovery=1'), { ca: server.caPem! });
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /<meta name="ac-discovery" content="example.com\/app https:\/\/x\/\{name\}-\{version\}.\{ext\}">/);
    assert.equal((await get(server.url('/example/app'), { ca: server.caPem! })).status, 404);
    assert.match(discoveryHtml({ pubkeys: [['a', 'https://k']] }), /ac-discovery-pubkeys" content="a https:\/\/k"/);
  });

  it('checks basic and bearer auth', async () => {
    server.route('/basic', { body: 'b', auth: { type: 'basic', user: 'u', password: 'p' } });
    server.route('/bearer', { body: 't', auth: { type: 'bearer', token: 'tok' } });
    const ca = server.caPem!;
    assert.equal((await get(server.url('/basic'), { ca })).status, 401);
    const basic = `Basic ${Buffer.from('u:p').toString('base64')}`;
    assert.equal((await get(server.url('/basic'), { ca, headers: { Authorization: basic } })).status, 200);
    assert.equal((await get(server.url('/bearer'), { ca, headers: { Authorization: 'Bearer nope' } })).status, 401);
    assert.equal((await get(server.url('/bearer'), { ca, headers: { Authorization: 'Bearer tok' } })).status, 200);
  });

  it('does ETag/304, max-age and ranges', async () => {
    const ca = server.caPem!;
    server.route('/c', { body, etag: 'v1', maxAge: 60 });
    const full = await get(server.url('/c'), { ca });
    assert.equal(full.headers.etag, '"v1"');
    assert.equal(full.headers['cache-control'], 'max-age=60');
    assert.equal(full.headers['accept-ranges'], 'bytes');
    assert.equal((await get(server.url('/c'), { ca, headers: { 'If-None-Match': '"v1"' } })).status, 304);
    assert.equal((await get(server.url('/c'), { ca, headers: { 'If-None-Match': '"v0"' } })).status, 200);
    const part = await get(server.url('/c'), { ca, headers: { Range: 'bytes=10-' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 10-${body.length - 1}/${body.length}`);
    assert.deepEqual(part.body, body.subarray(10));
    const stale = await get(server.url('/c'), { ca, headers: { Range: 'bytes=10-', 'If-Range': '"v0"' } });
    assert.equal(stale.status, 200);
    assert.equal((await get(server.url('/c'), { ca, headers: { Range: `bytes=${body.length}-` } })).status, 416);
    server.route('/bad', { body, etag: 'v1', badContentRange: true });
    const bad = await get(server.url('/bad'), { ca, headers: { Range: 'bytes=10-' } });
    assert.equal(bad.headers['content-range'], `bytes 9-${body.length - 1}/${body.length}`);
  });

  it('truncates, corrupts and redirects on request', async () => {
    const ca = server.caPem!;
    server.route('/t', { body, truncateAt: 5, truncateTimes: 1 });
    const cut = await get(server.url('/t'), { ca });
    assert.ok(cut.error, 'a truncated body must fail on the client');
    assert.ok(cut.body.length < body.length);
    assert.deepEqual((await get(server.url('/t'), { ca })).body, body, 'only the first response is cut');
    server.route('/x', { body, corrupt: true });
    const x = await get(server.url('/x'), { ca });
    assert.equal(x.body.length, body.length);
    assert.notDeepEqual(x.body, body);
    server.route('/r', { redirect: 'http://127.0.0.1:1/elsewhere', status: 301 });
    const r = await get(server.url('/r'), { ca });
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, 'http://127.0.0.1:1/elsewhere');
  });
});

describe('test http server', () => {
  let server: TestServer;
  let other: TestCa | undefined;
  before(async () => {
    server = await startHttpServer();
  });
  after(async () => {
    await server.close();
    await other?.cleanup();
  });

  it('serves plain http on loopback with no CA', async () => {
    assert.equal(server.scheme, 'http');
    assert.equal(server.caPem, undefined);
    server.route('/p', { body: 'plain' });
    assert.equal((await get(server.url('/p'))).body.toString(), 'plain');
  });

  it('a server can share a CA and serve another certificate', async () => {
    other = await createTestCa({ caName: 'other' });
    const wrong = await other.issue('wrong.invalid', ['DNS:wrong.invalid']);
    const s = await startTestServer({ ca: other, certificate: wrong });
    try {
      s.route('/w', { body: 'w' });
      await assert.rejects(get(s.url('/w'), { ca: other.caPem }), /altnames|does not match/i);
    } finally {
      await s.close();
    }
    assert.ok(fs.existsSync(other.caPath), 'a shared CA is not removed by close()');
  });
});
