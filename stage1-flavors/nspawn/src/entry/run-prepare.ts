/**
 * nspawn `run` entrypoint, step 1: the preparation: prepare the pod, then the sh wrapper execs
 * `rkt-supervisor launch`, which records `ppid` (systemd-nspawn's pid) and runs systemd-nspawn
 * on the stage1 rootfs with the rkt-ts supervisor as the container's PID 1. The supervisor starts
 * each app through `rkt-appexec` (chroot into /opt/stage2/<app>/rootfs, cgroups, capabilities,
 * seccomp, no_new_privs, credentials, environment), exactly as in the native flavor it starts them
 * through the OCI runtime.
 *
 * Accepted flags (interface version 6): --debug, --net=host|none (or a netns stage0 prepared,
 * recorded in `$pod/netns`), --interactive, --local-config, --hostname, --dns-conf-mode,
 * --disable-capabilities-restriction, --disable-paths, --disable-seccomp, --ipc, --mds-token.
 * --private-users=SHIFT:COUNT (the container runs in a user namespace over the trees stage0
 * shifted). Refused clearly: other --net values without a prepared netns, --mutable.
 *
 * `prepare` is also what stage0 runs in its own process when the stage1 image names this module in
 * its `rkt-ts.io/stage1/run-prepare` annotation (docs/extension-points/stage1.md, "In-process
 * preparation"); the entry script then skips this step.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isatty } from 'node:tty';
import {
  PodCgroups,
  PodDir,
  cgroupMode,
  Stage1Error,
  hostBoundingCaps,
  hostHierarchies,
  hostSideIp,
  makeLogger,
  mkdirInRoot,
  mdsAddressFor,
  metadataUrl,
  parsePrivateUsers,
  parseRunArgs,
  prepareApp,
  readMdsRegistration,
  requireTool,
  resolveInRoot,
  runtimeSettings,
  stage0PodIsolators,
  writeFileAtomic,
  writeRuntimeConfig,
} from '@rkt/stage1-native/common';
import { containerCaps, journaldSocket, machineName, nspawnArgv, nspawnEnv, systemServiceOf, systemdBootedMarker, type NspawnBind } from '../nspawn/argv.js';
import { JOURNAL_STREAM_SOCKET, podJournal, preparePodJournal } from '../nspawn/journal.js';
import { encodeTokens, planTokens } from '../nspawn/plan.js';
import { podNetwork } from '../nspawn/network.js';
import { cgroupBindDir, inContainer, stateFile, type NspawnState } from '../nspawn/state.js';

const GRACE_SECONDS = 10;

/**
 * The devices an app may use (v1 devices cgroup), as runc's default list: mknod of anything, but
 * read/write only the null, zero, full, random, urandom, tty, console, ptmx and pts nodes.
 */
const APP_DEVICES = ['c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', 'c 136:* rwm'];

function closeDevices(dir: string): void {
  fs.writeFileSync(path.join(dir, 'devices.deny'), 'a');
  for (const d of APP_DEVICES) fs.writeFileSync(path.join(dir, 'devices.allow'), d);
}
const SUPERVISOR = '/rkt-supervisor';
/** Written by this step when machined does not place the pod: cgroup.procs files the launcher joins. */
const JOIN_CGROUPS = 'join-cgroups';
const HELPER = '/rkt-appexec';

