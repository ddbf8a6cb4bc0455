import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Gpg, startTestServer, type GpgKey, type TestServer } from '@rkt/testkit';
import { rktBin, rktDirs, runAsync } from '../lib/cli.js';
import { buildBusyboxAci } from '../lib/images.js';

let gpg: Gpg;
let key: GpgKey;
let other: GpgKey;
let server: TestServer;
const dirs = rktDirs('rkt-fetch-');
let aci: Buffer;
let sig: string;

before(async () => {
  gpg = new Gpg();
  key = gpg.genKey('Hello Maintainers <hello@example.com>', 'ed25519');
  other = gpg.genKey('Mallory <mallory@example.com>', 'ed25519');
  mkdirSync(join(dirs.base, 'img'), { recursive: true });
  const file = join(dirs.base, 'img', 'hello-1.0.0.aci');
  buildBusyboxAci(file, { name: 'localhost/hello', version: '1.0.0' });
  aci = readFileSync(file);
  sig = gpg.sign(file, key.fingerprint);
  writeFileSync(`${file}.asc`, sig);
  writeFileSync(join(dirs.base, 'key.asc'), key.publicKey);
  writeFileSync(join(dirs.base, 'other.asc'), other.publicKey);
  server = await startTestServer();
  writeFileSync(join(dirs.base, 'ca.pem'), server.caPem!);
  writeFileSync(
    join(dirs.base, 'settings.json'),
    JSON.stringify({ plugins: { 'rkt.fetcher.v1.https': { caFile: join(dirs.base, 'ca.pem'), discoveryPort: server.port } } }),
  );
});

after(async () => {
  await server?.close();
  gpg?.cleanup();
  dirs.cleanup();
});

const env = () => dirs.env({ RKT_SETTINGS: join(dirs.base, 'settings.json') });
const rkt = (...args: string[]) => runAsync(rktBin, [...dirs.args(), ...args], { env: env() });
const names = async () => (await rkt('image', 'list', '--no-legend', '--fields=name')).stdout;
const trust = async (prefix: string, keyFile: string) => {
  const r = await rkt('trust', `--prefix=${prefix}`, '--skip-fingerprint-review', keyFile);
  assert.equal(r.status, 0, r.stderr);
};

test('a signed local file is fetched only once its signer is trusted for the name', async () => {
  const file = join(dirs.base, 'img', 'hello-1.0.0.aci');
  const untrusted = await rkt('fetch', file);
  assert.equal(untrusted.status, 254);
  assert.match(untrusted.stderr, /^fetch: .*localhost\/hello/m);
  assert.equal((await names()), '', 'nothing stored after a refused signature');

  await trust('localhost/hello-evil', join(dirs.base, 'key.asc'));
  const sibling = await rkt('fetch', file);
  assert.equal(sibling.status, 254, 'a key for a sibling prefix does not verify');
  assert.equal((await names()), '');

  await trust('localhost/hello', join(dirs.base, 'key.asc'));
  const ok = await rkt('fetch', file);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^sha512-[0-9a-f]{32}\n$/);
  assert.match(ok.stderr, /signature verified:\n  Hello Maintainers <hello@example\.com>/);
  const full = await rkt('fetch', '--full', file);
  assert.match(full.stdout, /^sha512-[0-9a-f]{128}\n$/);
  assert.ok(full.stdout.startsWith(ok.stdout.trim()));
  assert.equal((await names()), 'localhost/hello:1.0.0\n');
});

