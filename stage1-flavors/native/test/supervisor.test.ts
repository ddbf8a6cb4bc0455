/**
 * rkt-supervisor launch under a `Type=notify` service (READY=1 in stage0's name once the pod is
 * ready; the pod never sees NOTIFY_SOCKET), and the supervisor's journal mode (`journald ARGV` + `journal SOCKET`, used by the nspawn flavor on
 * hosts that run journald): the apps' output reaches the console unchanged and, as one stream per
 * app and fd, a journald stdout-stream socket with the app's name and priority in the header;
 * journald is asked to flush (SIGUSR1) before the apps start and stopped (SIGTERM) after them; a
 * journald that does not come up leaves the apps writing to the console directly. journald is
 * played here by a small node program that records what it receives.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { compileSupervisor } from '../src/index.js';

const tokens = (t: string[]) => t.map((x) => x + '\0').join('');
const argvTok = (t: string, v: string[]) => [t, String(v.length), ...v];

// Listens on argv[2]; each connection's bytes go to argv[3]/<n>; SIGUSR1 writes `flushed` next to
// the socket (as journald does once it writes to /var/log/journal); SIGTERM is recorded, then exit.
const FAKE_JOURNALD = `
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as path from 'node:path';
const [sock, out] = process.argv.slice(2);
let n = 0;
const server = net.createServer((c) => {
  const f = path.join(out, String(n++));
  c.on('data', (d) => fs.appendFileSync(f, d));
});
server.listen(sock);
process.on('SIGUSR1', () => fs.writeFileSync(path.join(path.dirname(sock), 'flushed'), ''));
process.on('SIGTERM', () => { fs.writeFileSync(path.join(out, 'sigterm'), ''); server.close(); process.exit(0); });
`;

// One supervisor build for the file, in its own temp dir.
let work: string;
let sup: string;
before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-sup-'));
  sup = path.join(work, 'rkt-supervisor');
  compileSupervisor(sup);
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

describe('rkt-supervisor journal mode', () => {
  before(() => fs.writeFileSync(path.join(work, 'journald.mjs'), FAKE_JOURNALD));

  function runPod(name: string, journaldArgv: string[], apps: { name: string; script: string; post?: string }[]) {
    const dir = path.join(work, name);
    const received = path.join(dir, 'received');
    fs.mkdirSync(received, { recursive: true });
    const sock = path.join(dir, 'stdout');
    const conf = [
      ...argvTok('journald', journaldArgv.map((a) => a.replace('SOCK', sock).replace('OUT', received))),
      'journal',
      sock,
    ];
    for (const a of apps) {
      conf.push('app', a.name, path.join(dir, `${a.name}.status`), ...argvTok('main', ['/bin/sh', '-c', a.script]));
      if (a.post) conf.push(...argvTok('post', ['/bin/sh', '-c', a.post]));
    }
    fs.writeFileSync(path.join(dir, 'conf'), tokens(conf));
    const r = spawnSync(sup, ['run', path.join(dir, 'conf')], { encoding: 'utf8', timeout: 30_000 });
    const streams = fs
      .readdirSync(received)
      .filter((f) => /^\d+$/.test(f))
      .map((f) => fs.readFileSync(path.join(received, f), 'utf8'));
    return { r, streams, dir, received };
  }

  it('copies each app stream to the console unchanged and to journald with its name and priority', () => {
    const big = 'x'.repeat(200_000);
    const { r, streams, dir, received } = runPod('two', [process.execPath, path.join(work, 'journald.mjs'), 'SOCK', 'OUT'], [
      { name: 'alpha', script: `echo out-alpha; echo err-alpha >&2; head -c ${big.length} /dev/zero | tr '\\0' x`, post: 'echo post-alpha' },
      { name: 'beta', script: 'sleep 0.2; printf "no newline"; exit 3' },
    ]);
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stdout.split('\n').filter((l) => l === 'out-alpha').length, 1);
    assert.ok(r.stdout.includes(big), 'a large write reaches the console whole');
    assert.ok(r.stdout.includes('post-alpha\n'));
    assert.ok(r.stdout.includes('no newline'));
    assert.equal(r.stderr, 'err-alpha\n');
    // The header: identifier, unit, priority, level prefix, forward to syslog, kmsg, console.
    const byHeader = (h: string) => streams.filter((s) => s.startsWith(h)).map((s) => s.slice(h.length));
    assert.deepEqual(byHeader('alpha\n\n6\n0\n0\n0\n0\n'), [`out-alpha\n${big}post-alpha\n`]);
    assert.deepEqual(byHeader('alpha\n\n3\n0\n0\n0\n0\n'), ['err-alpha\n']);
    assert.deepEqual(byHeader('beta\n\n6\n0\n0\n0\n0\n'), ['no newline']);
    assert.deepEqual(byHeader('beta\n\n3\n0\n0\n0\n0\n'), ['']);
    assert.ok(fs.existsSync(path.join(dir, 'flushed')), 'journald was asked to flush before the apps ran');
    assert.ok(fs.existsSync(path.join(received, 'sigterm')), 'journald was stopped with SIGTERM after the apps');
    assert.equal(fs.readFileSync(path.join(dir, 'alpha.status'), 'utf8'), '0');
    assert.equal(fs.readFileSync(path.join(dir, 'beta.status'), 'utf8'), '3');
  });

  it('a journald that does not start: a warning, and the apps write to the console directly', () => {
    const { r, streams } = runPod('broken', ['/bin/sh', '-c', 'exit 1'], [{ name: 'gamma', script: 'echo out-gamma; echo err-gamma >&2' }]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'out-gamma\n');
    assert.equal(r.stderr, 'stage1: supervisor: journald did not start; app output goes to the console only\nerr-gamma\n');
    assert.deepEqual(streams, []);
  });
});

// Receives one datagram on argv[1] with the sender's credentials; prints "<pid> <message>".
const NOTIFY_RECEIVER = `
import socket, sys, struct
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print('listening', flush=True)
s.settimeout(20)
msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
pid = [struct.unpack('iII', d)[0] for (l, t, d) in anc if l == socket.SOL_SOCKET and t == socket.SCM_CREDENTIALS]
print(pid[0] if pid else -1, msg.decode().replace('\\n', '|'), flush=True)
`;

describe('rkt-supervisor launch under a Type=notify service', { skip: process.getuid?.() !== 0 && 'needs root (a pid other than its own in SCM_CREDENTIALS)' }, () => {
  before(() => fs.writeFileSync(path.join(work, 'receiver.py'), NOTIFY_RECEIVER));

  it('sends READY=1 in its parent’s (stage0’s) name once the pod is ready, and keeps NOTIFY_SOCKET from the pod', async () => {
    const rkt = path.join(work, 'rootfs', 'rkt');
    fs.mkdirSync(path.join(rkt, 'flavor-state'), { recursive: true });
    const sock = path.join(work, 'notify');
    // the "pod": records its environment, then reports ready after a while, as the supervisor does
    const pod = ['/bin/sh', '-c', `env > ${work}/pod-env; sleep 0.3; ln -s ready ${rkt}/supervisor-status; sleep 0.3`];
    fs.writeFileSync(path.join(rkt, 'flavor-state', 'launch'), tokens(pod));
    const receiver = spawn('python3', [path.join(work, 'receiver.py'), sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    receiver.stdout.on('data', (d) => (out += d));
    const deadline = Date.now() + 10_000;
    while (!out.includes('listening') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    const launcher = spawn(sup, ['launch', path.join(rkt, 'flavor-state', 'launch'), path.join(work, 'ppid')], { env: { ...process.env, NOTIFY_SOCKET: sock }, stdio: 'inherit' });
    const code = await new Promise((r) => launcher.on('exit', r));
    await new Promise((r) => (receiver.exitCode !== null ? r(null) : receiver.on('exit', r)));
    assert.equal(code, 0);
    const line = out.split('\n')[1]!;
    const pid = line.slice(0, line.indexOf(' '));
    const msg = line.slice(line.indexOf(' ') + 1);
    assert.equal(msg, 'READY=1|STATUS=pod running');
    assert.equal(Number(pid), process.pid, 'sent in the name of the launcher’s parent');
    assert.ok(Date.now() - started >= 300, 'not before the pod reported ready');
    assert.ok(!fs.readFileSync(path.join(work, 'pod-env'), 'utf8').includes('NOTIFY_SOCKET='), 'the pod does not get NOTIFY_SOCKET');
  });
});