export async function prepare(entryArgv: readonly string[], podPath: string): Promise<void> {
  const args = parseRunArgs([...entryArgv]);
  const log = makeLogger(args.debug);
  const pod = new PodDir(podPath);
  if (args.mutable) throw new Stage1Error('mutable pods are not supported by the nspawn stage1');
  // --private-users: stage0 shifted the stage1 and app trees (it needs --no-overlay); nspawn runs the
  // container in a user namespace over them, and what this step writes is shifted likewise below.
  const userns = args.privateUsers ? parsePrivateUsers(args.privateUsers) : undefined;
  const network = podNetwork(pod, args.net);
  const ipc = args.ipc ?? 'auto';
  if (!['auto', 'private', 'parent'].includes(ipc)) throw new Stage1Error(`invalid --ipc=${ipc} (auto, private or parent)`);
  const mds = readMdsRegistration(pod, args.mdsToken);
  const mdsUrl = mds
    ? metadataUrl(mds, network.mode === 'netns' ? mdsAddressFor(mds, 'contained', hostSideIp(pod)) : mdsAddressFor(mds, network.mode))
    : undefined;

  const manifest = pod.readPodManifest();
  const hostname = args.hostname || `rkt-${args.uuid}`;
  const nspawn = requireTool('systemd-nspawn');
  const envTool = requireTool('env');
  for (const f of [SUPERVISOR, HELPER]) {
    if (!fs.existsSync(path.join(pod.stage1Rootfs, f))) throw new Stage1Error(`${f} is missing from the stage1 image`);
  }
  if (args.interactive && manifest.apps.length !== 1) throw new Stage1Error('interactive mode only supports one app');
  log.debug(`pod ${args.uuid}: ${manifest.apps.length} app(s), net ${network.mode}, ipc ${ipc}`);

  const plans = path.join(pod.flavorState, 'apps');
  for (const d of [pod.flavorState, pod.statusDir, pod.envDir, plans]) fs.mkdirSync(d, { recursive: true, mode: 0o750 });

  const hierarchies = hostHierarchies();
  const cgroupBase = `/rkt/${args.uuid}`;
  // Pod isolators a stage0 Isolator contribution already applied are not reported as unknown.
  const podIso = runtimeSettings(manifest.isolators?.filter((i) => !stage0PodIsolators(pod).includes(i.name)));
  for (const n of podIso.ignored) log.warn(`ignoring unknown pod isolator ${n}`);
  const written = new PodCgroups(hierarchies, cgroupBase).applyPodLimits(podIso.settings);
  if (written.length) log.debug(`pod cgroup limits: ${written.join(', ')}`);
  const hostCaps = hostBoundingCaps(fs.readFileSync('/proc/self/status', 'utf8'));
  const systemdBooted = fs.existsSync(systemdBootedMarker);
  // Started from a system service, the pod stays in it (--keep-unit); else it gets a machine scope.
  const unified = !hierarchies.some((h) => h.controllers.includes('name=systemd'));
  const service = systemdBooted ? systemServiceOf(fs.readFileSync('/proc/self/cgroup', 'utf8'), unified) : undefined;
  if (service) log.debug(`running in ${service.unit}: the pod stays in it`);
  // Every hierarchy but cpuset (a new cpuset cgroup has no CPUs or memory nodes to run on).
  const podHierarchies = hierarchies.filter((h) => !h.controllers.includes('cpuset'));

  const prepared = manifest.apps.map((rt) =>
    prepareApp(pod, manifest, rt, {
      args,
      hostname,
      hostCaps,
      log,
      flavor: 'nspawn',
      defaultRecursive: true,
      envOptions: mdsUrl ? { metadataUrl: mdsUrl } : {},
    }),
  );

  if (userns && network.mode === 'host') {
    // In a user namespace the host's network belongs to another user namespace: nspawn leaves
    // CAP_NET_BIND_SERVICE and CAP_NET_ADMIN out of the container's bounding set (they could not
    // act on it), so the apps cannot hold them either.
    const netCaps = ['CAP_NET_BIND_SERVICE', 'CAP_NET_ADMIN'];
    for (const p of prepared) {
      const dropped = p.capabilities.filter((c) => netCaps.includes(c));
      if (dropped.length) log.debug(`app "${p.name}": ${dropped.join(', ')} not available with --private-users on the host network`);
      p.capabilities = p.capabilities.filter((c) => !netCaps.includes(c));
    }
  }

  const conf: string[] = [];
  if (args.debug) conf.push('debug');
  conf.push('grace', String(GRACE_SECONDS), 'ready', inContainer(pod.stage1Rootfs, pod.supervisorStatus));
  const argvTok = (t: string, v: string[]) => conf.push(t, String(v.length), ...v);
  const binds: NspawnBind[] = [];
  // On a host running journald the pod gets its own journal (linked from the host's); the apps'
  // output goes there as well as to the console (not in interactive mode: the app has the tty).
  const hostJournald = fs.existsSync(journaldSocket);
  if (hostJournald && !args.interactive) {
    const j = podJournal(pod.stage1Rootfs);
    if (typeof j === 'string') log.debug(`no pod journal: ${j}`);
    else {
      preparePodJournal(pod.stage1Rootfs, j);
      binds.push(...j.binds);
      argvTok('journald', j.argv);
      conf.push('journal', JOURNAL_STREAM_SOCKET);
    }
  }
  const boundHierarchies = new Set<string>();
  const state: NspawnState = {
    uuid: args.uuid,
    machine: machineName(args.uuid),
    registered: false,
    cgroupBase,
    machineId: args.uuid.replace(/-/g, ''),
    apps: [],
    ...(userns ? { privateUsers: userns } : {}),
  };
  const apps: { name: string; plan: string; status: string; pre?: string[]; post?: string[] }[] = [];
  /** Per-app cgroup directories rkt-appexec joins (from inside the container). */
  const appCgroups: string[] = [];

  prepared.forEach((p, index) => {
    const cid = `${index}-${p.name.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
    // The app's own cgroup below the pod's in every v1 controller hierarchy (memory and CPU
    // limits, a closed device list); the helper joins them, and so does enter. (On a pure cgroup2
    // host nspawn's payload group would have to hold them: there apps share the pod's limits.)
    const { memoryLimitBytes, cpuMilli, cpuShares } = p.settings;
    if (cgroupMode(hierarchies) === 'v2') {
      if (memoryLimitBytes !== undefined || cpuMilli !== undefined || cpuShares !== undefined) {
        log.warn(`app "${p.name}": per-app memory and CPU isolators are not applied on a cgroup2-only host by the nspawn stage1 (pod isolators are)`);
      }
    } else {
      const appWritten = new PodCgroups(hierarchies, `${cgroupBase}/${cid}`).applyPodLimits(p.settings);
      if (appWritten.length) log.debug(`app "${p.name}" cgroup limits: ${appWritten.join(', ')}`);
    }
    const cgroupProcs: string[] = [];
    for (const h of podHierarchies) {
      if (h.controllers.includes('name=systemd') && !systemdBooted) {
        // nspawn's `payload` group, where the apps already are: enter joins it too.
        boundHierarchies.add(h.mountPoint);
        cgroupProcs.push(`${cgroupBindDir(h.mountPoint)}/payload/cgroup.procs`);
      }
      if (h.version !== 1 || !h.controllers.some((c) => !c.startsWith('name='))) continue;
      const dir = path.join(h.mountPoint, cgroupBase, cid);
      fs.mkdirSync(dir, { recursive: true });
      if (h.controllers.includes('devices')) closeDevices(dir);
      appCgroups.push(dir);
      boundHierarchies.add(h.mountPoint);
      cgroupProcs.push(`${cgroupBindDir(h.mountPoint)}/${cid}/cgroup.procs`);
    }
    // Mount points of the API file systems rkt-appexec binds (checked to be real directories).
    for (const api of ['/proc', '/sys', '/dev']) mkdirInRoot(p.rootfs, api);
    // Volumes and DNS files: bound by nspawn straight onto their (already resolved) targets.
    const remounts: { path: string; readOnly: boolean; noexec: boolean }[] = [];
    for (const m of p.mounts) {
      const target = inContainer(pod.stage1Rootfs, resolveInRoot(p.rootfs, m.target).hostPath);
      binds.push({ source: m.source, target, readOnly: m.readOnly, recursive: m.recursive });
      remounts.push({ path: target, readOnly: m.readOnly, noexec: false });
    }
    for (const b of p.fileBinds) {
      const target = inContainer(pod.stage1Rootfs, resolveInRoot(p.rootfs, b.target).hostPath);
      binds.push({ source: b.source, target, readOnly: b.readOnly, recursive: false });
      remounts.push({ path: target, readOnly: b.readOnly, noexec: true });
    }
    const planHost = path.join(plans, `${cid}.plan`);
    writeFileAtomic(planHost, encodeTokens(planTokens(p, { root: inContainer(pod.stage1Rootfs, p.rootfs), cgroupProcs, remounts })), 0o600);
    const plan = inContainer(pod.stage1Rootfs, planHost);
    state.apps.push({ name: p.name, plan });
    const pre = p.app.eventHandlers?.find((h) => h.name === 'pre-start')?.exec;
    const post = p.app.eventHandlers?.find((h) => h.name === 'post-stop')?.exec;
    const entry: (typeof apps)[number] = { name: p.name, plan, status: inContainer(pod.stage1Rootfs, pod.statusFile(p.name)) };
    if (pre?.length) entry.pre = pre;
    if (post?.length) entry.post = post;
    apps.push(entry);
  });
  for (const mp of boundHierarchies) {
    fs.mkdirSync(path.join(mp, cgroupBase), { recursive: true });
    binds.push({ source: path.join(mp, cgroupBase), target: cgroupBindDir(mp), readOnly: false, recursive: false });
    fs.mkdirSync(path.join(pod.stage1Rootfs, cgroupBindDir(mp)), { recursive: true });
  }

  // The supervisor's configuration: setup (each app's API file systems), then the apps.
  for (const a of apps) argvTok('setup', [HELPER, 'prepare', a.plan]);
  for (const a of apps) {
    conf.push('app', a.name, a.status);
    if (a.pre) argvTok('pre', [HELPER, 'exec', a.plan, '--', ...a.pre]);
    argvTok('main', [HELPER, 'exec', a.plan]);
    if (a.post) argvTok('post', [HELPER, 'exec', a.plan, '--', ...a.post]);
  }
  const confFile = path.join(pod.flavorState, 'supervisor.conf');
  writeFileAtomic(confFile, encodeTokens(conf), 0o600);

  // machine-id = the UUID without dashes (rkt.md §1.6); the journal directory nspawn links.
  const etc = path.join(pod.stage1Rootfs, 'etc');
  fs.mkdirSync(etc, { recursive: true });
  writeFileAtomic(path.join(etc, 'machine-id'), state.machineId + '\n', 0o444);
  if (hostJournald) fs.mkdirSync(path.join(pod.stage1Rootfs, 'var', 'log', 'journal', state.machineId), { recursive: true });
  state.registered = systemdBooted;

  const syscallAllow = prepared.flatMap((p) =>
    p.settings.seccomp?.mode === 'retain' && !args.disableSeccomp ? p.settings.seccomp.set.filter((s) => !s.startsWith('@')) : [],
  );
  const argv = nspawnArgv({
    nspawn,
    uuid: args.uuid,
    stage1Rootfs: pod.stage1Rootfs,
    systemdBooted,
    ...(service ? { serviceUnit: service.unit } : {}),
    network,
    hostname,
    capabilities: containerCaps(prepared.map((p) => p.capabilities)),
    syscallAllow,
    binds,
    hostJournald,
    // --interactive: stdin is passed through; nspawn gives the app a terminal only when stdin is one.
    interactive: args.interactive && isatty(0),
    debug: args.debug,
    command: [SUPERVISOR, 'run', inContainer(pod.stage1Rootfs, confFile)],
    ...(userns ? { privateUsers: userns } : {}),
  });
  const env = nspawnEnv({ ipcParent: ipc === 'parent', disablePaths: args.disablePaths, disableSeccomp: args.disableSeccomp, debug: args.debug });
  log.debug(`nspawn: ${[...env, ...argv].join(' ')}`);
  writeFileAtomic(stateFile(pod), JSON.stringify(state, null, 1), 0o600);
  writeFileAtomic(path.join(pod.flavorState, 'launch'), encodeTokens([envTool, ...env, ...argv]), 0o600);
  writeRuntimeConfig(pod, args, { hostname, ipc });
  if (userns) {
    // Inside the user namespace the container's root is host uid `shift`. It gets exactly what the
    // supervisor and rkt-appexec read and write: the supervisor's and the apps' plans (its own
    // files), the status and env files, the empty volumes and the app cgroups it joins. The
    // flavor-state directories stay root's (readable through their group), so that nothing in the
    // pod can replace state.json or launch, which enter, stop and gc read on the host.
    const own = (p: string) => {
      const st = fs.lstatSync(p);
      if (st.uid < userns.shift) fs.lchownSync(p, st.uid + userns.shift, st.gid + userns.shift);
    };
    const ownTree = (p: string) => {
      own(p);
      if (fs.lstatSync(p).isDirectory()) for (const n of fs.readdirSync(p)) ownTree(path.join(p, n));
    };
    for (const d of [pod.flavorState, plans]) fs.chownSync(d, 0, userns.shift);
    own(confFile);
    for (const a of apps) own(path.join(pod.stage1Rootfs, a.plan));
    for (const d of [pod.statusDir, pod.envDir]) ownTree(d);
    // the pod journal's directory, which journald (the container's root) writes
    if (hostJournald) ownTree(path.join(pod.stage1Rootfs, 'var', 'log', 'journal'));
    for (const p of prepared) {
      for (const m of p.mounts) if (m.kind === 'empty') ownTree(m.source);
      // what this step made in the (shifted) app rootfs: mount points, bind targets, their parents
      for (const t of ['/proc', '/sys', '/dev', ...p.mounts.map((m) => m.target), ...p.fileBinds.map((b) => b.target)]) {
        for (let h = resolveInRoot(p.rootfs, t).hostPath; h.startsWith(p.rootfs + '/'); h = path.dirname(h)) if (fs.existsSync(h)) own(h);
      }
    }
    for (const d of appCgroups) {
      own(d);
      for (const f of ['cgroup.procs', 'tasks']) if (fs.existsSync(path.join(d, f))) own(path.join(d, f));
    }
  }
  if (systemdBooted) {
    // machined puts the pod in its scope, or it stays in the service rkt runs in; `subcgroup` is
    // written before ppid (rkt.md §1.4).
    const sub = service ? service.cgroup.replace(/^\//, '') : `machine.slice/machine-${state.machine.replace(/-/g, '\\x2d')}.scope`;
    writeFileAtomic(pod.file('subcgroup'), sub, 0o640);
  } else {
    // Without machined the whole pod (launcher, nspawn, the container) lives in `/rkt/<uuid>` of
    // every hierarchy, where gc finds whatever is left; nspawn adds its `payload` and
    // `supervisor` groups below it in the systemd and cgroup2 hierarchies, and its cgroup
    // namespace is rooted there, above the apps' groups. The launcher is the shell that runs this
    // step and then execs `rkt-supervisor launch`: it moves itself into the `cgroup.procs` files
    // listed in flavor-state/join-cgroups (this step may run in stage0's process, whose parent
    // is not the launcher).
    const join: string[] = [];
    for (const h of podHierarchies) {
      const dir = path.join(h.mountPoint, cgroupBase);
      try {
        fs.mkdirSync(dir, { recursive: true });
        join.push(path.join(dir, 'cgroup.procs'));
      } catch (e) {
        log.debug(`cannot make ${dir} for the launcher: ${(e as Error).message}`);
      }
    }
    writeFileAtomic(path.join(pod.flavorState, JOIN_CGROUPS), join.map((f) => f + '\n').join(''), 0o600);
  }
  log.debug('pod prepared, starting systemd-nspawn');
}
