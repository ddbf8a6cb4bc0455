/**
 * native `run` entrypoint, step 1: the preparation: prepare the pod, then the sh wrapper execs
 * `rkt-supervisor launch`, which records `ppid` and execs util-linux `unshare` to create the pod's
 * PID (+mount, UTS, IPC, network) namespaces with the supervisor as PID 1. Everything that needs
 * judgement happens here; the C supervisor only runs what this step wrote.
 *
 * Accepted flags (interface version 6): --debug, --net (host, none, or contained networks that
 * stage0 set up in the netns named by $pod/netns), --interactive, --local-config,
 * --hostname, --dns-conf-mode, --disable-capabilities-restriction, --disable-paths,
 * --disable-seccomp, --ipc=auto|private|parent, --mds-token (see common/mds.ts),
 * --private-users=SHIFT:COUNT (each app container gets a user namespace; stage0 shifted the
 * rootfs owners, which needs --no-overlay). Refused clearly: --mutable.
 *
 * `prepare` is also what stage0 runs in its own process when the stage1 image names this module in
 * its `rkt-ts.io/stage1/run-prepare` annotation (docs/extension-points/stage1.md, "In-process
 * preparation"); the entry script then skips this step.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isatty } from 'node:tty';
import { prepareApp, stage0PodIsolators } from '../common/app.js';
import { parsePrivateUsers, parseRunArgs } from '../common/args.js';
import { hostBoundingCaps } from '../common/caps.js';
import { PodCgroups, hostHierarchies, hybridUnifiedMount } from '../common/cgroups.js';
import { hostSideIp, mdsAddressFor, metadataUrl, readMdsRegistration } from '../common/mds.js';
import { runtimeSettings } from '../common/isolators.js';
import { makeLogger, Stage1Error } from '../common/log.js';
import { PodDir, writeFileAtomic, writeRuntimeConfig } from '../common/pod.js';
import { requireTool } from '../common/proc.js';
import { ociConfig } from '../native/oci.js';
import { chooseRuntime, containerId, stateFile, type NativeState } from '../native/state.js';

const GRACE_SECONDS = 10;
/**
 * --private-users: where each app rootfs is bind-mounted inside the pod's private mount namespace
 * (on a tmpfs over this empty host directory), because the app's shifted root must be able to
 * reach its rootfs and the pod directory is not searchable by others.
 */
const USERNS_ROOTS = '/run/rkt-native-roots';

