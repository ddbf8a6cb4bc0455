/**
 * The metadata service end to end: the real `rkt metadata-service` and real pods on the native
 * stage1 (--net=host) started with `--mds-register`, probing every endpoint from inside the pod
 * with busybox wget (`-S` shows the response headers). Covers: refusal before a pod exists when
 * no service runs; exact bodies and content types; wrong tokens (identical 401s); one pod cannot
 * read another's metadata; forged HMACs; the token never in logs; unregistration at exit and at
 * gc after kill -9; a service restart keeps registrations and signatures working; systemd socket
 * activation (systemd-socket-activate passing the registration and the public sockets); a pod on
 * the CNI default network (ptp) reaching the service on its host-side address, all inside a
 * network namespace the test creates as "the host".
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { actoolBin, repoRoot, rktBin, rktDirs, run, runAsync, type RunResult } from '../lib/cli.js';
import { buildAppAci } from './pods-lib.js';

const dirs = rktDirs('rkt-mds-');
const s1dir = join(dirs.base, 'stage1-images');
const img = (n: string) => join(dirs.base, `${n}.aci`);
const bg: ChildProcess[] = [];
let svc: { child: ChildProcess; stderr: () => string } | undefined;
let port = 0;
const serviceLogs: string[] = [];

const PROBE = String.raw`cd /out
echo -n "$AC_METADATA_URL" > url
u="$AC_METADATA_URL/acMetadata/v1"
g() { n=$1; shift; busybox wget -S -q -O $n.body "$@" 2>$n.hdr; echo $? > $n.rc; }
g uuid "$u/pod/uuid"
g manifest "$u/pod/manifest"
g ann "$u/pod/annotations"
g ann1 "$u/pod/annotations/coreos.com/rkt/stage1/mutable"
g appann "$u/apps/$AC_APP_NAME/annotations"
g appann1 "$u/apps/$AC_APP_NAME/annotations/b"
g imgman "$u/apps/$AC_APP_NAME/image/manifest"
g imgid "$u/apps/$AC_APP_NAME/image/id"
g foreign "$u/apps/$FOREIGN_APP/image/id"
g sign --post-data "content=hello%20pod" "$u/pod/hmac/sign"
e=$(busybox sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g' sign.body)
echo -n "uuid=$(cat uuid.body)&content=hello%20pod&signature=$e" > sig.form
g verify --post-data "$(cat sig.form)" "$u/pod/hmac/verify"
g forged --post-data "uuid=$(cat uuid.body)&content=hello%20pot&signature=$e" "$u/pod/hmac/verify"
g badtok "\${AC_METADATA_URL%/*}/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/acMetadata/v1/pod/uuid"
g badtok2 "\${AC_METADATA_URL%/*}/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/acMetadata/v1/apps/$AC_APP_NAME/image/id"
g badtok3 "\${AC_METADATA_URL%/*}/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/acMetadata/v1/no/such/thing"
if [ "$1" = wait ]; then
  while [ ! -e go ]; do busybox sleep 0.1; done
  g after "$u/pod/uuid"
  g xverify --post-data "$(cat xsig.form)" "$u/pod/hmac/verify"
  echo > finished
  exec busybox sleep 600
fi
`.replace(/\\\$/g, '$');

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port: p } = srv.address() as { port: number };
      srv.close(() => resolve(p));
    });
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const regSock = () => join(dirs.data, 'mds', 'registration.sock');

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    })
      .on('error', reject)
      .end();
  });
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(50)) if (await cond()) return;
  throw new Error(`timed out waiting for ${what}`);
}

async function startService(argv: string[] = [rktBin, 'metadata-service', ...dirs.args(), `--listen-port=${port}`]): Promise<void> {
  const child = spawn(argv[0]!, argv.slice(1), { env: dirs.env(), stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.once('exit', () => serviceLogs.push(err));
  svc = { child, stderr: () => err };
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`metadata-service exited: ${err}`);
    return existsSync(regSock()) && (await pingable());
  }, 'the metadata service');
}

/** The registration socket answers (connecting also triggers socket-activated starts). */
function pingable(): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: regSock(), path: '/ping' }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.setTimeout(5000, () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function stopService(): Promise<void> {
  if (!svc || svc.child.exitCode !== null) return;
  const gone = new Promise((r) => svc!.child.once('exit', r));
  svc.child.kill('SIGTERM');
  await gone;
}

before(async () => {
  mkdirSync(s1dir, { recursive: true });
  // The flavors' images as setup built them for the checkout.
  for (const f of ['native', 'fly', 'nspawn']) {
    const built = join(repoRoot, 'core', 'cli', 'stage1-images', `stage1-${f}.aci`);
    if (existsSync(built)) copyFileSync(built, join(s1dir, `stage1-${f}.aci`));
  }
  mkdirSync(join(dirs.local, 'paths.d'), { recursive: true });
  writeFileSync(join(dirs.local, 'paths.d', 'paths.json'), JSON.stringify({ rktKind: 'paths', rktVersion: 'v1', 'stage1-images': s1dir }));
  buildAppAci(img('plain'), { name: 'example.com/probe', version: '1.0', exec: ['/bin/busybox', 'sh', '/probe.sh'], files: { 'probe.sh': PROBE } });
  // image annotations (a, b) through actool patch-manifest --manifest
  const m = JSON.parse(execFileSync(actoolBin, ['cat-manifest', img('plain')], { encoding: 'utf8' })) as Record<string, unknown>;
  m.annotations = [
    { name: 'a', value: 'img-a' },
    { name: 'b', value: 'img-b' },
  ];
  writeFileSync(join(dirs.base, 'probe-manifest.json'), JSON.stringify(m));
  execFileSync(actoolBin, ['patch-manifest', `--manifest=${join(dirs.base, 'probe-manifest.json')}`, img('plain'), img('probe')]);
  port = await freePort();
});

const HOST = `rkt-e2emds-${process.pid}`;

after(async () => {
  for (const c of bg) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await stopService();
  run(rktBin, ['gc', ...dirs.args(), '--grace-period=0s'], { env: dirs.env() });
  for (const mp of readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((x): x is string => Boolean(x?.startsWith(dirs.base))).reverse())
    run('umount', ['-l', mp]);
  for (const ns of execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!))
    if (/^rkt-[0-9a-f-]{36}$/.test(ns) && podUuids().includes(ns.slice(4))) spawnSync('ip', ['netns', 'del', ns]);
  spawnSync('ip', ['netns', 'del', HOST]);
  dirs.cleanup();
});

