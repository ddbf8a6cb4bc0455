/**
 * nspawn `stop [--force] <uuid>`: SIGTERM to the supervisor (the container's PID 1, the single
 * child of systemd-nspawn, whose pid is `ppid`), which stops every app and exits; --force sends
 * SIGKILL, which takes the container's whole PID namespace with it.
 */
import { PodDir, main, parseStopArgs, stopSupervisor } from '@rkt/stage1-native/common';

await main(async () => {
  const args = parseStopArgs(process.argv.slice(2));
  const pod = new PodDir(process.cwd());
  // The ppid holder is this pod's systemd-nspawn, whose command line names the stage1 rootfs.
  stopSupervisor(pod, args.force, (cmd) => cmd.includes(`--directory=${pod.stage1Rootfs}\0`));
  return 0;
});
