/**
 * nspawn `enter`: `enter --pid=<supervisor pid> --appname=<app> -- cmd…`. util-linux nsenter joins
 * the supervisor's (the container PID 1's) mount, PID, network, IPC, UTS and cgroup namespaces (and
 * user namespace, with --private-users), and there
 * `rkt-appexec` runs the command with the app's own plan: its cgroups, chroot, capability
 * bounding set, seccomp filter, no_new_privs, user, groups, environment and working directory, as
 * the app itself got them (rkt CVE-2019-10144/10145/10147).
 */
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { PodDir, Stage1Error, exitStatus, main, parseEnterArgs, pickApp, requireTool } from '@rkt/stage1-native/common';
import { inContainer, readState, stateFile } from '../nspawn/state.js';

await main(async () => {
  const args = parseEnterArgs(process.argv.slice(2));
  const pod = new PodDir(process.cwd());
  const state = readState(pod);
  if (!state) throw new Stage1Error('pod has no nspawn stage1 state');
  const app = pickApp(state.apps, args.appName);
  // The pid comes from stage0 (the single child of ppid): it must be this pod's supervisor, the
  // container's PID 1, whose root is the pod's stage1 rootfs (same state file through its root).
  let cmdline = '';
  let same = false;
  try {
    cmdline = fs.readFileSync(`/proc/${args.pid}/cmdline`, 'utf8');
    const mine = fs.statSync(stateFile(pod));
    const theirs = fs.statSync(`/proc/${args.pid}/root${inContainer(pod.stage1Rootfs, stateFile(pod))}`);
    same = mine.dev === theirs.dev && mine.ino === theirs.ino;
  } catch {
    throw new Stage1Error(`process ${args.pid} is not the supervisor of this pod`);
  }
  if (!cmdline.startsWith('/rkt-supervisor\0run\0') || !same) {
    throw new Stage1Error(`process ${args.pid} is not the supervisor of this pod`);
  }
  // With --private-users the container's user namespace too (as its root, like the supervisor).
  const userns = state.privateUsers ? ['--user'] : [];
  const argv = ['--target', String(args.pid), ...userns, '--mount', '--pid', '--net', '--ipc', '--uts', '--cgroup', '--root', '--', '/rkt-appexec', 'exec', app.plan, '--', ...args.command];
  const child = spawn(requireTool('nsenter'), argv, { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  return await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(exitStatus(code, signal)));
  });
});