const podArgs = (out: string, name: string, foreign: string, extra: string[] = []) => {
  mkdirSync(out, { recursive: true });
  return [
    'run',
    ...dirs.args(),
    '--insecure-options=image',
    '--stage1-from-dir=stage1-native.aci',
    '--net=host',
    '--mds-register',
    `--volume=out,kind=host,source=${out}`,
    img('probe'),
    `--name=${name}`,
    '--annotation=b=pod-b',
    '--annotation=p=pod-only',
    `--environment=FOREIGN_APP=${foreign}`,
    '--mount=volume=out,target=/out',
    ...extra,
  ];
};
const read = (out: string, n: string) => readFileSync(join(out, n), 'utf8');
const hdr = (out: string, n: string) => read(out, `${n}.hdr`);
const registrations = () => readdirSync(join(dirs.data, 'mds', 'pods')).filter((f) => f.endsWith('.json'));
const podUuids = () => ['prepare', 'prepared', 'run', 'exited-garbage', 'garbage'].flatMap((d) => (existsSync(join(dirs.data, 'pods', d)) ? readdirSync(join(dirs.data, 'pods', d)) : []));

test('--mds-register without a running service: exit 254 with a clear message, before any pod exists', async () => {
  const out = join(dirs.base, 'out-none');
  const r = await runAsync(rktBin, podArgs(out, 'probe', 'x'), { env: dirs.env() });
  assert.equal(r.status, 254, r.stderr);
  assert.match(r.stderr, /--mds-register: the metadata service is not reachable at .*registration\.sock .*rkt metadata-service.*--mds-register=false/);
  assert.deepEqual(podUuids(), []);
  assert.ok(!existsSync(join(out, 'url')));
});

