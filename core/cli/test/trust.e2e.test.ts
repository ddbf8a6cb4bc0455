/**
 * `rkt trust` end to end: the real binary, fresh config dirs, keys made by gpg, keys served by
 * loopback HTTP(S) servers (self-signed certificate made by openssl), the review prompt answered
 * through a pseudo-terminal (util-linux `script`).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gpg, type GpgKey } from './keystore-helpers.js';

const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const rkt = join(repoRoot, 'node_modules', '.bin', 'rkt');

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

/** Async on purpose: the servers below live in this process. */
function run(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return new Promise((done, fail) => {
    const child = execFile(rkt, args, { encoding: 'utf8', timeout: 60_000, env: opts.env ?? process.env }, (error, stdout, stderr) => {
      const code = error && typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : error ? -1 : 0;
      if (error && code === -1) return fail(error);
      done({ status: code, stdout, stderr });
    });
    child.stdin!.end(opts.input ?? '');
  });
}

/** Run under a pseudo-terminal; `input` is typed into it. stdout and stderr arrive merged, CRLF. */
function runTty(args: string[], input: string): Promise<Result> {
  const cmd = [rkt, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((done, fail) => {
    const child = execFile('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error && typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : error ? -1 : 0;
      if (error && code === -1) return fail(error);
      done({ status: code, stdout: stdout.replace(/\r\n/g, '\n'), stderr });
    });
    child.stdin!.end(input);
  });
}

const gpg = new Gpg();
const base = mkdtempSync(join(tmpdir(), 'rkt-trust-e2e-'));
let key: GpgKey;
let key2: GpgKey;
let keyFile: string;
let certDir: string;
const servers: Server[] = [];

before(() => {
  key = gpg.genKey('Example Signer <signer@example.com>');
  key2 = gpg.genKey('Second <second@example.com>');
  keyFile = join(base, 'pubkey.asc');
  writeFileSync(keyFile, key.publicKey);
  certDir = join(base, 'tls');
  execFileSync('mkdir', ['-p', certDir]);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem',
      '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { cwd: certDir, stdio: 'ignore' },
  );
});
after(() => {
  for (const s of servers) s.close();
  gpg.cleanup();
  rmSync(base, { recursive: true, force: true });
});

let n = 0;
function dirs() {
  const d = join(base, `case-${++n}`);
  return {
    local: join(d, 'local'),
    args: [`--dir=${join(d, 'data')}`, `--system-config=${join(d, 'system')}`, `--local-config=${join(d, 'local')}`],
    prefixKey: (prefix: string, fpr: string) => join(d, 'local', 'trustedkeys', 'prefix.d', ...prefix.split('/'), fpr),
    rootKey: (fpr: string) => join(d, 'local', 'trustedkeys', 'root.d', fpr),
  };
}

function fingerprintLine(fpr: string): string {
  const g = fpr.toUpperCase().match(/.{4}/g)!;
  return `gpg key fingerprint is: ${g.slice(0, 5).join(' ')}  ${g.slice(5).join(' ')}`;
}

