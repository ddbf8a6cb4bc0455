/** The https fetcher by appc name: discovery (meta tags, templates, walking up) then download. */
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { ImageRef } from '@rkt/api';
import { startTestServer, startHttpServer, type TestServer } from '@rkt/testkit';
import { HttpsFetcher, withDefaultLabels } from '../src/index.js';
import { bytes, insecure, options, readAll, SIG, tempDir } from './helpers.js';

const nameRef = (name: string, labels: Record<string, string> = {}): ImageRef => ({
  kind: 'name',
  raw: name,
  name,
  labels,
});

async function rejectsWith(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: { code?: string; message?: string }) => {
    assert.equal(err.code, code, `code of: ${err.message}`);
    assert.match(err.message ?? '', re);
    return true;
  });
}

describe('https fetcher by name', () => {
  let server: TestServer;
  let fetcher: HttpsFetcher;
  let tmp: string;
  const image = bytes(50_000, 3);
  const NAME = '127.0.0.1/example/app';
  const arch = withDefaultLabels({}).arch!;

  before(async () => {
    server = await startTestServer();
    fetcher = new HttpsFetcher({ extraCa: [server.caPem!], discoveryPort: server.port });
  });
  after(() => server.close());
  beforeEach(() => {
    tmp = tempDir();
    server.clearLog();
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('discovers the image from meta tags, renders version/os/arch, fetches the signature first', async () => {
    server.discovery('/example/app', {
      discovery: [
        [NAME, `${server.origin}/images/{os}/{arch}/{name}-{version}.{ext}`],
        [NAME, `${server.origin}/second/{name}.{ext}`],
      ],
      pubkeys: [[NAME, `${server.origin}/keys.gpg`]],
    });
    server.aci(`/images/linux/amd64/${NAME}-1.0.0.aci`, image, { signature: SIG });
    const r = await fetcher.fetch(nameRef(NAME, { version: '1.0.0', os: 'linux', arch: 'amd64' }), options(tmp));
    assert.deepEqual(await readAll(r.aci), image);
    assert.equal(Buffer.from(r.signature!).toString(), SIG);
    assert.equal(r.trustName, NAME);
    assert.equal(r.remote?.url, server.url(`/images/linux/amd64/${NAME}-1.0.0.aci`));
    assert.deepEqual(server.requests.map((q) => q.url), [
      '/example/app?ac-discovery=1',
      `/images/linux/amd64/${NAME}-1.0.0.aci.asc`,
      `/images/linux/amd64/${NAME}-1.0.0.aci`,
    ]);
  });

  it('walks up the name, defaults version to latest and os/arch to the host', async () => {
    server.discovery('/', { discovery: [['127.0.0.1', `${server.origin}/all/{os}-{arch}/{name}/{version}.{ext}`]] });
    const name = '127.0.0.1/other/deep/app';
    server.aci(`/all/linux-${arch}/${name}/latest.aci`, image, { signature: SIG });
    let r;
    try {
      r = await fetcher.fetch(nameRef(name), options(tmp));
    } finally {
      server.removeRoute('/?ac-discovery=1'); // it would answer for every later name
    }
    assert.deepEqual(await readAll(r.aci), image);
    assert.deepEqual(
      server.requests.slice(0, 4).map((q) => [q.url, q.status]),
      [
        ['/other/deep/app?ac-discovery=1', 404],
        ['/other/deep?ac-discovery=1', 404],
        ['/other?ac-discovery=1', 404],
        ['/?ac-discovery=1', 200],
      ],
    );
  });

  it('requires a signature unless --insecure-options=image', async () => {
    server.discovery('/nosig/app', { discovery: [['127.0.0.1/nosig', `${server.origin}/nosig/{name}-{version}.{ext}`]] });
    server.aci('/nosig/127.0.0.1/nosig/app-2.aci', image);
    const ref = nameRef('127.0.0.1/nosig/app', { version: '2' });
    await rejectsWith(fetcher.fetch(ref, options(tmp)), 'E_UNTRUSTED', /signature.*404.*insecure-options=image/);
    assert.equal(server.requestsTo('/nosig/127.0.0.1/nosig/app-2.aci').length, 0, 'no body before the signature');
    const r = await fetcher.fetch(ref, options(tmp, { insecure: insecure('image') }));
    assert.equal(r.signature, null);
    assert.equal(r.trustName, '127.0.0.1/nosig/app');
    assert.deepEqual(await readAll(r.aci), image);
  });

  it('sends credentials to discovery pages over https', async () => {
    const auth = { type: 'bearer', token: 'tok' } as const;
    server.discovery('/private/app', { discovery: [['127.0.0.1/private', `${server.origin}/p/{name}.{ext}`]] }, { auth });
    server.aci('/p/127.0.0.1/private/app.aci', image, { signature: SIG, auth, signatureRoute: { auth } });
    const ref = nameRef('127.0.0.1/private/app');
    await rejectsWith(fetcher.fetch(ref, options(tmp)), 'E_NOT_FOUND', /discovery failed.*401/);
    const headersFor = (host: string) => (host === server.host ? { Authorization: 'Bearer tok' } : ({} as Record<string, string>));
    const r = await fetcher.fetch(ref, options(tmp, { headersFor }));
    assert.deepEqual(await readAll(r.aci), image);
  });

  it('refuses an untrusted certificate on the discovery page unless tls is insecure', async () => {
    server.discovery('/tls/app', { discovery: [['127.0.0.1/tls', `${server.origin}/tls/{name}.{ext}`]] });
    server.aci('/tls/127.0.0.1/tls/app.aci', image, { signature: SIG });
    const noCa = new HttpsFetcher({ discoveryPort: server.port });
    await rejectsWith(noCa.fetch(nameRef('127.0.0.1/tls/app'), options(tmp)), 'E_NOT_FOUND', /discovery failed.*not trusted/);
    assert.equal(server.requests.length, 0, 'no request got past the handshake');
    const r = await noCa.fetch(nameRef('127.0.0.1/tls/app'), options(tmp, { insecure: insecure('tls') }));
    assert.deepEqual(await readAll(r.aci), image);
  });

  it('discovers over plain http only with --insecure-options=http', async () => {
    const plain = await startHttpServer();
    try {
      plain.discovery('/plain/app', { discovery: [['127.0.0.1/plain', `${plain.origin}/{name}.{ext}`]] });
      plain.aci('/127.0.0.1/plain/app.aci', image, { signature: SIG });
      const f = new HttpsFetcher({ discoveryPort: plain.port });
      await rejectsWith(f.fetch(nameRef('127.0.0.1/plain/app'), options(tmp)), 'E_NOT_FOUND', /discovery failed/);
      assert.equal(plain.requests.length, 0, 'nothing was asked over http');
      const headersFor = () => ({ Authorization: 'Bearer secret' });
      const r = await f.fetch(nameRef('127.0.0.1/plain/app'), options(tmp, { insecure: insecure('http'), headersFor }));
      assert.deepEqual(await readAll(r.aci), image);
      assert.equal(plain.requests.length, 3);
      for (const q of plain.requests) assert.equal(q.headers.authorization, undefined, `no credentials over http: ${q.url}`);
      assert.equal(r.remote?.url, plain.url('/127.0.0.1/plain/app.aci'));
    } finally {
      await plain.close();
    }
  });

  it('refuses a discovered plain-http image URL unless http is allowed', async () => {
    const plain = await startHttpServer();
    try {
      server.discovery('/tohttp/app', { discovery: [['127.0.0.1/tohttp', `${plain.origin}/{name}.{ext}`]] });
      plain.aci('/127.0.0.1/tohttp/app.aci', image, { signature: SIG });
      await rejectsWith(fetcher.fetch(nameRef('127.0.0.1/tohttp/app'), options(tmp)), 'E_UNTRUSTED', /plain http.*insecure-options=http/);
      assert.equal(plain.requests.length, 0);
    } finally {
      await plain.close();
    }
  });

  it('does no network with pull policy never', async () => {
    await rejectsWith(fetcher.fetch(nameRef(NAME), options(tmp, { pullPolicy: 'never' })), 'E_NOT_FOUND', /pull policy is "never"/);
    assert.equal(server.requests.length, 0);
  });

  it('an injected discover function is used as it is', async () => {
    server.aci('/inj/app.aci', image, { signature: SIG });
    const seen: string[] = [];
    const f = new HttpsFetcher({
      extraCa: [server.caPem!],
      discover: async ({ name, labels }) => {
        seen.push(`${name} ${JSON.stringify(labels)}`);
        return { aci: server.url('/inj/app.aci'), signature: server.url('/inj/app.aci.asc') };
      },
    });
    const r = await f.fetch(nameRef('example.com/inj', { version: '1' }), options(tmp));
    assert.deepEqual(await readAll(r.aci), image);
    assert.deepEqual(seen, ['example.com/inj {"version":"1"}']);
    assert.equal(r.trustName, 'example.com/inj');
  });
});