let first: { out: string; uuid: string; url: string; r: RunResult };

test('every endpoint from inside a native pod: exact bodies and content types, HMAC sign/verify, forgeries and wrong tokens refused', async () => {
  await startService();
  const out = join(dirs.base, 'out-a');
  const uuidFile = join(dirs.base, 'a.uuid');
  const r = await runAsync(rktBin, [...podArgs(out, 'web', 'nope'), `--uuid-file-save=${uuidFile}`, '--debug'], { env: dirs.env() });
  assert.equal(r.status, 0, r.stderr);
  const uuid = readFileSync(uuidFile, 'utf8');
  const url = read(out, 'url');
  first = { out, uuid, url, r };
  assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/[A-Za-z0-9_-]{32}$`));
  const text = 'Content-Type: text/plain; charset=us-ascii';
  const json = 'Content-Type: application/json';
  const ok = (n: string, type: string, body?: string) => {
    assert.equal(read(out, `${n}.rc`).trim(), '0', `${n}: ${hdr(out, n)}`);
    assert.ok(hdr(out, n).split('\n').some((l) => l.trim() === type), `${n}: ${hdr(out, n)}`);
    if (body !== undefined) assert.equal(read(out, `${n}.body`), body, n);
  };
  ok('uuid', text, uuid);
  const podDir = join(dirs.data, 'pods', 'run', uuid);
  ok('manifest', json, readFileSync(join(podDir, 'pod'), 'utf8'));
  ok('ann', json);
  assert.deepEqual(JSON.parse(read(out, 'ann.body')), JSON.parse(readFileSync(join(podDir, 'pod'), 'utf8')).annotations);
  ok('ann1', text, 'false');
  ok('appann', json);
  assert.deepEqual(JSON.parse(read(out, 'appann.body')), [
    { name: 'a', value: 'img-a' },
    { name: 'b', value: 'pod-b' },
    { name: 'p', value: 'pod-only' },
  ]);
  ok('appann1', text, 'pod-b');
  ok('imgman', json, readFileSync(join(podDir, 'appsinfo', 'web', 'manifest'), 'utf8'));
  const id = (JSON.parse(readFileSync(join(podDir, 'pod'), 'utf8')) as { apps: Array<{ image: { id: string } }> }).apps[0]!.image.id;
  ok('imgid', text, id);
  ok('sign', text);
  assert.match(read(out, 'sign.body'), /^[A-Za-z0-9+/]{86}==$/);
  ok('verify', text, '');
  const refused = (n: string, status: number) => {
    assert.equal(read(out, `${n}.rc`).trim(), '1', n);
    assert.match(hdr(out, n), new RegExp(`HTTP/1\\.1 ${status} `), n);
  };
  refused('foreign', 404);
  refused('forged', 403);
  for (const n of ['badtok', 'badtok2', 'badtok3']) refused(n, 401);
  // wrong-token answers are byte-identical whatever the path
  assert.equal(hdr(out, 'badtok').replace(/Date: .*\n/, ''), hdr(out, 'badtok3').replace(/Date: .*\n/, ''));
  // at exit: unregistered, token dead, marker gone, token never printed (even with --debug)
  assert.deepEqual(registrations(), []);
  assert.equal((await get(`${url}/acMetadata/v1/pod/uuid`)).status, 401);
  assert.ok(!existsSync(join(podDir, 'mds-registered')));
  const token = url.split('/').pop()!;
  assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token), 'token in rkt run output');
  assert.ok(!svc!.stderr().includes(token), 'token in the service log');
  assert.match(svc!.stderr(), /GET \/<token>\/acMetadata\/v1\/pod\/uuid - 200/);
});

test('two pods: each sees only its own metadata; service restart keeps registrations and signatures; gc after kill -9 unregisters', async () => {
  // L: stays up (after probing, waits for "go", probes again, then sleeps)
  const outL = join(dirs.base, 'out-l');
  const uuidL = join(dirs.base, 'l.uuid');
  const child = spawn(rktBin, [...podArgs(outL, 'long', 'short'), '--', 'wait', '---', `--uuid-file-save=${uuidL}`], { env: dirs.env(), stdio: 'ignore', detached: true });
  bg.push(child);
  await waitFor(() => existsSync(join(outL, 'badtok3.rc')), 'pod L to probe');
  const uL = readFileSync(uuidL, 'utf8');
  // S: another pod, asking for L's app by name with its own token
  const outS = join(dirs.base, 'out-s');
  const r = await runAsync(rktBin, podArgs(outS, 'short', 'long'), { env: dirs.env() });
  assert.equal(r.status, 0, r.stderr);
  assert.notEqual(read(outS, 'uuid.body'), uL);
  assert.equal(read(outL, 'uuid.body'), uL);
  assert.equal(read(outS, 'foreign.rc').trim(), '1');
  assert.match(hdr(outS, 'foreign'), /HTTP\/1\.1 404 /);
  assert.equal(read(outL, 'foreign.rc').trim(), '1', 'L asks for S while S is not even running');
  assert.notEqual(read(outS, 'url'), read(outL, 'url'));
  assert.equal(registrations().length, 1, 'S unregistered at exit, L still registered');

  // restart the service; L's token and S's signature (made before the restart) still work
  await stopService();
  await startService();
  writeFileSync(join(outL, 'xsig.form'), read(outS, 'sig.form'));
  writeFileSync(join(outL, 'go'), '');
  await waitFor(() => existsSync(join(outL, 'finished')), 'pod L after the restart');
  assert.equal(read(outL, 'after.rc').trim(), '0', hdr(outL, 'after'));
  assert.equal(read(outL, 'after.body'), uL);
  assert.equal(read(outL, 'xverify.rc').trim(), '0', hdr(outL, 'xverify'));

  // kill -9 of L's rkt run and its pod: gc unregisters it
  process.kill(-child.pid!, 'SIGKILL');
  await waitFor(() => run(rktBin, ['status', ...dirs.args(), uL], { env: dirs.env() }).stdout.startsWith('state=exited'), 'pod L to be exited');
  assert.equal(registrations().length, 1);
  const gc = await runAsync(rktBin, ['gc', ...dirs.args(), '--grace-period=0s'], { env: dirs.env() });
  assert.equal(gc.status, 0, gc.stderr);
  assert.deepEqual(registrations(), []);
  assert.equal((await get(`${read(outL, 'url')}/acMetadata/v1/pod/uuid`)).status, 401);
});

test('systemd socket activation: the registration and public sockets come from systemd-socket-activate', { skip: !existsSync('/usr/bin/systemd-socket-activate') && 'no systemd-socket-activate' }, async () => {
  await stopService();
  assert.ok(!existsSync(regSock()), 'the service removes its own socket on exit');
  port = await freePort();
  await startService(['/usr/bin/systemd-socket-activate', '-l', regSock(), '-l', `127.0.0.1:${port}`, rktBin, 'metadata-service', ...dirs.args(), '--listen-port=1']);
  assert.match(svc!.stderr(), /registration socket from socket activation \(fd 3\)/);
  assert.match(svc!.stderr(), /public listener from socket activation \(fd 4\)/);
  const out = join(dirs.base, 'out-sa');
  const r = await runAsync(rktBin, podArgs(out, 'sa', 'x'), { env: dirs.env() });
  assert.equal(r.status, 0, r.stderr);
  assert.match(read(out, 'url'), new RegExp(`^http://127\\.0\\.0\\.1:${port}/`));
  assert.equal(read(out, 'uuid.rc').trim(), '0', hdr(out, 'uuid'));
  assert.equal(read(out, 'verify.rc').trim(), '0', hdr(out, 'verify'));
});