async function serve(kind: 'http' | 'https', handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server =
    kind === 'https'
      ? createHttpsServer({ key: readFileSync(join(certDir, 'key.pem')), cert: readFileSync(join(certDir, 'cert.pem')) }, handler)
      : createHttpServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return `${kind}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function keyServer(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === '/pubkeys.gpg') {
    res.writeHead(200, { 'content-type': 'application/pgp-keys' });
    res.end(key.publicKey);
  } else if (req.url === '/redirect-to-http') {
    res.writeHead(302, { location: 'http://127.0.0.1:9/pubkeys.gpg' });
    res.end();
  } else {
    res.writeHead(404);
    res.end('not found');
  }
}

test('no --prefix/--root: usage without keys, rkt\'s unbounded-trust refusal with keys; exit 254', async () => {
  const d = dirs();
  const usage = await run(['trust', ...d.args]);
  assert.equal(usage.status, 254);
  assert.match(usage.stderr, /^Usage:\n {2}rkt trust \[--prefix=PREFIX\]/);
  const refused = await run(['trust', ...d.args, keyFile]);
  assert.equal(refused.status, 254);
  assert.equal(
    refused.stderr,
    `trust: aborting due to implicit unbounded trust (root domain)
Please provide a specific domain prefix to trust:
    rkt trust --prefix "example.com/foo" [PUBKEY]
    rkt trust --prefix "example.com/foo/*" [PUBKEY]
Otherwise, trust at the root domain (not recommended) must be explicitly requested:
    rkt trust --root PUBKEY
`,
  );
  assert.equal(existsSync(d.local), false);
});

test('--root and --prefix are mutually exclusive; a prefix with a scheme or outside prefix.d is refused', async () => {
  const d = dirs();
  const both = await run(['trust', ...d.args, '--root', '--prefix=example.com', keyFile]);
  assert.equal(both.status, 254);
  assert.equal(both.stderr, 'trust: --root and --prefix usage mutually exclusive\n');
  const scheme = await run(['trust', ...d.args, '--prefix=https://example.com/app', '--skip-fingerprint-review', keyFile]);
  assert.equal(scheme.status, 254);
  assert.equal(scheme.stderr, 'trust: --prefix must not contain a URL scheme, omit https://\n');
  const escape = await run(['trust', ...d.args, '--prefix=../../etc', '--skip-fingerprint-review', keyFile]);
  assert.equal(escape.status, 254);
  assert.match(escape.stderr, /^trust: invalid prefix "\.\.\/\.\.\/etc": a prefix must be an AC identifier/);
  assert.equal(existsSync(d.local), false);
});

test('a key file with --skip-fingerprint-review is written to the local prefix.d, rkt\'s output', async () => {
  const d = dirs();
  const r = await run(['trust', ...d.args, '--prefix=example.com/app', '--skip-fingerprint-review', keyFile]);
  assert.equal(r.status, 0, r.stderr);
  const path = d.prefixKey('example.com/app', key.fingerprint);
  assert.equal(
    r.stdout,
    `${fingerprintLine(key.fingerprint)}
\tExample Signer <signer@example.com>
Trusting "${keyFile}" for prefix "example.com/app" without fingerprint review.
Added key for prefix "example.com/app" at "${path}"
`,
  );
  assert.equal(r.stderr, `pubkey: prefix: "example.com/app"\nkey: "${keyFile}"\n`);
  assert.equal(statSync(path).mode & 0o777, 0o644);
  assert.match(readFileSync(path, 'utf8'), /BEGIN PGP PUBLIC KEY BLOCK/);
});

test('subkey fingerprints are listed; --root writes to root.d', async () => {
  const g = new Gpg();
  after(() => g.cleanup());
  const k = g.genKey('With Sub <sub@example.com>');
  const sub = g.addSigningSubkey(k.fingerprint);
  const file = join(base, 'with-sub.asc');
  writeFileSync(file, g.key(k.fingerprint).publicKey);
  const d = dirs();
  const r = await run(['trust', ...d.args, '--root', '--skip-fingerprint-review', file]);
  assert.equal(r.status, 0, r.stderr);
  const subLine = fingerprintLine(sub).replace('gpg key fingerprint is: ', '    Subkey fingerprint: ');
  assert.equal(
    r.stdout,
    `${fingerprintLine(k.fingerprint)}
${subLine}
\tWith Sub <sub@example.com>
Trusting "${file}" for prefix "" without fingerprint review.
Added root key at "${d.rootKey(k.fingerprint)}"
`,
  );
  assert.ok(existsSync(d.rootKey(k.fingerprint)));
});

test('without a terminal the review cannot happen: rkt\'s hints and error, nothing written', async () => {
  const d = dirs();
  const r = await run(['trust', ...d.args, '--prefix=example.com/app', keyFile], { input: 'yes\n' });
  assert.equal(r.status, 254);
  assert.equal(
    r.stderr,
    `pubkey: prefix: "example.com/app"
key: "${keyFile}"
pubkey: To trust the key for "example.com/app", do one of the following:
pubkey:  - call rkt with --trust-keys-from-https
pubkey:  - run: rkt trust --prefix "example.com/app"
trust: error adding keys: error reviewing key: unable to ask user to review fingerprint due to lack of tty
`,
  );
  assert.equal(r.stdout, `${fingerprintLine(key.fingerprint)}\n\tExample Signer <signer@example.com>\n`);
  assert.equal(existsSync(d.prefixKey('example.com/app', key.fingerprint)), false);
});

test('the prompt on a terminal accepts exactly yes or no', async () => {
  const d = dirs();
  const yes = await runTty(['trust', ...d.args, '--prefix=example.com/app', keyFile], 'maybe\nYES\nyes\n');
  assert.equal(yes.status, 0, yes.stdout);
  const prompt = 'Are you sure you want to trust this key (yes/no)?\n';
  const after = yes.stdout.slice(yes.stdout.indexOf(prompt));
  assert.equal(
    after.replace(/^(maybe|YES|yes)\n/gm, ''), // the terminal's echo of what was typed
    `${prompt}Please enter 'yes' or 'no'\n${prompt}Please enter 'yes' or 'no'\n${prompt}` +
      `Trusting "${keyFile}" for prefix "example.com/app" after fingerprint review.\n` +
      `Added key for prefix "example.com/app" at "${d.prefixKey('example.com/app', key.fingerprint)}"\n`,
  );
  assert.ok(existsSync(d.prefixKey('example.com/app', key.fingerprint)));

  const d2 = dirs();
  const no = await runTty(['trust', ...d2.args, '--prefix=example.com/app', keyFile], 'no\n');
  assert.equal(no.status, 0, no.stdout);
  assert.match(no.stdout, new RegExp(`pubkey: not trusting "${keyFile.replace(/[.]/g, '\\.')}"`));
  assert.doesNotMatch(no.stdout, /Trusting|Added/);
  assert.equal(existsSync(d2.local), false);

  const eof = await runTty(['trust', ...d2.args, '--prefix=example.com/app', keyFile], '');
  assert.equal(eof.status, 254);
  assert.match(eof.stdout, /trust: error adding keys: error reviewing key: error reading input: EOF/);
});

test('https key URL: certificate checked unless --insecure-options=tls; --trust-keys-from-https skips review', async () => {
  const url = `${await serve('https', keyServer)}/pubkeys.gpg`;
  const d = dirs();
  const untrustedCert = await run(['trust', ...d.args, '--prefix=example.com/app', '--skip-fingerprint-review', url]);
  assert.equal(untrustedCert.status, 254);
  assert.match(untrustedCert.stderr, new RegExp(`^trust: error adding keys: error accessing the key ${url.replace(/[.]/g, '\\.')}: .*(self[- ]signed|certificate)`, 'm'));
  assert.equal(existsSync(d.local), false);

  const ok = await run(['trust', ...d.args, '--insecure-options=tls', '--prefix=example.com/app', '--skip-fingerprint-review', url]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`Trusting "${url.replace(/[.]/g, '\\.')}" for prefix "example.com/app" without fingerprint review\\.`));
  assert.ok(existsSync(d.prefixKey('example.com/app', key.fingerprint)));

  // No terminal, no --skip-fingerprint-review: --trust-keys-from-https accepts an https key.
  const d2 = dirs();
  const auto = await run(['trust', ...d2.args, '--insecure-options=tls', '--trust-keys-from-https', '--prefix=example.com/app', url]);
  assert.equal(auto.status, 0, auto.stderr);
  assert.match(auto.stdout, /without fingerprint review\./);
  assert.ok(existsSync(d2.prefixKey('example.com/app', key.fingerprint)));

  const missing = await run(['trust', ...d2.args, '--insecure-options=tls', '--prefix=example.com/app', '--skip-fingerprint-review', `${url}.missing`]);
  assert.equal(missing.status, 254);
  assert.match(missing.stderr, /error accessing the key .*: bad HTTP status code: 404/);
});

test('http key URLs need --insecure-allow-http, also behind an https redirect; --trust-keys-from-https does not cover http', async () => {
  const url = `${await serve('http', keyServer)}/pubkeys.gpg`;
  const d = dirs();
  const refused = await run(['trust', ...d.args, '--prefix=example.com/app', '--skip-fingerprint-review', url]);
  assert.equal(refused.status, 254);
  assert.equal(refused.stderr, `trust: error adding keys: error accessing the key ${url}: --insecure-allow-http required for http URLs\n`);
  const redirect = `${await serve('https', keyServer)}/redirect-to-http`;
  const viaRedirect = await run(['trust', ...d.args, '--insecure-options=tls', '--prefix=example.com/app', '--skip-fingerprint-review', redirect]);
  assert.equal(viaRedirect.status, 254);
  assert.match(viaRedirect.stderr, /refusing the redirect to http:\/\/127\.0\.0\.1:9\/pubkeys\.gpg: --insecure-allow-http required/);
  assert.equal(existsSync(d.local), false);

  const noTty = await run(['trust', ...d.args, '--insecure-allow-http', '--trust-keys-from-https', '--prefix=example.com/app', url]);
  assert.equal(noTty.status, 254);
  assert.match(noTty.stderr, /lack of tty/);

  const ok = await run(['trust', ...d.args, '--insecure-allow-http', '--prefix=example.com/app', '--skip-fingerprint-review', url]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(existsSync(d.prefixKey('example.com/app', key.fingerprint)));
});

test('several keys are added in order; a bad location stops with an error naming it', async () => {
  const d = dirs();
  const second = join(base, 'second.asc');
  writeFileSync(second, key2.publicKey);
  const r = await run(['trust', ...d.args, '--prefix=example.com', '--skip-fingerprint-review', keyFile, second]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(d.prefixKey('example.com', key.fingerprint)));
  assert.ok(existsSync(d.prefixKey('example.com', key2.fingerprint)));

  const missing = join(base, 'nope.asc');
  const bad = await run(['trust', ...d.args, '--prefix=example.org', '--skip-fingerprint-review', keyFile, missing]);
  assert.equal(bad.status, 254);
  assert.match(bad.stderr, new RegExp(`^trust: error adding keys: error accessing the key ${missing}: ENOENT`, 'm'));
  assert.ok(existsSync(d.prefixKey('example.org', key.fingerprint)), 'keys before the failure stay added (as rkt)');

  const notKey = join(base, 'not-a-key.asc');
  writeFileSync(notKey, 'hello');
  const garbage = await run(['trust', ...d.args, '--prefix=example.net', '--skip-fingerprint-review', notKey]);
  assert.equal(garbage.status, 254);
  assert.match(garbage.stderr, /^trust: error adding keys: error displaying the key .*not-a-key\.asc: error reading key: /m);
  const ftp = await run(['trust', ...d.args, '--prefix=example.net', '--skip-fingerprint-review', 'ftp://example.com/k']);
  assert.equal(ftp.status, 254);
  assert.match(ftp.stderr, /only local files and http or https URLs supported/);
});
