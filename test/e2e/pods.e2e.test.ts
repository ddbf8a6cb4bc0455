/**
 * Pod commands on pod directories laid out by hand: list, status, cat-manifest, rm, gc, stop
 * errors, UUID resolution; locks are held by real `flock` processes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rktBin, rktDirs, run } from '../lib/cli.js';
import { layoutPod } from './pods-lib.js';

const dirs = rktDirs('rkt-pods-');
const holders: ChildProcess[] = [];
after(() => {
  for (const h of holders) {
    try {
      process.kill(-h.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
  dirs.cleanup();
});

const rkt = (cmd: string[], ...args: string[]) => run(rktBin, [...cmd, ...dirs.args(), ...args], { env: dirs.env() });
const U = {
  prepared: '10000000-0000-4000-8000-000000000001',
  running: '20000000-0000-4000-8000-000000000002',
  exited: '30000000-0000-4000-8000-000000000003',
  garbage: '40000000-0000-4000-8000-000000000004',
  aborted: '50000000-0000-4000-8000-000000000005',
  multi: '60000000-0000-4000-8000-000000000006',
};

function holdLock(dir: string): Promise<ChildProcess> {
  const c = spawn('flock', ['-x', dir, 'sleep', '600'], { stdio: 'ignore', detached: true });
  holders.push(c);
  return new Promise((resolve) => {
    const poll = () => {
      const r = run('flock', ['-sn', dir, 'true']);
      if (r.status === 1) resolve(c);
      else setTimeout(poll, 10);
    };
    poll();
  });
}
async function release(c: ChildProcess): Promise<void> {
  process.kill(-c.pid!, 'SIGKILL');
  for (;;) {
    try {
      process.kill(-c.pid!, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

const data = dirs.data;
const created = new Date('2020-01-02T03:04:05.678Z');
const started = new Date('2020-01-02T03:04:06Z');
let runningHolder: ChildProcess;

test('set up pods by hand in every state', async () => {
  layoutPod(data, 'prepared', U.prepared, { created });
  layoutPod(data, 'run', U.running, { created, started, pid: 4242, nets: [{ netName: 'default', ip: '172.16.28.7' }] });
  layoutPod(data, 'run', U.exited, { created, started, pid: 4243, exitCodes: { app: 3 } });
  layoutPod(data, 'exited-garbage', U.garbage, { created, started, pid: 4244, exitCodes: { app: 0 } });
  layoutPod(data, 'prepare', U.aborted, { noManifest: true });
  layoutPod(data, 'run', U.multi, { apps: ['one', 'two'], created, started, pid: 1, exitCodes: { one: 0, two: 9 } });
  runningHolder = await holdLock(join(data, 'pods', 'run', U.running));
});

test('rkt list: tab-separated table like Go tabwriter, one row per app, pod columns on the first row', () => {
  const r = rkt(['list']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n').filter(Boolean);
  assert.match(lines[0]!, /^UUID\t+APP\t+IMAGE NAME\t+STATE\t+CREATED\t+STARTED\t+NETWORKS$/);
  const cells = lines.map((l) => l.split(/\t+/));
  assert.deepEqual(cells.map((c) => c[0]), ['UUID', '10000000', '20000000', '30000000', '40000000', '50000000', '60000000', '']);
  const running = cells.find((c) => c[0] === '20000000')!;
  assert.deepEqual(running.slice(1, 4), ['app', 'example.com/app:1.0', 'running']);
  assert.equal(running.at(-1), 'default:ip4=172.16.28.7');
  assert.deepEqual(cells.find((c) => c[0] === '50000000')!.slice(1, 4), ['-', '-', 'aborted prepare']);
  assert.deepEqual(cells.find((c) => c[0] === '40000000')![3], 'exited garbage');
  assert.deepEqual(cells.at(-1)!.slice(0, 3), ['', 'two', 'example.com/two:1.0']);
  // tabs only, every column padded to a multiple of 8
  assert.ok(!r.stdout.includes(' \t') && !/ {2}/.test(r.stdout.replace(/IMAGE NAME|\d+ \w+ ago|[a-z]+ [a-z]+/g, '')));
});

test('rkt list --full --no-legend: full UUIDs, image id prefix, full time layout', () => {
  const r = rkt(['list'], '--full', '--no-legend');
  assert.equal(r.status, 0, r.stderr);
  const row = r.stdout.split('\n').find((l) => l.startsWith(U.exited))!.split(/\t+/);
  assert.equal(row[3], 'sha512-abababababab');
  assert.equal(row[4], 'exited');
  assert.match(row[5]!, /^2020-01-0[12] \d\d:\d\d:05\.678 [+-]\d{4} \S+$/);
  assert.ok(!r.stdout.includes('UUID'));
});

test('rkt list --format=json: api/v1 pods (seconds at pod level, nanoseconds per app)', () => {
  const r = rkt(['list'], '--format=json');
  assert.equal(r.status, 0, r.stderr);
  const pods = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  const ex = pods.find((p) => p.name === U.exited)!;
  assert.equal(ex.state, 'exited');
  assert.equal(ex.created_at, Math.floor(created.getTime() / 1000));
  assert.deepEqual(ex.app_names, ['app']);
  const app = (ex.apps as Array<Record<string, unknown>>)[0]!;
  assert.equal(app.exit_code, 3);
  assert.equal(app.state, 'exited');
  assert.equal(app.created_at, created.getTime() * 1e6);
  const running = pods.find((p) => p.name === U.running)!;
  assert.deepEqual(running.networks, [{ netName: 'default', ip: '172.16.28.7' }]);
  assert.equal((running.apps as Array<Record<string, unknown>>)[0]!.state, 'running');
  // the aborted prepare has no creation time: reported after the list, exit 0
  assert.ok(!pods.some((p) => p.name === U.aborted));
  assert.match(r.stderr, /listing pods/);
  const pretty = rkt(['list'], '--format=json-pretty');
  assert.match(pretty.stdout, /^\[\n\t\{\n\t\t"name": /);
});

test('rkt status: key=value lines; prefixes; --uuid-file; rkt errors', () => {
  const r = rkt(['status'], '3000');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^state=exited\ncreated=2020-01-0[12] [\d:.]+ \S+ \S+\nstarted=[^\n]+\npid=4243\nexited=true\napp-app=3\n$/);
  const running = rkt(['status'], U.running.toUpperCase());
  assert.match(running.stdout, /^state=running\n.*\nnetworks=default:ip4=172\.16\.28\.7\npid=4242\nexited=false\n$/s);
  assert.doesNotMatch(running.stdout, /app-/);
  const prepared = rkt(['status'], U.prepared);
  assert.match(prepared.stdout, /^state=prepared\ncreated=[^\n]+\n$/);
  const multi = rkt(['status'], U.multi);
  assert.match(multi.stdout, /app-one=0\napp-two=9\n$/);
  const none = rkt(['status'], 'ffff');
  assert.equal(none.status, 254);
  assert.equal(none.stderr, 'status: problem retrieving pod: no matches found for "ffff"\n');
  mkdirSync(join(data, 'pods', 'prepared', '10000000-0000-4000-8000-0000000000ff'));
  const amb = rkt(['status'], '1000');
  assert.equal(amb.stderr, 'status: problem retrieving pod: ambiguous uuid, 2 matches\n');
  const f = join(dirs.base, 'uuid');
  writeFileSync(f, `${U.exited}\n`);
  assert.match(rkt(['status'], `--uuid-file=${f}`).stdout, /^state=exited/);
  const both = rkt(['status'], `--uuid-file=${f}`, U.exited);
  assert.equal(both.status, 254);
  const missing = rkt(['status'], `--uuid-file=${join(dirs.base, 'nope')}`);
  assert.equal(missing.status, 1, 'an unreadable --uuid-file exits 1 for status, as rkt');
  const json = JSON.parse(rkt(['status'], U.garbage, '--format=json').stdout) as Record<string, unknown>;
  assert.equal(json.state, 'exited garbage');
  assert.equal((json.apps as Array<Record<string, unknown>>)[0]!.finished_at !== undefined, true, 'gc mark time as finished_at');
});

test('rkt status --wait returns once the lock holder dies; a timeout exits 254', async () => {
  const timeout = rkt(['status'], '--wait=300ms', U.running);
  assert.equal(timeout.status, 254);
  assert.match(timeout.stderr, /^status: error waiting for pod to finish: context deadline exceeded/);
  const waiter = spawn(rktBin, ['status', ...dirs.args(), '--wait', U.running], { env: dirs.env() });
  const exited = new Promise((r) => waiter.once('exit', r));
  let out = '';
  waiter.stdout.on('data', (d) => (out += d));
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(waiter.exitCode, null, 'still waiting while the pod runs');
  await release(runningHolder);
  const code = await exited;
  assert.equal(code, 0);
  assert.match(out, /^state=exited\n/);
});

test('rkt cat-manifest: tab-indented by default, compact with --pretty-print=false, --uuid-file', () => {
  const r = rkt(['cat-manifest'], U.exited);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\{\n\t"acVersion": "1\.30\.0",\n\t"acKind": "PodManifest",\n\t"apps": \[\n\t\t\{/);
  const compact = rkt(['cat-manifest'], '--pretty-print=false', U.exited);
  assert.match(compact.stdout, /^\{"acVersion":"1\.30\.0","acKind":"PodManifest","apps":\[\{"name":"app"/);
  const aborted = rkt(['cat-manifest'], U.aborted);
  assert.equal(aborted.status, 254);
});

test('rkt stop: already stopped pods, pods that are not running', () => {
  const r = rkt(['stop'], U.exited, U.prepared);
  assert.equal(r.status, 254);
  assert.equal(r.stdout, `pod "${U.exited}" is already stopped\n`);
  assert.match(r.stderr, new RegExp(`stop: pod "${U.prepared}" is not running\nstop: failed to stop 1 pod\\(s\\)`));
});

test('rkt rm: refuses a running pod, removes exited, prepared and aborted pods', async () => {
  const holder = await holdLock(join(data, 'pods', 'run', U.multi));
  const refused = rkt(['rm'], U.multi);
  assert.equal(refused.status, 254);
  assert.equal(refused.stderr, `rm: pod "${U.multi}" is currently running\nrm: failed to remove one or more pods\n`);
  assert.ok(existsSync(join(data, 'pods', 'run', U.multi)));
  await release(holder);
  const r = rkt(['rm'], U.multi, U.prepared, U.aborted);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `"${U.multi}"\n"${U.prepared}"\n"${U.aborted}"\n`);
  assert.match(r.stderr, /moving expired prepared pod .* to garbage/);
  for (const d of ['run', 'prepared', 'prepare', 'garbage', 'exited-garbage'])
    for (const u of [U.multi, U.prepared, U.aborted]) assert.ok(!existsSync(join(data, 'pods', d, u)), `${d}/${u} is gone`);
});

test('rkt gc: marks exited pods, keeps them for the grace period, then sweeps; --mark-only; --expire-prepared', () => {
  const fresh = '70000000-0000-4000-8000-000000000007';
  layoutPod(data, 'run', fresh, { created, started, pid: 5 });
  const exp = '80000000-0000-4000-8000-000000000008';
  layoutPod(data, 'prepared', exp, { created });
  const mark = rkt(['gc'], '--mark-only');
  assert.equal(mark.status, 0, mark.stderr);
  assert.match(mark.stderr, new RegExp(`gc: moving pod "${fresh}" to garbage`));
  assert.ok(existsSync(join(data, 'pods', 'exited-garbage', fresh)));
  assert.ok(existsSync(join(data, 'pods', 'prepared', exp)), '--mark-only does not expire prepared pods');
  const keep = rkt(['gc']);
  assert.equal(keep.status, 0);
  assert.match(keep.stderr, new RegExp(`pod "${fresh}" not removed: still within grace period \\(30m0s\\)`));
  assert.ok(existsSync(join(data, 'pods', 'exited-garbage', fresh)));
  const sweep = rkt(['gc'], '--grace-period=0s', '--expire-prepared=0s');
  assert.equal(sweep.status, 0, sweep.stderr);
  assert.match(sweep.stderr, new RegExp(`moving expired prepared pod "${exp}" to garbage`));
  assert.match(sweep.stdout, new RegExp(`Garbage collecting pod "${fresh}"`));
  assert.match(sweep.stdout, new RegExp(`Garbage collecting pod "${exp}"`));
  for (const d of readdirSync(join(data, 'pods'))) for (const u of [fresh, exp]) assert.ok(!existsSync(join(data, 'pods', d, u)));
  // the earlier exited pod and the exited-garbage one went too
  assert.equal(rkt(['list'], '--no-legend').stdout, '');
});

test('rkt gc skips a pod whose deletion lock is held by someone else', async () => {
  const u = '90000000-0000-4000-8000-000000000009';
  const dir = layoutPod(data, 'exited-garbage', u, { created });
  const past = new Date(Date.now() - 3600_000);
  utimesSync(dir, past, past);
  const h = await holdLock(dir);
  const r = rkt(['status'], u);
  assert.match(r.stdout, /^state=exited deleting/);
  const gc = rkt(['gc'], '--grace-period=0s');
  assert.equal(gc.status, 0);
  assert.ok(existsSync(dir));
  await release(h);
  assert.equal(rkt(['gc'], '--grace-period=0s').status, 0);
  assert.ok(!existsSync(dir));
});