export async function prepare(entryArgv: readonly string[], podPath: string): Promise<void> {
  const args = parseRunArgs([...entryArgv]);
  const log = makeLogger(args.debug);
  const pod = new PodDir(podPath);
  if (args.mutable) throw new Stage1Error('mutable pods are not supported by the native stage1');
  const userns = args.privateUsers ? parsePrivateUsers(args.privateUsers) : undefined;
  let net: 'host' | 'none' | 'contained';
  let netnsPath: string | undefined;
  if (args.net.length === 1 && args.net[0] === 'host') net = 'host';
  else if (args.net.length === 1 && args.net[0] === 'none') net = 'none';
  else {
    // Contained networks are set up by stage0 (CNI) in a named netns recorded in $pod/netns.
    net = 'contained';
    netnsPath = fs.existsSync(pod.file('netns')) ? fs.readFileSync(pod.file('netns'), 'utf8').trim() : '';
    if (!netnsPath || !fs.existsSync(netnsPath))
      throw new Stage1Error(`failed to setup network: --net=${args.net.join(',')} needs the pod's network namespace (${pod.file('netns')}), which stage0 creates`);
  }
  const ipc = args.ipc ?? 'auto';
  if (!['auto', 'private', 'parent'].includes(ipc)) throw new Stage1Error(`invalid --ipc=${ipc} (auto, private or parent)`);
  const mds = readMdsRegistration(pod, args.mdsToken);
  const mdsUrl = mds ? metadataUrl(mds, mdsAddressFor(mds, net, net === 'contained' ? hostSideIp(pod) : undefined)) : undefined;

  const manifest = pod.readPodManifest();
  const hostname = args.hostname || `rkt-${args.uuid}`;
  const runtime = chooseRuntime(pod.stage1Rootfs, args.localConfig);
  const unshare = requireTool('unshare');
  const supervisor = path.join(pod.stage1Rootfs, 'rkt-supervisor');
  if (!fs.existsSync(supervisor)) throw new Stage1Error(`${supervisor} is missing from the stage1 image`);
  log.debug(`pod ${args.uuid}: ${manifest.apps.length} app(s), runtime ${runtime.name}, net ${net}, ipc ${ipc}`);

  for (const d of [pod.flavorState, pod.statusDir, pod.envDir]) fs.mkdirSync(d, { recursive: true, mode: 0o750 });
  const runtimeRoot = path.join(pod.flavorState, 'runtime');
  fs.mkdirSync(runtimeRoot, { recursive: true, mode: 0o700 });

  const hierarchies = hostHierarchies();
  const cgroupBase = `/rkt/${args.uuid}`;
  const podCg = new PodCgroups(hierarchies, cgroupBase);
  const podIso = runtimeSettings(manifest.isolators?.filter((i) => !stage0PodIsolators(pod).includes(i.name)));
  for (const n of podIso.ignored) log.warn(`ignoring unknown pod isolator ${n}`);
  const written = podCg.applyPodLimits(podIso.settings);
  if (written.length) log.debug(`pod cgroup limits: ${written.join(', ')}`);
  const memHier = hierarchies.find((h) => h.version === 1 && h.controllers.includes('memory'));
  const limitSwap = memHier ? fs.existsSync(path.join(memHier.mountPoint, 'memory.memsw.limit_in_bytes')) : podCg.mode === 'v2';
  const hostCaps = hostBoundingCaps(fs.readFileSync('/proc/self/status', 'utf8'));

  const state: NativeState = { uuid: args.uuid, runtime: runtime.name, runtimePath: runtime.path, runtimeRoot, cgroupBase, net, apps: [] };
  const conf: string[] = [];
  if (args.debug) conf.push('debug');
  conf.push('hostname', hostname, 'grace', String(GRACE_SECONDS), 'ready', pod.supervisorStatus);
  if (net === 'none') conf.push('lo');
  const unified = hybridUnifiedMount(hierarchies);
  if (runtime.name === 'crun' && unified) {
    // crun refuses hybrid cgroups: give it a pure v1 view inside the pod's private mount namespace.
    conf.push('setup', '2', requireTool('umount'), unified);
  }
  if (args.interactive && manifest.apps.length !== 1) throw new Stage1Error('interactive mode only supports one app');
  // --interactive: stdin is passed through; the app gets a terminal only when stdin is one.
  const tty = args.interactive && isatty(0);

  const usernsBinds: string[] = [];
  manifest.apps.forEach((rt, index) => {
    const prepared = prepareApp(pod, manifest, rt, {
      args,
      hostname,
      hostCaps,
      log,
      flavor: 'native',
      defaultRecursive: true,
      envOptions: mdsUrl ? { metadataUrl: mdsUrl } : {},
    });
    const { name, app, user } = prepared;

    const cid = containerId(index, name);
    if (userns) {
      usernsBinds.push(cid, prepared.rootfs);
      // empty volumes belong to the app's (shifted) ids, like its rootfs
      for (const m of prepared.mounts) {
        const st = m.kind === 'empty' ? fs.statSync(m.source) : undefined;
        if (st && st.uid < userns.shift) fs.chownSync(m.source, st.uid + userns.shift, st.gid + userns.shift);
      }
    }
    const base = {
      rootfs: prepared.rootfs,
      readOnlyRootfs: prepared.readOnlyRootfs,
      env: prepared.env,
      cwd: prepared.cwd,
      uid: user.uid,
      gid: user.gid,
      supplementaryGids: app.supplementaryGIDs ?? [],
      capabilities: prepared.capabilities,
      settings: prepared.settings,
      seccomp: prepared.seccomp,
      disablePaths: args.disablePaths,
      terminal: tty,
      mounts: prepared.mounts,
      fileBinds: prepared.fileBinds,
      limitSwap,
      ...(userns ? { userns: { ...userns, root: path.join(USERNS_ROOTS, cid) } } : {}),
    };
    const bundle = (suffix: string, argv: string[]) => {
      const dir = path.join(pod.flavorState, 'bundles', cid + suffix);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const cfg = ociConfig({ ...base, args: argv, cgroupsPath: `${cgroupBase}/${cid}${suffix}`, terminal: suffix === '' && tty });
      writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(cfg, null, 1), 0o600);
      return [runtime.path, '--root', runtimeRoot, 'run', '--bundle', dir, cid + suffix];
    };
    const exec = app.exec!;
    const pre = app.eventHandlers?.find((h) => h.name === 'pre-start');
    const post = app.eventHandlers?.find((h) => h.name === 'post-stop');
    const argvTok = (t: string, v: string[]) => conf.push(t, String(v.length), ...v);
    conf.push('app', name, pod.statusFile(name));
    fs.mkdirSync(path.dirname(pod.statusFile(name)), { recursive: true });
    if (pre?.exec?.length) argvTok('pre', bundle('-pre', pre.exec));
    argvTok('main', bundle('', exec));
    if (post?.exec?.length) argvTok('post', bundle('-post', post.exec));
    state.apps.push({ name, cid, bundle: path.join(pod.flavorState, 'bundles', cid) });
  });

  if (userns) {
    fs.mkdirSync(USERNS_ROOTS, { recursive: true, mode: 0o711 });
    const script = 'set -e; r=$1; shift; mount -t tmpfs -o mode=0711,size=64k rkt-roots "$r"; while [ $# -gt 0 ]; do mkdir "$r/$1"; mount --bind "$2" "$r/$1"; shift 2; done';
    const argv = [requireTool('sh'), '-c', script, 'sh', USERNS_ROOTS, ...usernsBinds];
    conf.push('setup', String(argv.length), ...argv);
  }
  writeFileAtomic(stateFile(pod), JSON.stringify(state, null, 1), 0o600);
  const confFile = path.join(pod.flavorState, 'supervisor.conf');
  writeFileAtomic(confFile, conf.map((t) => t + '\0').join(''), 0o600);
  const launch = [unshare, '--pid', '--fork', '--kill-child', '--mount', '--mount-proc', '--propagation', 'private', '--uts'];
  if (ipc !== 'parent') launch.push('--ipc');
  if (net === 'none') launch.push('--net');
  // Contained: the supervisor (and so every app container, which shares its netns) starts in the pod's netns.
  if (netnsPath) launch.unshift(requireTool('nsenter'), `--net=${netnsPath}`, '--');
  launch.push('--', supervisor, 'run', confFile);
  writeFileAtomic(path.join(pod.flavorState, 'launch'), launch.map((t) => t + '\0').join(''), 0o600);
  // The launcher removes these (empty) cgroups once the pod has exited; gc does it after a crash.
  writeFileAtomic(path.join(pod.flavorState, 'cgroups'), podCg.dirs().map((t) => t + '\0').join(''), 0o600);
  writeRuntimeConfig(pod, args, { hostname, ipc });
  log.debug('pod prepared, starting the supervisor');
}
