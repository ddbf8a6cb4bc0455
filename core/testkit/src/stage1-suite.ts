/**
 * Conformance suite for rkt.stage1.v1 flavors, driven through the stage1 entrypoints exactly as
 * stage0 drives them (rkt.md §1.3–1.5): a pod dir laid out under `<tmp>/pods/run/<uuid>` with the
 * pod manifest, `stage1/` extracted from the flavor's ACI, each app's manifest and rootfs (plain
 * copies of a busybox tree instead of overlays), the dir flocked and passed as RKT_LOCK_FD, cwd =
 * the pod dir, argv[0] absolute.
 *
 *   stage1Suite('native', () => new NativeStage1().buildImage(dir), { pidFile: 'ppid', … });
 *
 * A flavor declares what it does not support in `supports`; the suite then checks that the flavor
 * refuses it clearly where that is the contract (e.g. fly and several apps) instead of skipping.
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { App, AppcIsolator, ImageManifest, Mount, PodManifest, Volume } from '@rkt/api';

/* ------------------------------------------------------------------ pod layout helpers */

export const BUSYBOX = '/bin/busybox';

/**
 * A minimal busybox rootfs: every applet linked in /bin, /etc/passwd and /etc/group with `user1`
 * (1000) and groups `grp1` (2000) and `grp2` (3000), /home/user1 owned by 1000:2000, /tmp 1777,
 * empty /proc, /sys, /dev.
 */
export function makeBusyboxRootfs(dir: string): void {
  for (const d of ['bin', 'etc', 'root', 'home/user1', 'tmp', 'proc', 'sys', 'dev', 'var', 'data']) {
    fs.mkdirSync(path.join(dir, d), { recursive: true });
  }
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  fs.copyFileSync(BUSYBOX, path.join(dir, 'bin', 'busybox'));
  fs.chmodSync(path.join(dir, 'bin', 'busybox'), 0o755);
  const list = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a));
  for (const a of list) {
    if (a === 'busybox') continue;
    try {
      fs.symlinkSync('busybox', path.join(dir, 'bin', a));
    } catch {
      /* duplicate */
    }
  }
  fs.writeFileSync(
    path.join(dir, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nuser1:x:1000:2000:User One:/home/user1:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
  );
  fs.writeFileSync(path.join(dir, 'etc', 'group'), 'root:x:0:\ngrp1:x:2000:user1\ngrp2:x:3000:\nnogroup:x:65534:\n');
  fs.chownSync(path.join(dir, 'home', 'user1'), 1000, 2000);
  fs.writeFileSync(path.join(dir, 'etc', 'owned-by-user1'), 'x');
  fs.chownSync(path.join(dir, 'etc', 'owned-by-user1'), 1000, 3000);
}

export interface TestApp {
  name: string;
  app: App;
  readOnlyRootFS?: boolean;
  mounts?: Mount[];
  /** Replace the image's app in the pod manifest (appc: a substitute, not a merge). */
  podApp?: App;
  /** Change the app rootfs after it is laid out. */
  customize?(rootfs: string): void;
}

export interface TestPodSpec {
  apps: TestApp[];
  volumes?: Volume[];
  isolators?: AppcIsolator[];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunningPod {
  child: ChildProcess;
  /** Resolves when the run entrypoint exits. */
  done: Promise<RunResult>;
  stdout(): string;
  stderr(): string;
}

const imageArch = () => ({ x64: 'amd64', arm64: 'aarch64' } as Record<string, string>)[process.arch] ?? process.arch;

/** A pod dir under `<root>/pods/run/<uuid>`, laid out as stage0 lays it out. */
export class TestPod {
  readonly uuid = randomUUID();
  readonly dir: string;
  readonly stage1Manifest: ImageManifest;
  private runs: RunningPod[] = [];

