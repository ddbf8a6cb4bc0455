/**
 * Helpers for the pod e2e tests: a minimal test stage1 (entrypoints are Node scripts run on the
 * host, as a stage1's entrypoints are), busybox app images, and pod directories laid out by hand.
 *
 * The test stage1 follows rkt's stage1 contract in the simplest way (like fly: one process per
 * app, chroot only): `run` records how it was invoked (argv, cwd, RKT_LOCK_FD and whether that fd
 * holds the pod lock) into `$pod/stage1-invocation.json`, writes `pid`, runs each app with
 * `chroot` in turn, writes `rkt/status/<app>`, and exits with the first failing app's status.
 * `stop` signals the pid; `gc` appends the UUID to `<data>/stage1-gc.log`; `enter` chroots into
 * the app and runs the command.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appcArch } from '../lib/images.js';
import { rktBin, run, type rktDirs } from '../lib/cli.js';

const RUN = String.raw`#!/usr/bin/env node
const fs = require('fs'), path = require('path'), cp = require('child_process');
const pod = process.cwd();
const args = process.argv.slice(2);
const lockFd = Number(process.env.RKT_LOCK_FD);
let lockHeld = false;
try {
  const ino = fs.fstatSync(lockFd).ino;
  lockHeld = fs.readFileSync('/proc/locks', 'utf8').split('\n').some((l) => / FLOCK .* WRITE /.test(l) && l.includes(':' + ino + ' '));
} catch {}
const podIno = fs.statSync(pod).ino;
let fdIsPod = false;
try { fdIsPod = fs.fstatSync(lockFd).ino === podIno; } catch {}
fs.writeFileSync(path.join(pod, 'stage1-invocation.json'), JSON.stringify({ argv0: process.argv[1], args, cwd: pod, lockFd: process.env.RKT_LOCK_FD, lockHeld, fdIsPod, selinux: process.env.RKT_SELINUX_CONTEXT }));
fs.writeFileSync(path.join(pod, 'pid'), String(process.pid));
const pm = JSON.parse(fs.readFileSync(path.join(pod, 'pod'), 'utf8'));
const s1 = path.join(pod, 'stage1', 'rootfs');
fs.mkdirSync(path.join(s1, 'rkt', 'status'), { recursive: true });
let exitCode = 0;
let child;
process.on('SIGTERM', () => { if (child) child.kill('SIGTERM'); else process.exit(143); });
(async () => {
  for (const ra of pm.apps) {
    const app = ra.app;
    const rootfs = path.join(s1, 'opt', 'stage2', ra.name, 'rootfs');
    const env = { AC_APP_NAME: ra.name };
    for (const e of app.environment || []) env[e.name] = e.value;
    const wd = app.workingDirectory || '/';
    const code = await new Promise((resolve) => {
      child = cp.spawn('/usr/sbin/chroot', [rootfs, '/bin/busybox', 'sh', '-c', 'cd "$0" && exec "$@"', wd, ...app.exec], { env, stdio: ['inherit', 'inherit', 'inherit'] });
      child.on('exit', (c, s) => resolve(c === null ? 128 + (s === 'SIGKILL' ? 9 : 15) : c));
    });
    child = undefined;
    fs.writeFileSync(path.join(s1, 'rkt', 'status', ra.name), String(code));
    if (code !== 0 && exitCode === 0) exitCode = code;
  }
  if (process.env.TEST_STAGE1_LINGER) setTimeout(() => process.exit(exitCode), Number(process.env.TEST_STAGE1_LINGER));
  else process.exit(exitCode);
})();
`;

const STOP = String.raw`#!/usr/bin/env node
const fs = require('fs');
const force = process.argv.includes('--force');
const pid = Number(fs.readFileSync('pid', 'utf8'));
try { process.kill(pid, force ? 'SIGKILL' : 'SIGTERM'); } catch (e) { console.error('stop: ' + e.message); process.exit(1); }
`;

const GC = String.raw`#!/usr/bin/env node
const fs = require('fs'), path = require('path');
const uuid = process.argv[process.argv.length - 1];
fs.appendFileSync(path.join(process.cwd(), '..', '..', '..', 'stage1-gc.log'), JSON.stringify({ args: process.argv.slice(2), cwd: process.cwd(), uuid }) + '\n');
`;

const ENTER = String.raw`#!/usr/bin/env node
const cp = require('child_process'), path = require('path');
const args = process.argv.slice(2);
const app = args.find((a) => a.startsWith('--appname=')).slice('--appname='.length);
const cmd = args.slice(args.indexOf('--') + 1);
const rootfs = path.join(process.cwd(), 'stage1', 'rootfs', 'opt', 'stage2', app, 'rootfs');
const r = cp.spawnSync('/usr/sbin/chroot', [rootfs, ...cmd], { stdio: 'inherit', env: { ENTERED_PID: args.find((a) => a.startsWith('--pid=')).slice(6) } });
process.exit(r.status === null ? 1 : r.status);
`;

export interface FakeStage1Options {
  name?: string;
  version?: string;
  interfaceVersion?: string;
  /** Leave an entrypoint out. */
  without?: Array<'run' | 'stop' | 'gc' | 'enter'>;
  /** Written to rootfs/build-marker: two builds that differ only in it are two images. */
  marker?: string;
}

