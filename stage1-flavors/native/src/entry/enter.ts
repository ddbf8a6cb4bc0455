/**
 * native `enter`: `enter --pid=<supervisor pid> --appname=<app> -- cmd…`. The command runs through
 * the OCI runtime's `exec` on the app's container, with the app's own process spec (user, groups,
 * capabilities, no_new_privs, environment, cwd), so it gets the same namespaces, cgroup, seccomp
 * filter and masked paths as the app (rkt CVE-2019-10144/10145/10147). The runtime is run inside
 * the pod's namespaces (util-linux nsenter into the supervisor's mount, PID, network, IPC and UTS
 * namespaces): its state is consistent there, and the app container shares all but the mount
 * namespace with the supervisor, which `exec` joins from the container's own config.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pickApp } from '../common/app.js';
import { parseEnterArgs } from '../common/args.js';
import { main, Stage1Error } from '../common/log.js';
import { PodDir, readJson } from '../common/pod.js';
import { exitStatus, requireTool } from '../common/proc.js';
import { readState } from '../native/state.js';

await main(async () => {
  const args = parseEnterArgs(process.argv.slice(2));
  const pod = new PodDir(process.cwd());
  const state = readState(pod);
  if (!state) throw new Stage1Error('pod has no native stage1 state');
  const app = pickApp(state.apps, args.appName);
  // The pid comes from stage0 (the single child of ppid): it must be this pod's supervisor.
  let cmdline = '';
  try {
    cmdline = fs.readFileSync(`/proc/${args.pid}/cmdline`, 'utf8');
  } catch {
    throw new Stage1Error(`process ${args.pid} is not running`);
  }
  if (!cmdline.includes('rkt-supervisor') || !cmdline.includes(pod.flavorState)) {
    throw new Stage1Error(`process ${args.pid} is not the supervisor of this pod`);
  }
  const cfg = readJson(path.join(app.bundle, 'config.json')) as { process: Record<string, unknown> };
  const tty = process.stdin.isTTY === true;
  const proc = { ...cfg.process, args: args.command, terminal: tty };
  const pf = path.join(pod.flavorState, `enter-${process.pid}-${randomBytes(4).toString('hex')}.json`);
  fs.writeFileSync(pf, JSON.stringify(proc), { mode: 0o600 });
  try {
    const argv = ['--target', String(args.pid), '--mount', '--pid', '--net', '--ipc', '--uts', '--', state.runtimePath, '--root', state.runtimeRoot, 'exec'];
    if (tty) argv.push('--tty');
    argv.push('--process', pf, app.cid);
    const child = spawn(requireTool('nsenter'), argv, { stdio: 'inherit' });
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
    return await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve(exitStatus(code, signal)));
    });
  } finally {
    fs.rmSync(pf, { force: true });
  }
});