test('run-prepared --mds-register; fly pods get AC_METADATA_URL too; --net=none warns that its loopback cannot reach the service', async () => {
  if (!svc || svc.child.exitCode !== null) await startService();
  const withoutRun = (a: string[]) => a.slice(1);
  // prepare, then run-prepared --mds-register
  const outP = join(dirs.base, 'out-p');
  const prep = await runAsync(rktBin, ['prepare', ...withoutRun(podArgs(outP, 'prep', 'x')).filter((a) => a !== '--net=host' && a !== '--mds-register')], { env: dirs.env() });
  assert.equal(prep.status, 0, prep.stderr);
  const uuid = prep.stdout.trim();
  const rp = await runAsync(rktBin, ['run-prepared', ...dirs.args(), '--net=host', '--mds-register', uuid], { env: dirs.env() });
  assert.equal(rp.status, 0, rp.stderr);
  assert.equal(read(outP, 'uuid.body'), uuid);
  assert.equal(read(outP, 'verify.rc').trim(), '0');
  // fly
  const outF = join(dirs.base, 'out-f');
  const fly = await runAsync(rktBin, podArgs(outF, 'fly', 'x').map((a) => (a === '--stage1-from-dir=stage1-native.aci' ? '--stage1-from-dir=stage1-fly.aci' : a)), { env: dirs.env() });
  assert.equal(fly.status, 0, fly.stderr);
  assert.equal(read(outF, 'uuid.rc').trim(), '0', hdr(outF, 'uuid'));
  assert.equal(read(outF, 'imgid.rc').trim(), '0', hdr(outF, 'imgid'));
  // --net=none: registered, URL on 127.0.0.1, unreachable from the pod's own loopback, warned
  const outN = join(dirs.base, 'out-n');
  const none = await runAsync(rktBin, podArgs(outN, 'none', 'x').map((a) => (a === '--net=host' ? '--net=none' : a)), { env: dirs.env() });
  assert.match(none.stderr, /--mds-register with --net=none: .*does not reach the metadata service/);
  assert.match(read(outN, 'url'), /^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{32}$/);
  assert.equal(read(outN, 'uuid.rc').trim(), '1');
  assert.deepEqual(registrations(), []);
});

