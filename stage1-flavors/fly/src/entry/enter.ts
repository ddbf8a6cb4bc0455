/**
 * fly `enter --pid=<app pid> [--appname=<app>] -- cmd…`: the command runs with the app's root and
 * working directory (util-linux nsenter --root --wd of the target), the app's uid, gid and
 * supplementary groups read from /proc/<pid>/status (setpriv + nsenter --setuid), and the app's
 * environment from rkt/env/<app>. fly apps have no other isolation to join.
 */
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { PodDir, Stage1Error, exitStatus, main, parseEnterArgs, parseEnvFile, requireTool } from '@rkt/stage1-native/common';

await main(async () => {
  const args = parseEnterArgs(process.argv.slice(2));
  const pod = new PodDir(process.cwd());
  const manifest = pod.readPodManifest();
  const name = args.appName ?? manifest.apps[0]!.name;
  if (!manifest.apps.some((a) => a.name === name)) throw new Stage1Error(`app "${name}" not found in the pod`);
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${args.pid}/status`, 'utf8');
  } catch {
    throw new Stage1Error(`process ${args.pid} is not running`);
  }
  const root = fs.readlinkSync(`/proc/${args.pid}/root`);
  if (root !== pod.appRootfs(name)) throw new Stage1Error(`process ${args.pid} is not app "${name}" of this pod`);
  const field = (k: string) => (new RegExp(`^${k}:[ \\t]*([^\\n]*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const uid = field('Uid')[0]!;
  const gid = field('Gid')[0]!;
  const groups = field('Groups');
  const env = fs.existsSync(pod.envFile(name)) ? parseEnvFile(fs.readFileSync(pod.envFile(name), 'utf8')) : [];
  const argv = [
    '-i',
    ...env.map(([k, v]) => `${k}=${v}`),
    requireTool('setpriv'),
    '--regid',
    gid,
    ...(groups.length ? ['--groups', groups.join(',')] : ['--clear-groups']),
    '--',
    requireTool('nsenter'),
    '--target',
    String(args.pid),
    '--root',
    '--wd',
    '--setuid',
    uid,
    '--',
    ...args.command,
  ];
  const child = spawn(requireTool('env'), argv, { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  return await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(exitStatus(code, signal)));
  });
});