test('rkt fetch runs without oclif (its fast path), with the same output and errors as through oclif (RKT_FAST_PATH=0)', async () => {
  const file = join(dirs.base, 'img', 'hello-1.0.0.aci');
  const both = async (...args: string[]) => {
    const fast = await runAsync(rktBin, [...dirs.args(), ...args], { env: { ...env(), RKT_TIMING: '1' } });
    const oclif = await runAsync(rktBin, [...dirs.args(), ...args], { env: { ...env(), RKT_TIMING: '1', RKT_FAST_PATH: '0' } });
    assert.match(fast.stderr, /stage0: fast path/);
    assert.doesNotMatch(oclif.stderr, /stage0: fast path/);
    const plain = (e: string) => e.split('\n').filter((l) => !l.startsWith('rkt-timing ')).join('\n');
    assert.equal(fast.status, oclif.status, `${fast.stderr}\n${oclif.stderr}`);
    assert.equal(fast.stdout, oclif.stdout);
    assert.equal(plain(fast.stderr), plain(oclif.stderr));
    return fast;
  };
  assert.equal((await both('fetch', '--full=true', '--pull-policy', 'new', file)).status, 0);
  assert.equal((await both('fetch', join(dirs.base, 'img', 'missing.aci'))).status, 254);
  assert.equal((await both('fetch', '--pull-policy=never', 'localhost/not-there:1.0')).status, 254);
});

test('a signature by another key, or over other bytes, is refused and leaves nothing', async () => {
  const file = join(dirs.base, 'img', 'tampered.aci');
  buildBusyboxAci(file, { name: 'localhost/hello', version: '2.0.0', files: { 'etc/motd': 'tampered' } });
  writeFileSync(join(dirs.base, 'img', 'by-other.asc'), gpg.sign(file, other.fingerprint));
  const wrongKey = await rkt('fetch', `--signature=${join(dirs.base, 'img', 'by-other.asc')}`, file);
  assert.equal(wrongKey.status, 254);
  writeFileSync(`${file}.asc`, sig); // a good signature, but of another file
  const wrongBytes = await rkt('fetch', file);
  assert.equal(wrongBytes.status, 254);
  assert.match(wrongBytes.stderr, /^fetch: /m);
  assert.doesNotMatch((await names()), /2\.0\.0/);
  assert.deepEqual(readdirSync(join(dirs.data, 'cas', 'tmp')), [], 'no temporary file left behind');
});

test('signatures over plain and gzip images, SHA-512 and SHA-256, cover the file as fetched', async () => {
  await trust('localhost/digests', join(dirs.base, 'key.asc'));
  const ids = new Set<string>();
  for (const gz of [false, true]) {
    for (const digest of ['SHA512', 'SHA256']) {
      const version = `${gz ? 'gz' : 'plain'}-${digest.toLowerCase()}`;
      const plain = join(dirs.base, 'img', `digests-${version}.aci`);
      buildBusyboxAci(plain, { name: 'localhost/digests', version });
      const file = gz ? `${plain}.gz` : plain;
      if (gz) writeFileSync(file, gzipSync(readFileSync(plain)));
      const asc = join(dirs.base, 'img', `digests-${version}.sig`);
      writeFileSync(asc, gpg.sign(file, key.fingerprint, ['--digest-algo', digest]));
      const r = await rkt('fetch', `--signature=${asc}`, file);
      assert.equal(r.status, 0, `${version}: ${r.stderr}`);
      assert.match(r.stderr, /signature verified/);
      ids.add(r.stdout.trim());
      if (gz) {
        // The signature of the gzip file does not cover the uncompressed tar, and vice versa.
        const wrong = await rkt('fetch', '--pull-policy=update', `--signature=${asc}`, plain);
        assert.equal(wrong.status, 254, `${version}: the gzip file's signature must not verify the plain tar`);
      } else {
        const gzFile = `${plain}.gz`;
        writeFileSync(gzFile, gzipSync(readFileSync(plain)));
        const wrong = await rkt('fetch', '--pull-policy=update', `--signature=${asc}`, gzFile);
        assert.equal(wrong.status, 254, `${version}: the tar's signature must not verify its gzip copy`);
      }
    }
  }
  assert.equal(ids.size, 4);
});