const CNI = existsSync('/usr/lib/cni/ptp') && existsSync(join(repoRoot, 'core', 'cli', 'dist', 'runtime', 'net', 'pod-net.js'));

test('CNI default network: the pod reaches the service on the host-side address (172.16.28.1), two pods in turn (native, then nspawn where the host has it)', { skip: !CNI && 'no CNI plugins' }, async () => {
  await stopService();
  execFileSync('ip', ['netns', 'add', HOST]);
  execFileSync('ip', ['-n', HOST, 'link', 'set', 'lo', 'up']);
  const inHost = (argv: string[]) => ['nsenter', `--net=/var/run/netns/${HOST}`, ...argv];
  await startService(inHost([rktBin, 'metadata-service', ...dirs.args(), `--listen-port=${port}`]));
  for (const name of ['cni1', 'cni2']) {
    const out = join(dirs.base, `out-${name}`);
    const uuidFile = join(dirs.base, `${name}.uuid`);
    const flavor = name === 'cni2' && existsSync('/usr/bin/systemd-nspawn') ? 'stage1-nspawn.aci' : 'stage1-native.aci';
    const args = podArgs(out, name, 'x').map((a) => (a === '--net=host' ? '--net=default' : a === '--stage1-from-dir=stage1-native.aci' ? `--stage1-from-dir=${flavor}` : a));
    const argv = inHost([rktBin, ...args, `--uuid-file-save=${uuidFile}`]);
    const r = await runAsync(argv[0]!, argv.slice(1), { env: dirs.env() });
    assert.equal(r.status, 0, r.stderr);
    assert.match(read(out, 'url'), new RegExp(`^http://172\\.16\\.28\\.1:${port}/[A-Za-z0-9_-]{32}$`));
    assert.equal(read(out, 'uuid.rc').trim(), '0', hdr(out, 'uuid'));
    assert.equal(read(out, 'uuid.body'), readFileSync(uuidFile, 'utf8'));
    assert.equal(read(out, 'verify.rc').trim(), '0', hdr(out, 'verify'));
    assert.match(hdr(out, 'badtok'), /HTTP\/1\.1 401 /);
  }
  assert.match(svc!.stderr(), /listening on 172\.16\.28\.1:\d+ for a pod network/);
  assert.deepEqual(registrations(), []);
  await stopService();
});
