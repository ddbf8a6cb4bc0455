/**
 * fly `run`: one app, chroot only, on the host's namespaces, no supervisor (rkt.md §1.6).
 * Accepted flags (interface version 5): all of run's flags parse; --net, --hostname, --mds-token,
 * --disable-* and the app's capability/seccomp/cgroup isolators are ignored, as in rkt fly (the
 * app runs in the host's network namespace with root's full capabilities, or none for another
 * user). Refused: several apps, --private-users, --mutable.
 *
 * The app is a child of this process (itself the child of rkt), started through real tools:
 *   env -i <app env> setpriv --regid G --groups … -- unshare --root R --wd W --setuid U -- exec…
 * (coreutils env clears and sets the environment, setpriv sets the group and supplementary
 * groups, unshare chroots, changes into the working directory inside the new root and sets the
 * uid; no namespace is unshared). This process keeps the pod lock and writes `pid`, `pgid` and,
 * when the app exits, `rkt/status/<app>`; rkt run exits with the app's status.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type StdioOptions } from 'node:child_process';
import {
  PodDir,
  Stage1Error,
  appEnvironment,
  mdsAddressFor,
  metadataUrl,
  readMdsRegistration,
  appMounts,
  checkWorkingDir,
  dnsBinds,
  effectiveApp,
  exitStatus,
  formatEnvFile,
  main,
  makeLogger,
  parseRunArgs,
  requireTool,
  resolveInRoot,
  resolveUserGroup,
  writeFileAtomic,
} from '@rkt/stage1-native/common';
import { FlyMounter } from '../fly/mounts.js';

await main(async () => {
  const args = parseRunArgs(process.argv.slice(2));
  const log = makeLogger(args.debug);
  const pod = new PodDir(process.cwd());
  if (args.mutable) throw new Stage1Error('mutable pods are not supported by the fly stage1');
  if (args.privateUsers) throw new Stage1Error('--private-users is not supported by the fly stage1');
  const manifest = pod.readPodManifest();
  if (manifest.apps.length !== 1) throw new Stage1Error('flavor "fly" only supports 1 application per pod');
  const rt = manifest.apps[0]!;
  const name = rt.name;
  const app = effectiveApp(rt, pod.readImageManifest(name));
  const rootfs = pod.appRootfs(name);
  if (!fs.existsSync(rootfs)) throw new Stage1Error(`app "${name}": rootfs ${rootfs} is missing`);
  if (args.net.join(',') !== 'host' && args.net.join(',') !== 'default') log.debug(`--net=${args.net.join(',')} ignored: fly uses the host network`);
  for (const i of app.isolators ?? []) log.debug(`isolator ${i.name} ignored by the fly stage1`);
  const hostname = args.hostname || `rkt-${args.uuid}`;

  const tools = {
    env: requireTool('env'),
    setpriv: requireTool('setpriv'),
    unshare: requireTool('unshare'),
    mount: requireTool('mount'),
  };
  const user = resolveUserGroup(rootfs, app.user, app.group, name);
  const mds = readMdsRegistration(pod, args.mdsToken);
  const env = appEnvironment(name, app, mds ? { metadataUrl: metadataUrl(mds, mdsAddressFor(mds, 'host')) } : {});
  for (const d of [pod.flavorState, pod.statusDir, pod.envDir, path.dirname(pod.envFile(name))]) fs.mkdirSync(d, { recursive: true, mode: 0o750 });
  writeFileAtomic(pod.envFile(name), formatEnvFile(env), 0o640);
  // rkt fly binds user volumes non-recursively unless asked.
  const mounts = appMounts(pod, manifest, rt, app, log, false);
  const binds = dnsBinds(pod, rootfs, mounts, { resolv: args.resolvConfMode, hosts: args.hostsMode }, hostname);
  const cwd = app.workingDirectory ?? '/';
  checkWorkingDir(rootfs, cwd, mounts.map((m) => m.target), name);

  const m = new FlyMounter(rootfs, tools.mount, log);
  m.checkApiDirs();
  const etc = resolveInRoot(rootfs, '/etc');
  if (etc.exists && fs.lstatSync(path.join(etc.hostPath, 'mtab'), { throwIfNoEntry: false }) === undefined) {
    fs.symlinkSync('../proc/self/mounts', path.join(etc.hostPath, 'mtab'));
  }
  if (rt.readOnlyRootFS) {
    // Create every mount target while the tree is writable, then stack everything on a bind.
    for (const t of ['/dev', '/proc', '/sys', '/tmp']) m.target(t, false);
    for (const v of mounts) m.target(v.target, !fs.statSync(v.source).isDirectory());
    for (const b of binds) m.target(b.target, true);
    m.bindRootfsOnItself();
  }
  m.bind('/dev', '/dev', { recursive: true, readOnly: false, file: false });
  m.bind('/proc', '/proc', { recursive: true, readOnly: false, file: false });
  m.bind('/sys', '/sys', { recursive: true, readOnly: false, file: false });
  m.tmpfs('/tmp', 'mode=1777,nosuid,nodev');
  for (const v of mounts) m.bind(v.source, v.target, { recursive: v.recursive, readOnly: v.readOnly });
  for (const b of binds) m.bind(b.source, b.target, { recursive: false, readOnly: b.readOnly, file: true });
  if (rt.readOnlyRootFS) m.remountRootfsReadOnly();

  const gids = app.supplementaryGIDs ?? [];
  const argv = [
    '-i',
    ...env.map(([k, v]) => `${k}=${v}`),
    tools.setpriv,
    '--regid',
    String(user.gid),
    ...(gids.length ? ['--groups', gids.join(',')] : ['--clear-groups']),
    '--',
    tools.unshare,
    '--root',
    rootfs,
    '--wd',
    cwd,
    '--setuid',
    String(user.uid),
    '--',
    ...app.exec!,
  ];
  // The pod lock (RKT_LOCK_FD) stays with this process; in the app its slot is /dev/null.
  const lockFd = Number(process.env.RKT_LOCK_FD);
  const stdio: StdioOptions = ['inherit', 'inherit', 'inherit'];
  if (Number.isInteger(lockFd) && lockFd > 2 && lockFd < 1024) {
    const devnull = fs.openSync('/dev/null', 'r');
    for (let i = 3; i < lockFd; i++) stdio.push('ignore');
    stdio.push(devnull);
  }
  const childEnv = { ...process.env };
  delete childEnv.RKT_LOCK_FD;
  log.debug(`starting app "${name}" as ${user.uid}:${user.gid} in ${cwd}`);
  // Its own process group, so that `stop` can signal the group without reaching rkt itself.
  const child = spawn(tools.env, argv, { stdio, env: childEnv, detached: true });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const pid = child.pid!;
  writeFileAtomic(pod.file('pgid'), String(pid), 0o640);
  writeFileAtomic(pod.file('pid'), String(pid), 0o640);
  // ready for `rkt status --wait-ready` once the app is started (rkt.md §2: the supervisor-status link)
  const readyTmp = `${pod.supervisorStatus}.tmp`;
  fs.rmSync(readyTmp, { force: true });
  fs.symlinkSync('ready', readyTmp);
  fs.renameSync(readyTmp, pod.supervisorStatus);
  const forward = (sig: NodeJS.Signals) => () => {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) process.on(sig, forward(sig));
  const status = await new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(exitStatus(code, signal))));
  writeFileAtomic(pod.statusFile(name), String(status), 0o640);
  log.debug(`app "${name}" exited with ${status}`);
  return status;
});