test('https: signature first, ETag revalidation, pull policies', async () => {
  server.aci('/images/hello-1.0.0.aci', aci, { signature: sig, etag: true });
  const url = server.url('/images/hello-1.0.0.aci');
  const first = await rkt('fetch', url);
  assert.equal(first.status, 0, first.stderr);
  const reqs = server.requestsTo('/images/hello-1.0.0.aci').length + server.requestsTo('/images/hello-1.0.0.aci.asc').length;
  assert.ok(reqs >= 2);
  const sigIndex = server.requests.findIndex((r) => r.path === '/images/hello-1.0.0.aci.asc');
  const aciIndex = server.requests.findIndex((r) => r.path === '/images/hello-1.0.0.aci');
  assert.ok(sigIndex < aciIndex, 'the signature is fetched before the image');

  server.clearLog();
  const again = await rkt('fetch', url); // update (default): conditional request → 304
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, first.stdout);
  const revalidation = server.requestsTo('/images/hello-1.0.0.aci').find((r) => r.headers['if-none-match']);
  assert.ok(revalidation, 'revalidated with If-None-Match');
  assert.equal(revalidation.status, 304);

  server.clearLog();
  const cached = await rkt('fetch', '--pull-policy=new', url);
  assert.equal(cached.stdout, first.stdout);
  assert.equal(server.requests.length, 0, 'pull-policy new uses the store without a request');

  const never = await rkt('fetch', '--pull-policy=never', server.url('/images/other.aci'));
  assert.equal(never.status, 254);
});

test('a progress bar on a TTY stderr, nothing of it otherwise', async () => {
  server.aci('/images/progress.aci', aci, { signature: sig });
  const url = server.url('/images/progress.aci');
  const quiet = await rkt('fetch', '--pull-policy=update', url);
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /\r|ETA|\/s/, 'no progress output when stderr is not a TTY');
  // script(1) gives the command a pseudo-terminal.
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const cmd = [rktBin, ...dirs.args(), 'fetch', '--pull-policy=update', url].map(quote).join(' ');
  const tty = await runAsync('script', ['-qfec', cmd, '/dev/null'], { env: env() });
  assert.equal(tty.status, 0, tty.stdout + tty.stderr);
  assert.match(tty.stdout, /\r[^\r\n]*\[=+ *\] [\d.]+ [KMG]?B\/[\d.]+ [KMG]?B [\d.]+ [KMG]?B\/s/, 'a bar with bytes done/total and a rate');
});

test('appc discovery by name over https with the trusted key', async () => {
  server.discovery('/hello', { discovery: [['localhost/hello', `https://127.0.0.1:${server.port}/images/hello-{version}.{ext}`]] });
  server.aci('/images/hello-1.0.0.aci', aci, { signature: sig });
  const r = await rkt('fetch', '--pull-policy=update', 'localhost/hello:1.0.0');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(server.requests.some((q) => q.url.includes('ac-discovery=1')));
  const missing = await rkt('fetch', 'localhost/hello:9.9.9');
  assert.equal(missing.status, 254);
});

test('ten parallel fetches of one image give one image', async () => {
  const file = join(dirs.base, 'img', 'par.aci');
  buildBusyboxAci(file, { name: 'localhost/par', version: '1.0.0' });
  const runs = await Promise.all(
    Array.from({ length: 10 }, () =>
      new Promise<number | null>((resolve) => {
        const p = spawn(rktBin, [...dirs.args(), '--insecure-options=image', 'fetch', file], { env: env(), stdio: 'ignore' });
        p.on('exit', (code) => resolve(code));
      }),
    ),
  );
  assert.deepEqual(runs, Array(10).fill(0));
  assert.equal((await names()).split('\n').filter((n) => n === 'localhost/par:1.0.0').length, 1);
});

test('kill -9 during a download, then the next fetch succeeds', async () => {
  const big = Buffer.concat([aci, Buffer.alloc(0)]);
  server.aci('/images/slow.aci', big, { signature: sig, stallAt: 4096 });
  const url = server.url('/images/slow.aci');
  const child = spawn(rktBin, [...dirs.args(), 'fetch', url], { env: env(), stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1500));
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  server.aci('/images/slow.aci', big, { signature: sig });
  const r = await rkt('fetch', url);
  assert.equal(r.status, 0, r.stderr);
});