  constructor(
    readonly root: string,
    stage1Tree: string,
    readonly spec: TestPodSpec,
  ) {
    this.dir = path.join(root, 'pods', 'run', this.uuid);
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o750 });
    const pm: PodManifest = {
      acVersion: '0.8.11',
      acKind: 'PodManifest',
      apps: spec.apps.map((a) => ({
        name: a.name,
        image: { name: 'example.com/busybox', id: 'sha512-' + 'ab'.repeat(64) },
        ...(a.podApp ? { app: a.podApp } : {}),
        ...(a.readOnlyRootFS !== undefined ? { readOnlyRootFS: a.readOnlyRootFS } : {}),
        ...(a.mounts ? { mounts: a.mounts } : {}),
      })),
      ...(spec.volumes ? { volumes: spec.volumes } : {}),
      ...(spec.isolators ? { isolators: spec.isolators } : {}),
      annotations: [{ name: 'coreos.com/rkt/stage1/mutable', value: 'false' }],
    };
    fs.writeFileSync(path.join(this.dir, 'pod'), JSON.stringify(pm), { mode: 0o640 });
    fs.writeFileSync(path.join(this.dir, 'pod-created'), '');
    fs.writeFileSync(path.join(this.dir, 'pod.lck'), '');
    fs.writeFileSync(path.join(this.dir, 'stage1TreeStoreID'), 'deps-sha512-' + 'cd'.repeat(64));
    fs.mkdirSync(path.join(this.dir, 'stage1'), { mode: 0o750 });
    const cp = spawnSync('cp', ['-a', path.join(stage1Tree, 'rootfs'), path.join(this.dir, 'stage1', 'rootfs')]);
    if (cp.status !== 0) throw new Error(`cp stage1: ${cp.stderr}`);
    fs.copyFileSync(path.join(stage1Tree, 'manifest'), path.join(this.dir, 'stage1', 'manifest'));
    this.stage1Manifest = JSON.parse(fs.readFileSync(path.join(stage1Tree, 'manifest'), 'utf8')) as ImageManifest;
    fs.mkdirSync(path.join(this.stage1Rootfs, 'rkt', 'status'), { recursive: true });
    for (const a of spec.apps) {
      const im: ImageManifest = {
        acKind: 'ImageManifest',
        acVersion: '0.8.11',
        name: 'example.com/busybox',
        labels: [
          { name: 'os', value: 'linux' },
          { name: 'arch', value: imageArch() },
        ],
        app: a.app,
      };
      const appDir = path.join(this.stage1Rootfs, 'opt', 'stage2', a.name);
      fs.mkdirSync(path.join(appDir, 'rootfs'), { recursive: true, mode: 0o755 });
      fs.chmodSync(path.join(appDir, 'rootfs'), 0o755);
      fs.writeFileSync(path.join(appDir, 'manifest'), JSON.stringify(im));
      fs.mkdirSync(path.join(this.dir, 'appsinfo', a.name), { recursive: true });
      fs.writeFileSync(path.join(this.dir, 'appsinfo', a.name, 'manifest'), JSON.stringify(im));
      makeBusyboxRootfs(path.join(appDir, 'rootfs'));
      a.customize?.(path.join(appDir, 'rootfs'));
    }
  }

  get stage1Rootfs(): string {
    return path.join(this.dir, 'stage1', 'rootfs');
  }
  appRootfs(app: string): string {
    return path.join(this.stage1Rootfs, 'opt', 'stage2', app, 'rootfs');
  }
  entry(name: 'run' | 'enter' | 'gc' | 'stop'): string {
    const a = this.stage1Manifest.annotations?.find((x) => x.name === `coreos.com/rkt/stage1/${name}`);
    if (!a) throw new Error(`stage1 image has no ${name} entrypoint`);
    return path.join(this.stage1Rootfs, a.value);
  }
  status(app: string): string | undefined {
    try {
      return fs.readFileSync(path.join(this.stage1Rootfs, 'rkt', 'status', app), 'utf8');
    } catch {
      return undefined;
    }
  }
  readPid(name: 'pid' | 'ppid' | 'pgid'): number | undefined {
    try {
      const n = Number(fs.readFileSync(path.join(this.dir, name), 'utf8').trim());
      return n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }

  /** Exec the run entrypoint as stage0 does: the pod dir flocked exclusively, fd in RKT_LOCK_FD. */
  start(args: string[], opts: { env?: Record<string, string>; stdin?: 'ignore' | 'pipe' } = {}): RunningPod {
    const child = spawn(
      'sh',
      ['-c', 'exec 9<"$1" && flock -x -n 9 || exit 253; shift; RKT_LOCK_FD=9 exec "$@"', 'stage0', this.dir, this.entry('run'), ...args, this.uuid],
      { cwd: this.dir, stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } },
    );
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const done = new Promise<RunResult>((resolve) => {
      child.on('close', (code, signal) => resolve({ code: code ?? 128 + (os.constants.signals[signal!] ?? 0), stdout: out, stderr: err }));
    });
    const r: RunningPod = { child, done, stdout: () => out, stderr: () => err };
    this.runs.push(r);
    return r;
  }

  async run(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
    const r = this.start(args, opts);
    return withTimeout(r.done, opts.timeoutMs ?? 60000, `run of pod ${this.uuid}`);
  }

  /** Whether the pod lock is still held (the pod is running). */
  locked(): boolean {
    return spawnSync('flock', ['-n', '-s', this.dir, 'true']).status !== 0;
  }

  /** Run another entrypoint (fork+exec as stage0 does: cwd = pod dir). */
  async entrypoint(name: 'enter' | 'gc' | 'stop', args: string[], timeoutMs = 60000): Promise<RunResult> {
    const child = spawn(this.entry(name), args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const p = new Promise<RunResult>((resolve) =>
      child.on('close', (code, signal) => resolve({ code: code ?? 128 + (os.constants.signals[signal!] ?? 0), stdout: out, stderr: err })),
    );
    return withTimeout(p, timeoutMs, `${name} of pod ${this.uuid}`);
  }

  gc(debug = false): Promise<RunResult> {
    return this.entrypoint('gc', [...(debug ? ['--debug'] : []), '--local-config', '/etc/rkt', this.uuid]);
  }
  stop(force = false): Promise<RunResult> {
    return this.entrypoint('stop', [...(force ? ['--force'] : []), this.uuid]);
  }

  /** The pid to enter: `pid`, or the single child of `ppid` (as stage0 does). */
  async enterPid(timeoutMs = 20000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pid = this.readPid('pid');
      if (pid) return pid;
      const ppid = this.readPid('ppid');
      if (ppid) {
        const kids = childrenOf(ppid);
        if (kids.length === 1) return kids[0]!;
      }
      if (Date.now() > deadline) throw new Error('no pid/ppid to enter');
      await sleep(50);
    }
  }

  /** Stop whatever still runs, gc, unmount leftovers and remove the pod dir. Never throws. */
  async destroy(): Promise<void> {
    for (const r of this.runs) {
      if (r.child.exitCode === null && r.child.signalCode === null) {
        await this.stop(true).catch(() => undefined);
        await withTimeout(r.done, 10000, 'stop').catch(() => r.child.kill('SIGKILL'));
      }
    }
    for (const name of ['pid', 'ppid'] as const) {
      const p = this.readPid(name);
      if (p && processRefersTo(p, this.dir)) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    await this.gc().catch(() => undefined);
    for (const m of mountsUnder(this.dir)) spawnSync('umount', ['-l', m]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/* ------------------------------------------------------------------ small utilities */

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_r, reject) => (t = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

export async function waitFor<T>(fn: () => T | undefined | false, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export function childrenOf(pid: number): number[] {
  try {
    return fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((t) => fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/))
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

export function mountsUnder(dir: string): string[] {
  const d = dir.replace(/\/+$/, '');
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m === d || m.startsWith(d + '/'))
    .reverse();
}

/** Whether a process has its root, cwd or executable under `dir`. */
function processRefersTo(pid: number, dir: string): boolean {
  for (const l of ['root', 'cwd', 'exe']) {
    try {
      const t = fs.readlinkSync(`/proc/${pid}/${l}`);
      if (t === dir || t.startsWith(dir + '/')) return true;
    } catch {
      /* gone or kernel thread */
    }
  }
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    return false;
  }
}

/** Processes (other than us) whose root, cwd, executable or command line is under `dir`. */
export function processesUnder(dir: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .map(Number)
    .filter((p) => processRefersTo(p, dir));
}

/** Extract an ACI (uncompressed or gzip tar) into `dest` with GNU tar, keeping owners and modes. */
export function extractAci(aci: string, dest: string): void {
  fs.mkdirSync(dest, { recursive: true });
  const r = spawnSync('tar', ['-xf', aci, '-C', dest, '--same-owner', '-p'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
}

/* ------------------------------------------------------------------ the suite */

export interface Stage1Supports {
  /** Several apps in one pod. */
  multiApp: boolean;
  /** `stage1/rootfs/rkt/status/<app>` after the app exits. */
  statusFiles: boolean;
  /** `readOnlyRootFS: true`. */
  readOnlyRootfs: boolean;
  /** pre-start/post-stop event handlers. */
  eventHandlers: boolean;
  /** `rkt/supervisor-status -> ready` while running. */
  supervisorReady: boolean;
  /** The image names a `rkt-ts.io/stage1/run-prepare` module that stage0 may run in its own process. */
  runPrepare: boolean;
  /**
   * Per-app isolation (capabilities, memory limit, seccomp, no_new_privs, oom_score_adj, /proc/sys
   * read-only, enter with the app's isolation): the flavor's capability names, in kernel order,
   * and appc's default set.
   */
  isolation?: { allCaps: readonly string[]; defaultCaps: readonly string[] };
}

export interface Stage1SuiteOptions {
  /** Flags before the UUID for every run (e.g. `--net=host`). */
  runArgs?: string[];
  /** Which pid file the flavor writes. */
  pidFile: 'pid' | 'ppid';
  supports: Stage1Supports;
  /** Extra things the flavor leaves behind after gc (cgroups, runtime state), as descriptions. */
  leftovers?(pod: TestPod): string[] | Promise<string[]>;
  /** Environment for the entrypoints (e.g. a runtime selection). */
  env?: Record<string, string>;
  /** Title of the describe block (default: the flavor name). */
  title?: string;
}

const sh = (script: string, extra: Partial<App> = {}): App => ({ exec: ['/bin/sh', '-c', script], user: '0', group: '0', ...extra });

export function stage1Suite(flavorName: string, build: () => Promise<string>, opts: Stage1SuiteOptions): void {
  describe(`stage1 conformance: ${opts.title ?? flavorName}`, { concurrency: false }, () => {
    let work: string;
    let tree: string;
    const pods: TestPod[] = [];
    const runArgs = opts.runArgs ?? [];
    const newPod = (spec: TestPodSpec) => {
      const p = new TestPod(work, tree, spec);
      pods.push(p);
      return p;
    };
    const run = (pod: TestPod, extra: string[] = []) => pod.run([...runArgs, ...extra], opts.env ? { env: opts.env } : {});

    before(async () => {
      work = fs.mkdtempSync(path.join(os.tmpdir(), `rkt-stage1-${flavorName}-`));
      const aci = await build();
      tree = path.join(work, 'stage1-tree');
      extractAci(aci, tree);
    });
    afterEach(async () => {
      while (pods.length) await pods.pop()!.destroy();
    });
    after(() => {
      if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it('has a stage1 manifest with the entrypoint and interface-version annotations', () => {
      const m = JSON.parse(fs.readFileSync(path.join(tree, 'manifest'), 'utf8')) as ImageManifest;
      assert.equal(m.name, `coreos.com/rkt/stage1-${flavorName}`);
      const labels = Object.fromEntries((m.labels ?? []).map((l) => [l.name, l.value]));
      assert.equal(labels.os, 'linux');
      assert.ok(labels.arch);
      assert.ok(labels.version);
      const ann = Object.fromEntries((m.annotations ?? []).map((a) => [a.name, a.value]));
      for (const e of ['run', 'enter', 'gc', 'stop']) {
        const v = ann[`coreos.com/rkt/stage1/${e}`];
        assert.ok(v?.startsWith('/'), `entrypoint ${e}`);
        const st = fs.statSync(path.join(tree, 'rootfs', v!));
        assert.ok(st.isFile() && (st.mode & 0o111) !== 0, `${e} entrypoint is executable`);
      }
      assert.match(ann['coreos.com/rkt/stage1/interface-version'] ?? '', /^\d+$/);
    });

    it('exits with the status of a single app and records it', async () => {
      const pod = newPod({ apps: [{ name: 'exiter', app: sh('echo hello-from-app; exit 7') }] });
      const r = await run(pod);
      assert.equal(r.code, 7, r.stderr);
      assert.match(r.stdout, /hello-from-app/);
      if (opts.supports.statusFiles) assert.equal(pod.status('exiter'), '7');
      assert.equal(pod.locked(), false, 'the pod lock is released after exit');
      const ok = newPod({ apps: [{ name: 'fine', app: sh('true') }] });
      const r0 = await run(ok);
      assert.equal(r0.code, 0, r0.stderr);
      if (opts.supports.statusFiles) assert.equal(ok.status('fine'), '0');
    });

    it('runs its rkt-ts.io/stage1/run-prepare module in the caller, and the entrypoint then skips that step', async () => {
      const m = JSON.parse(fs.readFileSync(path.join(tree, 'manifest'), 'utf8')) as ImageManifest;
      const rel = m.annotations?.find((a) => a.name === 'rkt-ts.io/stage1/run-prepare')?.value;
      if (!opts.supports.runPrepare) {
        // then stage0 must always run the whole entrypoint: the image may not name such a module
        assert.equal(rel, undefined);
        return;
      }
      assert.ok(rel?.startsWith('/'), 'the run-prepare annotation is an absolute path in the rootfs');
      const pod = newPod({ apps: [{ name: 'prepped', app: sh('echo prepared-by-caller; exit 5') }] });
      const mod = (await import(pathToFileURL(path.join(pod.dir, 'stage1', 'rootfs', rel!)).href)) as {
        prepare(argv: readonly string[], podPath: string): Promise<void>;
      };
      // Bad arguments: the error carries the entrypoint's exit status, and nothing is started.
      await assert.rejects(mod.prepare(['--no-such-flag', pod.uuid], pod.dir), (e: Error & { exitCode?: number }) => e.exitCode === 254);
      const saved = Object.fromEntries(Object.keys(opts.env ?? {}).map((k) => [k, process.env[k]]));
      Object.assign(process.env, opts.env ?? {});
      try {
        await mod.prepare([...runArgs, pod.uuid], pod.dir);
      } finally {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
      // With the step done, the entry script must not run node again: a node that cannot start proves it.
      const r = await pod.run(runArgs, { env: { ...opts.env, RKT_TS_STAGE1_PREPARED: '1', RKT_STAGE1_NODE: '/nonexistent/node' } });
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stdout, /prepared-by-caller/);
      if (opts.supports.statusFiles) assert.equal(pod.status('prepped'), '5');
      // Without the variable the same entrypoint runs its own preparation (and here fails on that node).
      const other = newPod({ apps: [{ name: 'prepped', app: sh('exit 0') }] });
      const r2 = await other.run(runArgs, { env: { ...opts.env, RKT_STAGE1_NODE: '/nonexistent/node' } });
      assert.notEqual(r2.code, 0);
    });

    it('gives the app the appc environment, the image env and AC_APP_NAME', async () => {
      const app = sh('env', { environment: [{ name: 'FROM_IMAGE', value: 'img value' }, { name: 'PATH', value: '/bin:/custom' }] });
      const pod = newPod({
        apps: [{ name: 'envy', app, podApp: { ...app, environment: [...app.environment!, { name: 'FROM_POD', value: 'x=y' }] } }],
      });
      const r = await run(pod);
      assert.equal(r.code, 0, r.stderr);
      const env = new Map(r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      assert.equal(env.get('AC_APP_NAME'), 'envy');
      assert.equal(env.get('FROM_IMAGE'), 'img value');
      assert.equal(env.get('FROM_POD'), 'x=y');
      assert.equal(env.get('PATH'), '/bin:/custom');
      assert.ok(env.has('container'), 'container is set');
      assert.equal(env.has('RKT_LOCK_FD'), false, 'stage0 variables do not leak into the app');
      const envFile = fs.readFileSync(path.join(pod.stage1Rootfs, 'rkt', 'env', 'envy'), 'utf8');
      assert.match(envFile, /^AC_APP_NAME=envy$/m);
    });

    it('resolves user and group by name, number and file path inside the app rootfs', async () => {
      const cases: [string, string, string][] = [
        ['user1', 'grp2', '1000 3000'],
        ['1234', '4321', '1234 4321'],
        ['/etc/owned-by-user1', '/etc/owned-by-user1', '1000 3000'],
        ['root', 'root', '0 0'],
      ];
      for (const [user, group, want] of cases) {
        const pod = newPod({ apps: [{ name: 'who', app: sh('echo "$(id -u) $(id -g)"; id -G', { user, group, supplementaryGIDs: [5000, 6000] }) }] });
        const r = await run(pod);
        assert.equal(r.code, 0, r.stderr);
        const [ids, groups] = r.stdout.trim().split('\n');
        assert.equal(ids, want, `${user}:${group}`);
        assert.ok(groups!.split(' ').includes('5000') && groups!.split(' ').includes('6000'), `supplementary gids: ${groups}`);
      }
      const bad = newPod({ apps: [{ name: 'nouser', app: sh('true', { user: 'nosuchuser' }) }] });
      const rb = await run(bad);
      assert.notEqual(rb.code, 0);
      assert.match(rb.stderr, /nosuchuser/);
    });

    it('runs the app in its working directory and refuses a missing one', async () => {
      const pod = newPod({ apps: [{ name: 'wd', app: sh('pwd', { workingDirectory: '/home/user1' }) }] });
      const r = await run(pod);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), '/home/user1');
      const missing = newPod({ apps: [{ name: 'wd2', app: sh('pwd', { workingDirectory: '/no/such/dir' }) }] });
      const r2 = await run(missing);
      assert.notEqual(r2.code, 0);
      assert.match(r2.stderr, /working directory/);
    });

    it('mounts host and empty volumes, honouring readOnly', async () => {
      const host = fs.mkdtempSync(path.join(work, 'vol-'));
      const hostRo = fs.mkdtempSync(path.join(work, 'volro-'));
      fs.writeFileSync(path.join(hostRo, 'given'), 'from host\n');
      const script = [
        'echo written > /mnt/rw/out',
        'cat /mnt/ro/given',
        'if echo x > /mnt/ro/nope 2>/dev/null; then echo RO-WRITABLE; fi',
        'stat -c "%a %u %g" /mnt/empty',
        'echo e > /mnt/empty/f && echo empty-ok',
      ].join('; ');
      const pod = newPod({
        apps: [
          {
            name: 'vols',
            app: sh(script, { mountPoints: [{ name: 'rw', path: '/mnt/rw' }, { name: 'ro', path: '/mnt/ro' }, { name: 'scratch', path: '/mnt/empty' }] }),
          },
        ],
        volumes: [
          { name: 'rw', kind: 'host', source: host },
          { name: 'ro', kind: 'host', source: hostRo, readOnly: true },
          { name: 'scratch', kind: 'empty', mode: '0770', uid: 1000, gid: 2000 },
        ],
      });
      const r = await run(pod);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(fs.readFileSync(path.join(host, 'out'), 'utf8'), 'written\n');
      assert.match(r.stdout, /from host/);
      assert.doesNotMatch(r.stdout, /RO-WRITABLE/);
      assert.equal(fs.existsSync(path.join(hostRo, 'nope')), false);
      assert.match(r.stdout, /^770 1000 2000$/m);
      assert.match(r.stdout, /empty-ok/);
    });

    if (opts.supports.readOnlyRootfs) {
      it('mounts the rootfs read-only when asked, volumes stay writable', async () => {
        const host = fs.mkdtempSync(path.join(work, 'vol-'));
        const pod = newPod({
          apps: [
            {
              name: 'ro',
              readOnlyRootFS: true,
              app: sh('if touch /rootfs-file 2>/dev/null; then echo ROOT-WRITABLE; fi; echo ok > /mnt/v/f; echo done', {
                mountPoints: [{ name: 'v', path: '/mnt/v' }],
              }),
            },
          ],
          volumes: [{ name: 'v', kind: 'host', source: host }],
        });
        const r = await run(pod);
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stdout, /ROOT-WRITABLE/);
        assert.match(r.stdout, /done/);
        assert.equal(fs.existsSync(path.join(pod.appRootfs('ro'), 'rootfs-file')), false);
        assert.equal(fs.readFileSync(path.join(host, 'f'), 'utf8'), 'ok\n');
      });
    }

    it(`writes ${opts.pidFile} while running, stop ends the pod, gc leaves nothing behind`, async () => {
      const host = fs.mkdtempSync(path.join(work, 'vol-'));
      const pod = newPod({
        apps: [{ name: 'sleeper', app: sh('echo started > /mnt/v/started; exec sleep 600', { mountPoints: [{ name: 'v', path: '/mnt/v' }] }) }],
        volumes: [{ name: 'v', kind: 'host', source: host }],
      });
      const running = pod.start(runArgs, opts.env ? { env: opts.env } : {});
      await waitFor(() => fs.existsSync(path.join(host, 'started')) || (running.child.exitCode !== null ? assert.fail(running.stderr()) : false), 20000, 'app start');
      const pidPath = path.join(pod.dir, opts.pidFile);
      assert.ok(fs.existsSync(pidPath), `${opts.pidFile} written`);
      const pid = pod.readPid(opts.pidFile)!;
      assert.ok(fs.existsSync(`/proc/${pid}`), 'the recorded pid is alive');
      if (opts.pidFile === 'ppid') assert.equal(childrenOf(pid).length, 1, 'ppid has exactly one child');
      assert.equal(pod.locked(), true, 'the pod lock is held while running');
      if (opts.supports.supervisorReady) {
        await waitFor(() => {
          try {
            return fs.readlinkSync(path.join(pod.stage1Rootfs, 'rkt', 'supervisor-status')) === 'ready';
          } catch {
            return false;
          }
        }, 10000, 'supervisor-status -> ready');
      }
      const s = await pod.stop();
      assert.equal(s.code, 0, s.stderr);
      const r = await withTimeout(running.done, 20000, 'pod exit after stop');
      assert.notEqual(r.code, 0, 'a stopped app does not report success');
      assert.equal(pod.locked(), false);
      const g = await pod.gc();
      assert.equal(g.code, 0, g.stderr);
      assert.deepEqual(mountsUnder(pod.dir), [], 'no mounts left under the pod');
      assert.deepEqual(processesUnder(pod.dir), [], 'no processes left');
      assert.deepEqual(await (opts.leftovers?.(pod) ?? []), [], 'no flavor leftovers');
    });

    if (opts.supports.supervisorReady) {
      it('a SIGTERM relayed while the pod is still starting is not lost: the pod stops once it runs', async () => {
        const pod = newPod({ apps: [{ name: 'early', app: sh('echo up; exec sleep 600') }] });
        const running = pod.start(runArgs, opts.env ? { env: opts.env } : {});
        // as soon as the launcher has recorded its child: the supervisor may not be there yet
        await waitFor(() => fs.existsSync(path.join(pod.dir, opts.pidFile)) || (running.child.exitCode !== null ? assert.fail(running.stderr()) : false), 20000, opts.pidFile);
        running.child.kill('SIGTERM');
        const r = await withTimeout(running.done, 20000, 'pod exit after an early SIGTERM');
        assert.notEqual(r.code, 0, r.stderr);
        const g = await pod.gc();
        assert.equal(g.code, 0, g.stderr);
        assert.deepEqual(processesUnder(pod.dir), []);
      });
    }

    it('stop --force kills the pod', async () => {
      const pod = newPod({ apps: [{ name: 'stubborn', app: sh('trap "" TERM; echo up; while true; do sleep 1; done') }] });
      const running = pod.start(runArgs, opts.env ? { env: opts.env } : {});
      await waitFor(() => running.stdout().includes('up') || (running.child.exitCode !== null ? assert.fail(running.stderr()) : false), 20000, 'app start');
      await pod.enterPid();
      const s = await pod.stop(true);
      assert.equal(s.code, 0, s.stderr);
      const r = await withTimeout(running.done, 20000, 'pod exit after stop --force');
      assert.notEqual(r.code, 0);
      const g = await pod.gc();
      assert.equal(g.code, 0, g.stderr);
      assert.deepEqual(processesUnder(pod.dir), []);
      assert.deepEqual(await (opts.leftovers?.(pod) ?? []), []);
    });

    it('enter runs a command inside the app, as the app user', async () => {
      const pod = newPod({ apps: [{ name: 'target', app: sh('echo marker > /tmp/marker; echo up; exec sleep 600', { user: 'user1', group: 'grp1' }) }] });
      const running = pod.start(runArgs, opts.env ? { env: opts.env } : {});
      await waitFor(() => running.stdout().includes('up') || (running.child.exitCode !== null ? assert.fail(running.stderr()) : false), 20000, 'app start');
      const pid = await pod.enterPid();
      const r = await pod.entrypoint('enter', [`--pid=${pid}`, '--appname=target', '--', '/bin/sh', '-c', 'cat /tmp/marker; id -u; echo "$AC_APP_NAME"']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), ['marker', '1000', 'target']);
      const e = await pod.entrypoint('enter', [`--pid=${pid}`, '--appname=target', '--', '/bin/sh', '-c', 'exit 5']);
      assert.equal(e.code, 5, 'enter exits with the command status');
      await pod.stop(true);
      await withTimeout(running.done, 20000, 'pod exit');
    });

    if (opts.supports.multiApp) {
      it('runs several apps in one pod and reports the first failure', async () => {
        const pod = newPod({
          apps: [
            { name: 'good', app: sh('sleep 1; exit 0') },
            { name: 'bad', app: sh('exit 3') },
          ],
        });
        const r = await run(pod);
        assert.equal(r.code, 3, r.stderr);
        if (opts.supports.statusFiles) {
          assert.equal(pod.status('bad'), '3');
          assert.ok(pod.status('good') !== undefined, 'every app gets a status');
        }
      });
    } else {
      it('refuses a pod with several apps', async () => {
        const pod = newPod({ apps: [{ name: 'a', app: sh('true') }, { name: 'b', app: sh('true') }] });
        const r = await run(pod);
        assert.equal(r.code, 254);
        assert.match(r.stderr, /^stage1: .*(one app|single app|1 app|application)/m);
      });
    }

    if (opts.supports.eventHandlers) {
      it('runs pre-start before and post-stop after the app, in its rootfs', async () => {
        const host = fs.mkdtempSync(path.join(work, 'vol-'));
        const app = sh('cat /tmp/pre; echo main >> /mnt/v/log; exit 4', {
          mountPoints: [{ name: 'v', path: '/mnt/v' }],
          eventHandlers: [
            { name: 'pre-start', exec: ['/bin/sh', '-c', 'echo pre > /tmp/pre; echo pre >> /mnt/v/log'] },
            { name: 'post-stop', exec: ['/bin/sh', '-c', 'echo post >> /mnt/v/log'] },
          ],
        });
        const pod = newPod({ apps: [{ name: 'handled', app }], volumes: [{ name: 'v', kind: 'host', source: host }] });
        const r = await run(pod);
        assert.equal(r.code, 4, r.stderr);
        assert.match(r.stdout, /^pre$/m);
        assert.equal(fs.readFileSync(path.join(host, 'log'), 'utf8'), 'pre\nmain\npost\n');
        if (opts.supports.statusFiles) assert.equal(pod.status('handled'), '4');
      });
    }

    if (opts.supports.isolation) {
      const { allCaps, defaultCaps } = opts.supports.isolation;
      const capMask = (caps: readonly string[]) => caps.reduce((m, c) => m | (1n << BigInt(allCaps.indexOf(c))), 0n);
      const field = (text: string, k: string) => (new RegExp(`^${k}:[ \\t]*([^\\n]*)$`, 'm').exec(text)?.[1] ?? '').trim();
      const hostBnd = BigInt('0x' + field(fs.readFileSync('/proc/self/status', 'utf8'), 'CapBnd'));
      const one = (app: App) => newPod({ apps: [{ name: 'app', app }] });

      it('applies the default capability set, retain and remove sets, and --disable-capabilities-restriction', async () => {
        const show = sh('grep -E "^Cap(Bnd|Eff)" /proc/self/status');
        const cases: [App, string[], bigint][] = [
          [show, [], capMask(defaultCaps)],
          [{ ...show, isolators: [{ name: 'os/linux/capabilities-retain-set', value: { set: ['CAP_NET_ADMIN', 'CAP_KILL'] } }] }, [], capMask(['CAP_NET_ADMIN', 'CAP_KILL'])],
          [{ ...show, isolators: [{ name: 'os/linux/capabilities-remove-set', value: { set: ['CAP_MKNOD', 'CAP_NET_RAW'] } }] }, [], capMask(defaultCaps.filter((c) => c !== 'CAP_MKNOD' && c !== 'CAP_NET_RAW'))],
          [show, ['--disable-capabilities-restriction'], hostBnd],
        ];
        for (const [app, flags, want] of cases) {
          const r = await run(one(app), flags);
          assert.equal(r.code, 0, r.stderr);
          assert.equal(BigInt('0x' + field(r.stdout, 'CapBnd')), want, r.stdout);
          assert.equal(BigInt('0x' + field(r.stdout, 'CapEff')), want, 'root keeps its set effective');
        }
        const r = await run(one({ ...show, user: 'user1', group: 'grp1' }));
        assert.equal(BigInt('0x' + field(r.stdout, 'CapEff')), 0n, 'a non-root user has no effective capabilities');
      });

      it('kills an app that allocates past its memory limit, and keeps one under it', async () => {
        const mem = [{ name: 'resource/memory', value: { limit: '64Mi' } }];
        const big = await run(one(sh('dd if=/dev/zero of=/dev/null bs=200M count=1 && echo survived', { isolators: mem })));
        assert.equal(big.code, 137, big.stdout + big.stderr);
        assert.doesNotMatch(big.stdout, /survived/);
        const small = await run(one(sh('dd if=/dev/zero of=/dev/null bs=16M count=1 2>/dev/null && echo survived', { isolators: mem })));
        assert.equal(small.code, 0, small.stderr);
        assert.match(small.stdout, /survived/);
      });

      it('blocks removed syscalls, filters by default, and --disable-seccomp turns filtering off', async () => {
        const removed = sh('mkdir /tmp/d 2>&1; echo "rc=$?"; test -d /tmp/d && echo CREATED; true', {
          isolators: [{ name: 'os/linux/seccomp-remove-set', value: { set: ['mkdir', 'mkdirat'], errno: 'ENOTSUP' } }],
        });
        const r = await run(one(removed));
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /not supported/i);
        assert.match(r.stdout, /rc=1/);
        assert.doesNotMatch(r.stdout, /CREATED/);
        const killed = await run(one(sh('uname -s', { isolators: [{ name: 'os/linux/seccomp-remove-set', value: { set: ['uname'] } }] })));
        assert.equal(killed.code, 128 + 31, 'an empty errno kills with SIGSYS');
        const show = sh('grep ^Seccomp: /proc/self/status; uname -s; unshare -m true 2>&1; echo "unshare=$?"');
        const def = await run(one(show));
        assert.match(def.stdout, /^Seccomp:\s+2$/m);
        assert.match(def.stdout, /^Linux$/m);
        assert.match(def.stdout, /unshare=[1-9]/, 'unshare is outside the default whitelist');
        const off = await run(one(show), ['--disable-seccomp']);
        assert.match(off.stdout, /^Seccomp:\s+0$/m);
        const retain = await run(
          one(sh('grep ^Seccomp: /proc/self/status; uname -s', { isolators: [{ name: 'os/linux/seccomp-retain-set', value: { set: ['@rkt/default-whitelist'], errno: 'EPERM' } }] })),
        );
        assert.equal(retain.code, 0, retain.stderr);
        assert.match(retain.stdout, /^Linux$/m);
      });

      it('sets no_new_privs and oom_score_adj; /proc/sys is read-only unless --disable-paths', async () => {
        const app = sh('grep ^NoNewPrivs: /proc/self/status; cat /proc/self/oom_score_adj; grep -E " /proc/sys " /proc/self/mounts', {
          isolators: [
            { name: 'os/linux/no-new-privileges', value: true },
            { name: 'os/linux/oom-score-adj', value: 345 },
          ],
        });
        const r = await run(one(app));
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^NoNewPrivs:\s+1$/m);
        assert.match(r.stdout, /^345$/m);
        assert.match(r.stdout, / \/proc\/sys \w+ ro,/, '/proc/sys is read-only');
        const open = await run(one(sh('grep -E " /proc/sys " /proc/self/mounts; true')), ['--disable-paths']);
        assert.equal(open.code, 0, open.stderr);
        assert.doesNotMatch(open.stdout, / \/proc\/sys \w+ ro,/);
      });

      it('mounts volumes nosuid and nodev (read-only as asked) and the DNS files also noexec', async () => {
        const host = fs.mkdtempSync(path.join(work, 'vol-'));
        const app = sh('grep -E " /(v|ro|etc/hosts) " /proc/self/mounts', { mountPoints: [{ name: 'v', path: '/v' }, { name: 'ro', path: '/ro', readOnly: true }] });
        const pod = newPod({
          apps: [{ name: 'app', app }],
          volumes: [
            { name: 'v', kind: 'host', source: host },
            { name: 'ro', kind: 'empty' },
          ],
        });
        const r = await run(pod);
        assert.equal(r.code, 0, r.stderr);
        const opts = (target: string) => r.stdout.split('\n').find((l) => l.split(' ')[1] === target)?.split(' ')[3]?.split(',') ?? [];
        for (const [target, ro] of [['/v', false], ['/ro', true]] as const) {
          const o = opts(target);
          assert.ok(o.includes('nosuid') && o.includes('nodev'), `${target}: ${o.join(',')}`);
          assert.equal(o.includes('ro'), ro, `${target}: ${o.join(',')}`);
        }
        const hosts = opts('/etc/hosts');
        assert.ok(hosts.includes('noexec') && hosts.includes('nosuid') && hosts.includes('ro'), `/etc/hosts: ${hosts.join(',')}`);
      });

      it('enter gets the same namespaces, capabilities, seccomp, cgroups and uid as the app', async () => {
        const host = fs.mkdtempSync(path.join(work, 'enter-'));
        fs.chmodSync(host, 0o777);
        const probe = 'grep -E "^(Uid|Gid|Groups|CapBnd|CapEff|CapPrm|NoNewPrivs|Seccomp):" /proc/self/status; for n in pid mnt net ipc uts; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup | grep -v "^0::" | sort';
        const app = sh(`(${probe}) > /v/app; echo up; exec sleep 600`, {
          user: 'user1',
          group: 'grp1',
          supplementaryGIDs: [3000],
          mountPoints: [{ name: 'v', path: '/v' }],
          isolators: [
            { name: 'os/linux/capabilities-retain-set', value: { set: ['CAP_NET_BIND_SERVICE', 'CAP_CHOWN'] } },
            { name: 'os/linux/no-new-privileges', value: true },
          ],
        });
        const pod = newPod({ apps: [{ name: 'app', app }], volumes: [{ name: 'v', kind: 'host', source: host }] });
        const running = pod.start([...runArgs], opts.env ? { env: opts.env } : {});
        await waitFor(() => running.stdout().includes('up') || (running.child.exitCode !== null ? assert.fail(running.stderr()) : false), 20000, 'app start');
        const pid = await pod.enterPid();
        const e = await pod.entrypoint('enter', [`--pid=${pid}`, '--appname=app', '--', '/bin/sh', '-c', probe]);
        assert.equal(e.code, 0, e.stderr);
        assert.equal(e.stdout, fs.readFileSync(path.join(host, 'app'), 'utf8'));
        assert.match(e.stdout, /^Uid:\s+1000\s/m);
        assert.match(e.stdout, /^Seccomp:\s+2$/m);
        await pod.stop();
        await withTimeout(running.done, 20000, 'pod exit');
      });
    }

    it('fails clearly on unknown flags', async () => {
      const pod = newPod({ apps: [{ name: 'x', app: sh('true') }] });
      const r = await run(pod, ['--no-such-flag']);
      assert.equal(r.code, 254);
      assert.match(r.stderr, /^stage1: /m);
    });
  });
}