export function buildFakeStage1Aci(outFile: string, o: FakeStage1Options = {}): void {
  const work = mkdtempSync(join(tmpdir(), 'rkt-s1-'));
  try {
    const rootfs = join(work, 'rootfs');
    mkdirSync(join(rootfs, 'rkt', 'status'), { recursive: true });
    if (o.marker !== undefined) writeFileSync(join(rootfs, 'build-marker'), o.marker);
    const scripts = { run: RUN, stop: STOP, gc: GC, enter: ENTER };
    const annotations: Array<{ name: string; value: string }> = [];
    for (const [k, text] of Object.entries(scripts)) {
      if (o.without?.includes(k as 'run')) continue;
      writeFileSync(join(rootfs, `s1-${k}`), text);
      chmodSync(join(rootfs, `s1-${k}`), 0o755);
      annotations.push({ name: `coreos.com/rkt/stage1/${k}`, value: `/s1-${k}` });
    }
    if (o.interfaceVersion !== '') annotations.push({ name: 'coreos.com/rkt/stage1/interface-version', value: o.interfaceVersion ?? '5' });
    const manifest = {
      acKind: 'ImageManifest',
      acVersion: '0.8.11',
      name: o.name ?? 'coreos.com/rkt/stage1-test',
      labels: [
        { name: 'version', value: o.version ?? '1.30.0' },
        { name: 'os', value: 'linux' },
        { name: 'arch', value: appcArch() },
      ],
      annotations,
    };
    writeFileSync(join(work, 'manifest'), JSON.stringify(manifest));
    execFileSync('tar', ['-C', work, '-cf', outFile, 'manifest', 'rootfs']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface AppImageOptions {
  name: string;
  version?: string;
  exec?: string[];
  env?: Record<string, string>;
  workingDirectory?: string;
  mountPoints?: Array<{ name: string; path: string; readOnly?: boolean }>;
  ports?: Array<{ name: string; protocol: string; port: number }>;
  isolators?: Array<{ name: string; value: unknown }>;
  noApp?: boolean;
  labels?: Record<string, string>;
  files?: Record<string, string>;
  /** Owners (uid, gid) of files under rootfs/, applied before packing. */
  owners?: Record<string, [number, number]>;
}

/** A busybox app image with /etc (so that rkt adds etc/mtab). */
export function buildAppAci(outFile: string, o: AppImageOptions): void {
  const work = mkdtempSync(join(tmpdir(), 'rkt-app-'));
  try {
    mkdirSync(join(work, 'rootfs', 'bin'), { recursive: true });
    mkdirSync(join(work, 'rootfs', 'etc'), { recursive: true });
    mkdirSync(join(work, 'rootfs', 'tmp'), { recursive: true });
    copyFileSync('/bin/busybox', join(work, 'rootfs', 'bin', 'busybox'));
    for (const [p, content] of Object.entries(o.files ?? {})) {
      mkdirSync(join(work, 'rootfs', p, '..'), { recursive: true });
      writeFileSync(join(work, 'rootfs', p), content);
    }
    for (const [p, [uid, gid]] of Object.entries(o.owners ?? {})) chownSync(join(work, 'rootfs', p), uid, gid);
    const labels = o.labels ?? { os: 'linux', arch: appcArch() };
    const manifest: Record<string, unknown> = {
      acKind: 'ImageManifest',
      acVersion: '0.8.11',
      name: o.name,
      labels: [...(o.version ? [{ name: 'version', value: o.version }] : []), ...Object.entries(labels).map(([name, value]) => ({ name, value }))],
    };
    if (!o.noApp)
      manifest.app = {
        exec: o.exec ?? ['/bin/busybox', 'true'],
        user: '0',
        group: '0',
        ...(o.env ? { environment: Object.entries(o.env).map(([name, value]) => ({ name, value })) } : {}),
        ...(o.workingDirectory ? { workingDirectory: o.workingDirectory } : {}),
        ...(o.mountPoints ? { mountPoints: o.mountPoints } : {}),
        ...(o.ports ? { ports: o.ports } : {}),
        ...(o.isolators ? { isolators: o.isolators } : {}),
      };
    writeFileSync(join(work, 'manifest'), JSON.stringify(manifest));
    execFileSync('tar', ['-C', work, '-cf', outFile, 'manifest', 'rootfs']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export const SHA = 'sha512-' + 'ab'.repeat(64);

/** Lay out a pod directory by hand, as stage0 and stage1 would have left it. */
export function layoutPod(
  dataDir: string,
  dir: 'prepare' | 'prepared' | 'run' | 'exited-garbage' | 'garbage' | 'embryo',
  uuid: string,
  o: { apps?: string[]; exitCodes?: Record<string, number>; pid?: number; created?: Date; started?: Date; noManifest?: boolean; nets?: unknown[] } = {},
): string {
  const pod = join(dataDir, 'pods', dir, uuid);
  mkdirSync(pod, { recursive: true, mode: 0o750 });
  const apps = o.apps ?? ['app'];
  if (!o.noManifest) {
    writeFileSync(
      join(pod, 'pod'),
      JSON.stringify({
        acVersion: '1.30.0',
        acKind: 'PodManifest',
        apps: apps.map((name) => ({ name, image: { name: `example.com/${name}`, id: SHA }, app: { exec: ['/bin/true'], user: '0', group: '0' } })),
        volumes: null,
        isolators: null,
        annotations: [{ name: 'coreos.com/rkt/stage1/mutable', value: 'false' }],
        ports: null,
      }),
    );
    for (const a of apps) {
      mkdirSync(join(pod, 'appsinfo', a), { recursive: true });
      writeFileSync(join(pod, 'appsinfo', a, 'manifest'), JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name: `example.com/${a}`, labels: [{ name: 'version', value: '1.0' }] }));
    }
  }
  writeFileSync(join(pod, 'pod-created'), '');
  if (o.created) utimesSync(join(pod, 'pod-created'), o.created, o.created);
  mkdirSync(join(pod, 'stage1', 'rootfs', 'rkt', 'status'), { recursive: true });
  for (const [a, c] of Object.entries(o.exitCodes ?? {})) writeFileSync(join(pod, 'stage1', 'rootfs', 'rkt', 'status', a), String(c));
  if (o.pid !== undefined) {
    writeFileSync(join(pod, 'pid'), String(o.pid));
    if (o.started) utimesSync(join(pod, 'pid'), o.started, o.started);
  }
  if (o.nets) writeFileSync(join(pod, 'net-info.json'), JSON.stringify(o.nets));
  return pod;
}

export interface DetachedPod {
  uuid: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: string | null }>;
}

/**
 * Start `rkt run …` in its own process group (pushed on `bg` for cleanup) with
 * `--uuid-file-save=<uuidFile>` among `args`, and wait (20 s) until `ready(uuid)` holds.
 */
export async function startDetachedPod(o: { bin: string; args: string[]; env: NodeJS.ProcessEnv; uuidFile: string; bg: ChildProcess[]; ready(uuid: string): boolean }): Promise<DetachedPod> {
  const child = spawn(o.bin, o.args, { env: o.env, stdio: 'ignore', detached: true });
  o.bg.push(child);
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  for (let i = 0; i < 400; i++) {
    if (existsSync(o.uuidFile)) {
      const uuid = readFileSync(o.uuidFile, 'utf8');
      if (o.ready(uuid)) return { uuid, child, exited };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`pod of ${o.args.join(' ')} did not start`);
}

/** Poll `rkt status` output until the pod is exited (10 s); returns the last output. */
export async function waitForExitedState(status: () => string): Promise<string> {
  let state = '';
  for (let i = 0; i < 100 && !state.startsWith('state=exited'); i++) {
    state = status();
    if (!state.startsWith('state=exited')) await new Promise((r) => setTimeout(r, 100));
  }
  return state;
}

/**
 * The end of a pod test file: kill the process groups it started (rkt runs a failed test left
 * running), garbage-collect its pods (unless `gc` is false), unmount whatever is still mounted
 * under its base dir (deepest first) and remove its dirs.
 */
export function tearDownPodTests(dirs: ReturnType<typeof rktDirs>, groups: Array<number | undefined>, o: { gc?: boolean } = {}): void {
  for (const pgid of groups) {
    if (pgid === undefined) continue;
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (o.gc !== false) run(rktBin, ['gc', ...dirs.args(), '--grace-period=0s'], { env: dirs.env() });
  const left = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => Boolean(m?.startsWith(dirs.base)))
    .reverse();
  for (const m of left) run('umount', ['-l', m]);
  dirs.cleanup();
}
