/** The https fetcher by URL against the loopback test servers. */
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ImageRef } from '@rkt/api';
import { startTestServer, startHttpServer, type TestServer } from '@rkt/testkit';
import contribution from '../src/contribution.js';
import { HttpsFetcher } from '../src/index.js';
import { bytes, insecure, options, readAll, RecordingProgress, SIG, tempDir } from './helpers.js';

const urlRef = (u: string): ImageRef => ({ kind: 'url', raw: u, url: new URL(u) });

async function rejectsWith(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: { code?: string; message?: string }) => {
    assert.equal(err.code, code, `code of: ${err.message}`);
    assert.match(err.message ?? '', re);
    return true;
  });
}

describe('https fetcher by URL', () => {
  let server: TestServer;
  let plain: TestServer;
  let fetcher: HttpsFetcher;
  let tmp: string;
  const image = bytes(200_000, 7);

  before(async () => {
    server = await startTestServer();
    plain = await startHttpServer();
    fetcher = new HttpsFetcher({ extraCa: [server.caPem!] });
  });
  after(async () => {
    await server.close();
    await plain.close();
  });
  beforeEach(() => {
    tmp = tempDir();
    server.clearLog();
    plain.clearLog();
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('fetches the image and its signature, the signature first, and leaves no file behind', async () => {
    server.aci('/a/app.aci', image, { signature: SIG, etag: 'e1', maxAge: 120 });
    const progress = new RecordingProgress();
    const r = await fetcher.fetch(urlRef(server.url('/a/app.aci')), options(tmp, { progress }));
    assert.deepEqual(await readAll(r.aci), image);
    assert.equal(Buffer.from(r.signature!).toString(), SIG);
    assert.equal(r.notModified, undefined);
    assert.equal(r.trustName, undefined);
    assert.deepEqual(r.remote, { url: server.url('/a/app.aci'), etag: '"e1"', maxAge: 120 });
    assert.deepEqual(server.requests.map((q) => q.path), ['/a/app.aci.asc', '/a/app.aci']);
    assert.match(String(server.requests[0]!.headers['user-agent']), /^rkt/);
    assert.deepEqual(fs.readdirSync(tmp), []);
    assert.equal(progress.advancedAfter('Downloading ACI'), image.length);
    assert.deepEqual(progress.events.find((e) => e[0] === 'start' && (e[1] as { label: string }).label === 'Downloading ACI'), [
      'start',
      { label: 'Downloading ACI', total: image.length },
    ]);
  });

  it('uses --signature instead of fetching one', async () => {
    server.aci('/b/app.aci', image);
    const sigFile = path.join(tmp, 'local.asc');
    fs.writeFileSync(sigFile, 'LOCAL');
    const r = await fetcher.fetch(urlRef(server.url('/b/app.aci')), options(tmp, { signaturePath: sigFile }));
    assert.equal(Buffer.from(r.signature!).toString(), 'LOCAL');
    await readAll(r.aci);
    assert.deepEqual(server.requests.map((q) => q.path), ['/b/app.aci']);
    await rejectsWith(
      fetcher.fetch(urlRef(server.url('/b/app.aci')), options(tmp, { signaturePath: path.join(tmp, 'none.asc') })),
      'E_NOT_FOUND',
      /none\.asc/,
    );
  });

  it('a missing signature is an error unless --insecure-options=image', async () => {
    server.aci('/c/app.aci', image);
    await rejectsWith(
      fetcher.fetch(urlRef(server.url('/c/app.aci')), options(tmp)),
      'E_UNTRUSTED',
      /signature.*\/c\/app\.aci\.asc.*404.*insecure-options=image/,
    );
    assert.deepEqual(server.requests.map((q) => q.path), ['/c/app.aci.asc'], 'no image body before a signature');
    const r = await fetcher.fetch(urlRef(server.url('/c/app.aci')), options(tmp, { insecure: insecure('image') }));
    assert.equal(r.signature, null);
    assert.deepEqual(await readAll(r.aci), image);
  });

  it('a 202 on the signature is retried once after the image', async () => {
    server.aci('/d/app.aci', image, { signature: SIG, signatureRoute: { status: 202 } });
    let calls = 0;
    server.route('/d/app.aci.asc', {
      handler: (_req, res) => {
        calls++;
        res.writeHead(calls === 1 ? 202 : 200, { 'Content-Type': 'text/plain' });
        res.end(calls === 1 ? '' : SIG);
      },
    });
    const r = await fetcher.fetch(urlRef(server.url('/d/app.aci')), options(tmp));
    assert.equal(Buffer.from(r.signature!).toString(), SIG);
    await readAll(r.aci);
    assert.deepEqual(server.requests.map((q) => q.path), ['/d/app.aci.asc', '/d/app.aci', '/d/app.aci.asc']);
  });

  it('sends auth.d headers over https to the image host only', async () => {
    const auth = { type: 'basic', user: 'u', password: 'p' } as const;
    server.aci('/e/app.aci', image, { signature: SIG, auth, signatureRoute: { auth } });
    const headersFor = (host: string) =>
      host === server.host ? { Authorization: `Basic ${Buffer.from('u:p').toString('base64')}` } : {};
    await rejectsWith(fetcher.fetch(urlRef(server.url('/e/app.aci')), options(tmp)), 'E_PERMISSION_DENIED', /401.*auth\.d/);
    const r = await fetcher.fetch(urlRef(server.url('/e/app.aci')), options(tmp, { headersFor }));
    assert.deepEqual(await readAll(r.aci), image);

    // A redirect to another host (localhost is another host name for the same server) drops them.
    server.clearLog();
    server.route('/e/moved.aci', { redirect: `https://localhost:${server.port}/e/open.aci` });
    server.route('/e/moved.aci.asc', { redirect: `https://localhost:${server.port}/e/open.aci.asc` });
    server.aci('/e/open.aci', image, { signature: SIG });
    const everyHost = () => ({ Authorization: 'Bearer secret' });
    await readAll((await fetcher.fetch(urlRef(server.url('/e/moved.aci')), options(tmp, { headersFor: everyHost }))).aci);
    const sent = server.requests.map((q) => [q.path, q.headers.authorization ?? null]);
    assert.deepEqual(sent, [
      ['/e/moved.aci.asc', 'Bearer secret'],
      ['/e/open.aci.asc', null],
      ['/e/moved.aci', 'Bearer secret'],
      ['/e/open.aci', null],
    ]);

    // Never over plain http.
    plain.aci('/e/app.aci', image, { signature: SIG });
    await readAll((await fetcher.fetch(urlRef(plain.url('/e/app.aci')), options(tmp, { headersFor: everyHost, insecure: insecure('http') }))).aci);
    assert.equal(plain.requests.length, 2);
    for (const q of plain.requests) assert.equal(q.headers.authorization, undefined);
  });

  it('reuses the stored image on 304', async () => {
    server.aci('/f/app.aci', image, { signature: SIG, etag: 'v1' });
    const cached = { url: server.url('/f/app.aci'), etag: '"v1"', downloadTime: new Date(), imageId: 'sha512-x' };
    const r = await fetcher.fetch(urlRef(server.url('/f/app.aci')), options(tmp, { cached }));
    assert.equal(r.notModified, true);
    assert.equal(r.aci, undefined);
    assert.equal(r.remote?.etag, '"v1"');
    const img = server.requestsTo('/f/app.aci');
    assert.equal(img.length, 1);
    assert.equal(img[0]!.headers['if-none-match'], '"v1"');
    assert.equal(img[0]!.status, 304);
    // A changed ETag downloads again.
    server.aci('/f/app.aci', image, { signature: SIG, etag: 'v2' });
    const r2 = await fetcher.fetch(urlRef(server.url('/f/app.aci')), options(tmp, { cached }));
    assert.notEqual(r2.notModified, true);
    assert.deepEqual(await readAll(r2.aci), image);
    assert.equal(r2.remote?.etag, '"v2"');
  });

  it('reuses the stored image without a request while max-age is fresh', async () => {
    server.aci('/g/app.aci', image, { signature: SIG, maxAge: 60 });
    const url = server.url('/g/app.aci');
    const fresh = { url, maxAge: 60, downloadTime: new Date(Date.now() - 30_000), imageId: 'sha512-x' };
    const r = await fetcher.fetch(urlRef(url), options(tmp, { cached: fresh }));
    assert.equal(r.notModified, true);
    assert.equal(server.requests.length, 0);
    const stale = { ...fresh, downloadTime: new Date(Date.now() - 61_000) };
    const r2 = await fetcher.fetch(urlRef(url), options(tmp, { cached: stale }));
    assert.notEqual(r2.notModified, true);
    assert.deepEqual(await readAll(r2.aci), image);
    // A cached row for another URL is not used.
    server.clearLog();
    const other = { ...fresh, url: server.url('/g/other.aci') };
    await readAll((await fetcher.fetch(urlRef(url), options(tmp, { cached: other }))).aci);
    assert.equal(server.requestsTo('/g/app.aci').length, 1);
  });

  it('follows the pull policy for a stored URL', async () => {
    const url = server.url('/h/app.aci');
    const cached = { url, downloadTime: new Date(0), imageId: 'sha512-x' };
    assert.equal((await fetcher.fetch(urlRef(url), options(tmp, { cached, pullPolicy: 'new' }))).notModified, true);
    assert.equal((await fetcher.fetch(urlRef(url), options(tmp, { cached, pullPolicy: 'never' }))).notModified, true);
    await rejectsWith(fetcher.fetch(urlRef(url), options(tmp, { pullPolicy: 'never' })), 'E_NOT_FOUND', /pull policy is "never"/);
    assert.equal(server.requests.length, 0);
  });

  it('resumes a truncated download with Range', async () => {
    server.aci('/i/app.aci', image, { signature: SIG, etag: 'big', truncateAt: 70_000, truncateTimes: 1 });
    await rejectsWith(
      fetcher.fetch(urlRef(server.url('/i/app.aci')), options(tmp)),
      'E_UNAVAILABLE',
      /\/i\/app\.aci.*(truncated|interrupted).*kept and will be resumed/,
    );
    const part = fs.readdirSync(tmp).find((f) => f.endsWith('.part'));
    assert.ok(part, `a partial file is kept: ${fs.readdirSync(tmp).join(',')}`);
    const have = fs.statSync(path.join(tmp, part)).size;
    assert.ok(have > 0 && have <= 70_000, `kept ${have} bytes`);

    const progress = new RecordingProgress();
    const r = await fetcher.fetch(urlRef(server.url('/i/app.aci')), options(tmp, { progress }));
    assert.deepEqual(await readAll(r.aci), image);
    const second = server.requestsTo('/i/app.aci')[1]!;
    assert.equal(second.headers.range, `bytes=${have}-`);
    assert.equal(second.headers['if-range'], '"big"');
    assert.equal(second.status, 206);
    assert.equal(progress.advancedAfter('Downloading ACI'), image.length);
    assert.deepEqual(fs.readdirSync(tmp), []);
  });

  it('starts over when the resource changed, the range is bad, or unsatisfiable', async () => {
    const url = server.url('/j/app.aci');
    const fresh = bytes(image.length, 99);
    // Partial of version 1, then the server has version 2: If-Range fails, 200 with the new body.
    server.aci('/j/app.aci', image, { signature: SIG, etag: 'v1', truncateAt: 50_000, truncateTimes: 1 });
    await assert.rejects(fetcher.fetch(urlRef(url), options(tmp)));
    server.aci('/j/app.aci', fresh, { signature: SIG, etag: 'v2' });
    assert.deepEqual(await readAll((await fetcher.fetch(urlRef(url), options(tmp))).aci), fresh);
    assert.equal(server.requestsTo('/j/app.aci').at(-1)!.status, 200);

    // A 206 that does not start where we asked: discarded, full download.
    server.clearLog();
    server.aci('/j/app.aci', image, { signature: SIG, etag: 'v3', truncateAt: 50_000, truncateTimes: 1, badContentRange: true });
    await assert.rejects(fetcher.fetch(urlRef(url), options(tmp)));
    assert.deepEqual(await readAll((await fetcher.fetch(urlRef(url), options(tmp))).aci), image);
    const tries = server.requestsTo('/j/app.aci');
    assert.equal(tries.length, 3);
    assert.ok(tries[1]!.headers.range);
    assert.equal(tries[2]!.headers.range, undefined);
    assert.equal(tries[2]!.status, 200);

    // The partial is as long as the (now shorter) image: 416, then a full download.
    server.clearLog();
    const short = image.subarray(0, 10_000);
    server.aci('/j/app.aci', image, { signature: SIG, etag: 'v4', truncateAt: 50_000, truncateTimes: 1 });
    await assert.rejects(fetcher.fetch(urlRef(url), options(tmp)));
    server.aci('/j/app.aci', short, { signature: SIG, etag: 'v4' });
    assert.deepEqual(await readAll((await fetcher.fetch(urlRef(url), options(tmp))).aci), short);
    assert.deepEqual(server.requestsTo('/j/app.aci').map((q) => q.status), [0, 416, 200], 'truncated, 416, full');
    assert.deepEqual(fs.readdirSync(tmp), []);
  });

  it('never hands over a truncated body', async () => {
    // No ETag, no ranges: cannot resume; the partial file is removed.
    server.aci('/k/app.aci', image, { signature: SIG, ranges: false, truncateAt: 30_000 });
    await rejectsWith(fetcher.fetch(urlRef(server.url('/k/app.aci')), options(tmp)), 'E_UNAVAILABLE', /\/k\/app\.aci/);
    assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.endsWith('.part')), []);
    // Chunked and cut short.
    server.aci('/k/chunked.aci', image, { signature: SIG, chunked: true, truncateAt: 30_000 });
    await rejectsWith(fetcher.fetch(urlRef(server.url('/k/chunked.aci')), options(tmp)), 'E_UNAVAILABLE', /\/k\/chunked\.aci/);
  });

  it('refuses an https→http redirect unless http is allowed', async () => {
    plain.aci('/l/app.aci', image, { signature: SIG });
    server.route('/l/app.aci', { redirect: plain.url('/l/app.aci') });
    server.route('/l/app.aci.asc', { redirect: plain.url('/l/app.aci.asc') });
    await rejectsWith(
      fetcher.fetch(urlRef(server.url('/l/app.aci')), options(tmp)),
      'E_UNTRUSTED',
      /redirect from https:.*to plain http.*insecure-options=http/,
    );
    assert.equal(plain.requests.length, 0);
    const r = await fetcher.fetch(urlRef(server.url('/l/app.aci')), options(tmp, { insecure: insecure('http') }));
    assert.deepEqual(await readAll(r.aci), image);
    assert.equal(r.remote?.url, server.url('/l/app.aci'), 'the cache key is the URL asked for');
  });

  it('refuses plain http URLs unless http is allowed', async () => {
    plain.aci('/m/app.aci', image, { signature: SIG });
    await rejectsWith(
      fetcher.fetch(urlRef(plain.url('/m/app.aci')), options(tmp)),
      'E_UNTRUSTED',
      /plain http.*insecure-options=http/,
    );
    assert.equal(plain.requests.length, 0);
    const r = await fetcher.fetch(urlRef(plain.url('/m/app.aci')), options(tmp, { insecure: insecure('http') }));
    assert.deepEqual(await readAll(r.aci), image);
  });

  it('refuses an untrusted or mismatched certificate unless tls is insecure', async () => {
    server.aci('/n/app.aci', image, { signature: SIG });
    const noCa = new HttpsFetcher();
    await rejectsWith(
      noCa.fetch(urlRef(server.url('/n/app.aci')), options(tmp)),
      'E_UNTRUSTED',
      /TLS certificate of 127\.0\.0\.1:\d+ not trusted.*insecure-options=tls/,
    );
    const r = await noCa.fetch(urlRef(server.url('/n/app.aci')), options(tmp, { insecure: insecure('tls') }));
    assert.deepEqual(await readAll(r.aci), image);

    const wrong = await server.ca!.issue('wrong.invalid', ['DNS:wrong.invalid']);
    const other = await startTestServer({ ca: server.ca!, certificate: wrong });
    try {
      other.aci('/n/app.aci', image, { signature: SIG });
      await rejectsWith(fetcher.fetch(urlRef(other.url('/n/app.aci')), options(tmp)), 'E_UNTRUSTED', /not trusted/);
      assert.equal(other.requests.length, 0);
    } finally {
      await other.close();
    }
  });

  it('stops at 10 redirects', async () => {
    for (let i = 0; i < 12; i++) server.route(`/o/${i}.aci.asc`, { redirect: `/o/${i + 1}.aci.asc` });
    await rejectsWith(fetcher.fetch(urlRef(server.url('/o/0.aci')), options(tmp)), 'E_UNAVAILABLE', /more than 10 redirects/);
  });

  it('aborts a stalled download through the signal', async () => {
    server.aci('/p/app.aci', image, { signature: SIG, stallAt: 1000 });
    const ac = new AbortController();
    const started = Date.now();
    const p = fetcher.fetch(urlRef(server.url('/p/app.aci')), options(tmp, { signal: ac.signal }));
    setTimeout(() => ac.abort(), 200);
    await assert.rejects(p, (err: { code?: string; details?: { aborted?: boolean }; message: string }) => {
      assert.equal(err.code, 'E_UNAVAILABLE');
      assert.equal(err.details?.aborted, true);
      assert.match(err.message, /\/p\/app\.aci aborted/);
      return true;
    });
    assert.ok(Date.now() - started < 5000);
    await rejectsWith(fetcher.fetch(urlRef(server.url('/p/app.aci')), options(tmp, { signal: AbortSignal.abort() })), 'E_UNAVAILABLE', /aborted/);
  });

  it('times out a connection that stops sending', async () => {
    server.aci('/r/app.aci', image, { signature: SIG, stallAt: 5000 });
    const impatient = new HttpsFetcher({ extraCa: [server.caPem!], timeoutMs: 300 });
    await rejectsWith(impatient.fetch(urlRef(server.url('/r/app.aci')), options(tmp)), 'E_UNAVAILABLE', /\/r\/app\.aci.*interrupted/);
  });

  it('two concurrent fetches of one URL both get the whole image', async () => {
    server.aci('/s/app.aci', image, { signature: SIG, etag: true });
    const ref = urlRef(server.url('/s/app.aci'));
    const [a, b] = await Promise.all([fetcher.fetch(ref, options(tmp)), fetcher.fetch(ref, options(tmp))]);
    const [ga, gb] = await Promise.all([readAll(a.aci), readAll(b.aci)]);
    assert.deepEqual(ga, image);
    assert.deepEqual(gb, image);
    assert.deepEqual(fs.readdirSync(tmp), []);
  });

  it('refuses other reference kinds and schemes', async () => {
    await rejectsWith(fetcher.fetch({ kind: 'path', raw: '/x.aci', path: '/x.aci' }, options(tmp)), 'E_INVALID_ARGUMENT', /path/);
    await rejectsWith(fetcher.fetch(urlRef('ftp://127.0.0.1/x.aci'), options(tmp)), 'E_UNTRUSTED', /unsupported scheme ftp/);
  });

  it('is contributed as rkt.fetcher.v1 with a side-effect free init', async () => {
    assert.equal(contribution.point, 'rkt.fetcher.v1');
    const f = await contribution.init({ config: { caFile: path.join(tmp, 'missing.pem') } } as never);
    assert.equal(f.id, 'https');
    assert.deepEqual(fs.readdirSync(tmp), []);
    // The CA file is read at the first fetch, and a missing one is a clear error.
    server.aci('/q/app.aci', image, { signature: SIG });
    await rejectsWith(f.fetch(urlRef(server.url('/q/app.aci')), options(tmp)), 'E_INVALID_ARGUMENT', /caFile.*missing\.pem/);
    fs.writeFileSync(path.join(tmp, 'ca.pem'), server.caPem!);
    const g = await contribution.init({ config: { caFile: path.join(tmp, 'ca.pem') } } as never);
    const sub = tempDir();
    try {
      assert.deepEqual(await readAll((await g.fetch(urlRef(server.url('/q/app.aci')), options(sub))).aci), image);
    } finally {
      fs.rmSync(sub, { recursive: true, force: true });
    }
  });
});
