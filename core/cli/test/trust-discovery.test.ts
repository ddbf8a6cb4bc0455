/**
 * `rkt trust --prefix P` without keys: ac-discovery-pubkeys through @rkt/appc discovery, against a
 * loopback HTTPS server (self-signed, openssl). In-process, with a getter that sends every
 * discovery request to that server; plus one run of the real binary for the failure path.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeHttpGetter, type HttpGetter } from '@rkt/appc';
import { Keystore } from '../src/runtime/keystore.js';
import { addKeys, discoverPubkeyLocations, type PubkeyOptions } from '../src/runtime/trust/pubkey.js';
import { Gpg, configDirs, type GpgKey } from './keystore-helpers.js';

const gpg = new Gpg();
const base = mkdtempSync(join(tmpdir(), 'rkt-trust-disc-'));
let key: GpgKey;
let server: Server;
let origin: string;
const requests: string[] = [];

before(async () => {
  key = gpg.genKey('Discovered <disc@example.com>');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem',
      '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { cwd: base, stdio: 'ignore' },
  );
  server = createServer({ key: readFileSync(join(base, 'key.pem')), cert: readFileSync(join(base, 'cert.pem')) }, (req, res) => {
    requests.push(`${req.headers.host}${req.url}`);
    const page = (meta: string) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<html><head>${meta}</head><body></body></html>`);
    };
    if (req.url === '/app?ac-discovery=1')
      page(`<meta name="ac-discovery" content="example.com/app https://example.com/{name}-{version}.{ext}">
            <meta name="ac-discovery-pubkeys" content="example.com/app ${origin}/pubkeys.gpg">`);
    else if (req.url === '/nokeys?ac-discovery=1') page('<meta name="ac-discovery" content="example.com/nokeys https://x/{name}.{ext}">');
    else if (req.url === '/pubkeys.gpg') {
      res.writeHead(200);
      res.end(key.publicKey);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.close();
  gpg.cleanup();
  rmSync(base, { recursive: true, force: true });
});

/** Sends every discovery GET (https://example.com/…) to the loopback server, same path. */
function loopbackGetter(): HttpGetter {
  const inner = new NodeHttpGetter();
  return { get: (url, o) => inner.get(url.replace(/^https?:\/\/[^/?]+/, origin), o) };
}

function options(ks: Keystore, out: string[], extra: Partial<PubkeyOptions> = {}): PubkeyOptions {
  return {
    keystore: ks,
    insecureAllowHttp: false,
    insecureSkipTlsCheck: true,
    trustKeysFromHttps: false,
    discoveryGetter: loopbackGetter(),
    out: (l) => out.push(l),
    log: (l) => out.push(`pubkey: ${l}`),
    interactive: () => false,
    ...extra,
  };
}

test('keys are discovered from ac-discovery-pubkeys, walking up the name, then trusted for the prefix', async (t) => {
  const d = configDirs('rkt-disc-ks-');
  t.after(() => d.cleanup());
  const ks = new Keystore({ systemConfigDir: d.system, localConfigDir: d.local });
  const out: string[] = [];
  requests.length = 0;
  const locations = await discoverPubkeyLocations('example.com/app/sub', options(ks, out, { debug: true }));
  assert.deepEqual(locations, [`${origin}/pubkeys.gpg`]);
  assert.deepEqual(requests.map((r) => r.replace(/^[^/]*/, '')), ['/app/sub?ac-discovery=1', '/app?ac-discovery=1']);
  assert.match(out.join('\n'), /pubkey: meta tag 'ac-discovery-pubkeys' not found on example\.com\/app\/sub: .*404/);

  const stored = await addKeys(locations, 'example.com/app/sub', 'force', options(ks, out));
  assert.equal(stored[0]!.path, join(d.local, 'trustedkeys', 'prefix.d', 'example.com', 'app', 'sub', key.fingerprint));
  assert.ok(out.includes(`Trusting "${origin}/pubkeys.gpg" for prefix "example.com/app/sub" without fingerprint review.`));
});

test('a discovered https key without review needs --trust-keys-from-https when there is no terminal', async (t) => {
  const d = configDirs('rkt-disc-ks-');
  t.after(() => d.cleanup());
  const ks = new Keystore({ systemConfigDir: d.system, localConfigDir: d.local });
  const out: string[] = [];
  const locations = await discoverPubkeyLocations('example.com/app', options(ks, out));
  await assert.rejects(addKeys(locations, 'example.com/app', 'ask', options(ks, out)), /lack of tty/);
  assert.equal(existsSync(join(d.local, 'trustedkeys')), false);
  const stored = await addKeys(locations, 'example.com/app', 'ask', options(ks, out, { trustKeysFromHttps: true }));
  assert.equal(stored.length, 1);
});

test('discovery failures read as rkt\'s', async (t) => {
  const d = configDirs('rkt-disc-ks-');
  t.after(() => d.cleanup());
  const ks = new Keystore({ systemConfigDir: d.system, localConfigDir: d.local });
  await assert.rejects(discoverPubkeyLocations('example.com/nokeys', options(ks, [])), /^RktError: prefix meta discovery error: discovery failed: no public keys found for example\.com\/nokeys/);
  // Certificate checks are on unless --insecure-options=tls.
  await assert.rejects(discoverPubkeyLocations('example.com/app', options(ks, [], { insecureSkipTlsCheck: false })), /prefix meta discovery error: discovery failed/);
  await assert.rejects(discoverPubkeyLocations('', options(ks, [])), /empty prefix/);
});

test('rkt trust --prefix with no key runs discovery (failure path, real binary)', async () => {
  const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
  const rkt = join(repoRoot, 'node_modules', '.bin', 'rkt');
  const d = join(base, 'cli');
  // Nothing listens on 127.0.0.1:443, so https://127.0.0.1/app?ac-discovery=1 is refused at once.
  const r = await new Promise<{ code: number; stderr: string }>((done) =>
    execFile(
      rkt,
      ['trust', `--dir=${d}/data`, `--system-config=${d}/system`, `--local-config=${d}/local`, '--prefix=127.0.0.1/app'],
      { encoding: 'utf8', timeout: 60_000 },
      (error, _stdout, stderr) => done({ code: error ? Number((error as { code?: number }).code) : 0, stderr }),
    ),
  );
  assert.equal(r.code, 254);
  assert.match(r.stderr, /^trust: error determining key location: prefix meta discovery error: discovery failed: no public keys found for 127\.0\.0\.1\/app/);
  assert.equal(existsSync(join(d, 'local')), false);
});
