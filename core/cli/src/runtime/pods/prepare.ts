/**
 * stage0's prepare and run (rkt §1.3–1.4, §2.2): resolve images and the stage1, generate and
 * validate the pod manifest, then create the pod (embryo → prepare, locked), lay out its files, and
 * either leave it prepared or move it to run/ and hand the lock to the stage1 run entrypoint.
 *
 * Everything that can be wrong with the input (flags, images, manifest) is checked before the pod
 * directory exists; a failure while the pod is being prepared removes it again.
 */
import { mark } from '../timing.js';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import {
  RktError,
  ErrorCodes,
  invalidArgument,
  type ExposedPort,
  type ImageInfo,
  type ImageManifest,
  type Mount,
  type PodManifest,
  type PullPolicy,
  type Store,
  type Volume,
} from '@rkt/api';
import { osArchError, labelsToRecord } from '@rkt/appc/schema';
import type { Engine } from '../engine.js';
import type { ImageService } from '../images.js';
import { generatePodManifest, validatePodManifestBytes, checkPorts, type ResolvedApp } from './manifest.js';
import type { AppOptions, DnsConfig } from './options.js';
import { Pod, PodFiles } from './pod.js';
import { openKeyLock } from './lock.js';
import { overlayUnsupportedReason, unmountAll } from './mounts.js';
import { prepareTrees, setupForRun, writeDnsFiles, mkdirp } from './render.js';
import { ISOLATOR_SETTINGS_FILE, planIsolators } from './isolators.js';
import { entrypointPath, Entrypoint, readStage1Manifest, runEntrypointArgs, selectStage1, startStage1Run, type Stage1Flags, type Stage1Manifest } from './stage1.js';
import { writeUuidFile } from './uuid.js';

export interface PrepareRequest {
  apps: AppOptions[];
  globalMounts: Mount[];
  volumes: Volume[];
  ports: ExposedPort[];
  inheritEnv: boolean;
  envFromFile: Array<[string, string]>;
  explicitEnv: Array<[string, string]>;
  podManifestPath?: string;
  stage1: Stage1Flags;
  noOverlay: boolean;
  privateUsers: boolean;
  pullPolicy: PullPolicy;
  pullPolicyGiven: boolean;
  portsAllowed: boolean;
  uuidFileSave?: string;
  log(m: string): void;
  debug(m: string): void;
}

export interface PreparedPod {
  pod: Pod;
  manifest: PodManifest;
  overlay: boolean;
}

function checkPodManifestConflicts(req: PrepareRequest): void {
  const conflicts: string[] = [];
  if (req.apps.length) conflicts.push('image arguments');
  if (req.volumes.length) conflicts.push('--volume');
  if (req.globalMounts.length || req.apps.some((a) => a.mounts.length)) conflicts.push('--mount');
  if (req.ports.length) conflicts.push('--port');
  if (req.pullPolicyGiven && req.pullPolicy !== 'new') conflicts.push('--pull-policy');
  if (req.inheritEnv) conflicts.push('--inherit-env');
  if (req.explicitEnv.length) conflicts.push('--set-env');
  if (req.envFromFile.length) conflicts.push('--set-env-file');
  if (conflicts.length) throw invalidArgument(`conflicting flags set with --pod-manifest (${conflicts.join(', ')})`);
}

/** An image may run only with os and arch labels this host supports. */
export function checkOsArch(m: ImageManifest, id: string): void {
  const labels = labelsToRecord(m.labels);
  if (!('os' in labels)) throw invalidArgument(`error preparing image ${id}: missing os label in the image manifest`);
  if (!('arch' in labels)) throw invalidArgument(`error preparing image ${id}: missing arch label in the image manifest`);
  const e = osArchError(labels);
  if (e) throw invalidArgument(`error preparing image ${id}: ${e}`);
}

async function resolveImages(svc: ImageService, store: Store, req: PrepareRequest): Promise<ResolvedApp[]> {
  const out: ResolvedApp[] = [];
  for (const o of req.apps) {
    // The one place where an image argument becomes a stored image: store lookup or fetch,
    // per --pull-policy, with signature checks (rkt fetch's path).
    const info: ImageInfo = await svc.fetch(o.image, {
      pullPolicy: req.pullPolicy,
      ...(o.signature ? { signaturePath: o.signature } : {}),
      log: (m) => process.stderr.write(`image: ${m}\n`),
      debug: req.debug,
    });
    const manifest = await store.images.manifest(info.id);
    checkOsArch(manifest, info.id);
    out.push({ imageId: info.id, manifest, options: o });
  }
  return out;
}

function syncfs(path: string): void {
  spawnSync('sync', ['-f', path], { stdio: 'ignore' });
}

export async function preparePod(engine: Engine, req: PrepareRequest): Promise<PreparedPod> {
  mark('stage0: prepare');
  const ctx = engine.context;
  const { imageService } = await import('../image-commands.js');
  const svc = await imageService(engine);
  const store = await svc.store();

  if (req.podManifestPath) checkPodManifestConflicts(req);
  else if (req.apps.length === 0) throw invalidArgument('must provide at least one image or specify the pod manifest');

  // Overlay decision first: it decides whether --private-users can work.
  let overlay = !req.noOverlay;
  if (overlay) {
    const why = overlayUnsupportedReason(ctx.paths.dataDir);
    if (why) {
      req.log(`disabling overlay support: ${JSON.stringify(why)}`);
      overlay = false;
    }
  }
  if (req.privateUsers && overlay) throw invalidArgument('cannot use both overlay and user namespace: not implemented yet. (Try --no-overlay)');

  // Images, the stage1 and the manifest: all before the pod exists.
  let manifestJson: string;
  let manifest: PodManifest;
  let appImages: Array<{ name: string; imageId: string }>;
  const imageManifests = new Map<string, ImageManifest>();
  if (req.podManifestPath) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(req.podManifestPath);
    } catch (e) {
      throw invalidArgument(`--pod-manifest ${JSON.stringify(req.podManifestPath)}: error reading pod manifest: ${(e as Error).message}`);
    }
    manifest = validatePodManifestBytes(bytes, `--pod-manifest ${req.podManifestPath}`);
    manifestJson = bytes.toString('utf8');
    appImages = [];
    const names = new Set<string>();
    for (const ra of manifest.apps) {
      if (!ra.image.id) throw invalidArgument(`--pod-manifest: no image ID for app ${JSON.stringify(ra.name)}`);
      let id: string;
      try {
        id = await store.images.resolveId(ra.image.id);
      } catch (e) {
        throw new RktError(ErrorCodes.NOT_FOUND, `--pod-manifest: app ${JSON.stringify(ra.name)}: image ${ra.image.id} is not in the store (images of a pod manifest are never fetched)`, { cause: e });
      }
      if (id !== ra.image.id) throw invalidArgument(`--pod-manifest: app ${JSON.stringify(ra.name)}: image id must be the full ${id}`);
      const im = await store.images.manifest(id);
      checkOsArch(im, id);
      imageManifests.set(id, im);
      if (names.has(ra.name)) throw invalidArgument(`--pod-manifest: multiple apps with same name ${ra.name}`);
      names.add(ra.name);
      if (!ra.app && !im.app) throw invalidArgument(`--pod-manifest: app ${JSON.stringify(ra.name)}: no app section in the pod manifest or the image manifest`);
      appImages.push({ name: ra.name, imageId: id });
    }
    checkPorts(manifest);
  } else {
    const resolved = await resolveImages(svc, store, req);
    for (const r of resolved) imageManifests.set(r.imageId, r.manifest);
    const inherited = req.inheritEnv ? Object.entries(process.env).filter((e): e is [string, string] => typeof e[1] === 'string') : undefined;
    const gen = generatePodManifest({
      apps: resolved,
      globalMounts: req.globalMounts,
      volumes: req.volumes,
      ports: req.ports,
      ...(inherited ? { inheritedEnv: inherited } : {}),
      envFromFile: req.envFromFile,
      explicitEnv: req.explicitEnv,
      callerUid: process.getuid?.() ?? 0,
      callerGid: process.getgid?.() ?? 0,
      portsAllowed: req.portsAllowed,
    });
    manifest = gen.manifest;
    manifestJson = gen.json;
    appImages = manifest.apps.map((a) => ({ name: a.name, imageId: a.image.id }));
  }

  // Isolators: checked by the Isolator contributions before the pod exists (pods/isolators.ts).
  const isolatorSettings = await planIsolators(engine.host, manifest, imageManifests, req.log);

  const stage1 = await selectStage1(req.stage1, {
    store,
    imagesDir: ctx.paths.stage1ImagesDir,
    config: ctx.rktConfig.stage1,
    fetch: (ref) =>
      svc.fetch(ref, { pullPolicy: 'new', withDependencies: false, log: (m) => process.stderr.write(`image: ${m}\n`), debug: req.debug }),
    debug: req.debug,
  });
  req.debug(`stage1 image ${stage1.id} (${stage1.name})`);

  // Render the trees (cached in the tree store) before the pod exists, too.
  const stage1Tree = await store.trees.render(stage1.id);
  const appTrees = [];
  for (const a of appImages) appTrees.push({ name: a.name, tree: await store.trees.render(a.imageId) });
  for (const a of appImages) await store.images.markUsed(a.imageId).catch(() => undefined);

  const privateUsersShift = req.privateUsers ? randomInt(1, 0x8000) << 16 : undefined;

  // rkt's shared prepareLock: image gc takes it exclusively while it decides what is referenced.
  mkdirSync(join(ctx.paths.dataDir, 'locks'), { recursive: true, mode: 0o750 });
  const keyLock = openKeyLock(join(ctx.paths.dataDir, 'locks', 'prepareLock'));
  let pod: Pod | undefined;
  let uuidFileWritten = false;
  try {
    keyLock.shared();
    pod = Pod.create(ctx.paths.dataDir);
    if (req.uuidFileSave) {
      writeUuidFile(req.uuidFileSave, pod.uuid);
      uuidFileWritten = true;
    }
    const dir = pod.path;
    mkdirp(join(dir, PodFiles.appsInfo));
    prepareTrees(dir, { stage1: stage1Tree, apps: appTrees }, { overlay, ...(privateUsersShift ? { privateUsersShift } : {}) });
    closeSync(openSync(join(dir, PodFiles.manifestLock), 'a', 0o600));
    writeFileSync(join(dir, PodFiles.manifest), manifestJson, { mode: 0o640 });
    if (isolatorSettings) writeFileSync(join(dir, ISOLATOR_SETTINGS_FILE), JSON.stringify(isolatorSettings), { mode: 0o640 });
    closeSync(openSync(join(dir, PodFiles.created), 'a', 0o640));
    if (overlay) closeSync(openSync(join(dir, PodFiles.overlayPrepared), 'a', 0o640));
    if (privateUsersShift) writeFileSync(join(dir, PodFiles.privateUsersPrepared), `${privateUsersShift}:65536`, { mode: 0o640 });
    syncfs(dir);
  } catch (e) {
    if (pod) {
      const p = pod.dir ? pod.path : undefined;
      pod.close();
      if (p) rmSync(p, { recursive: true, force: true });
      if (uuidFileWritten && req.uuidFileSave) rmSync(req.uuidFileSave, { force: true });
    }
    throw e;
  } finally {
    keyLock.close();
  }
  mark('stage0: prepared');
  return { pod, manifest, overlay };
}

export interface RunRequest {
  net: string;
  interactive: boolean;
  hostname?: string;
  dns: DnsConfig;
  ipc?: string;
  /** `rkt run` passes it; `rkt run-prepared` does not (as rkt). */
  localConfig?: string;
  /** --mds-register: register with the metadata service before the apps start (runtime/mds). */
  mdsRegister?: boolean;
  /** Contained networking (runtime/net): the validated networks to join. */
  networks?: import('../net/config.js').NetPlan;
  log(m: string): void;
  debug(m: string): void;
}

/**
 * Mount and start a pod already moved to run/ and locked by us. Resolves with the exit status for
 * `rkt run` (stage1's, which is the first failing app's).
 */
export async function runPod(engine: Engine, pod: Pod, req: RunRequest): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const dir = pod.path;
  const overlay = pod.usesOverlay();
  if (overlay) {
    const why = overlayUnsupportedReason(engine.context.paths.dataDir);
    if (why) throw new RktError(ErrorCodes.FAILED_PRECONDITION, `the pod was prepared with overlay, which is unusable now: ${why}`);
  }
  const manifest = pod.manifest();
  const { Store: StoreToken } = await import('@rkt/api');
  const store = overlay ? await engine.host.activateDefault(StoreToken) : undefined;
  let dns = req.dns;
  const s1 = readStage1Manifest(dir);
  let networks = req.networks;
  if (networks && s1.hostNetworkOnly) {
    req.log(`the ${s1.manifest.name} stage1 runs pods in the host's network: --net=${req.net} is not set up`);
    networks = undefined;
    req = { ...req, net: 'host' };
  }
  const podNet = networks ? await import('../net/pod-net.js') : undefined;
  try {
    await setupForRun(
      dir,
      manifest.apps.map((a) => a.name),
      overlay,
      {
        rootfsOf: async (id) => {
          const t = await store!.trees.get(id);
          if (!t) throw new RktError(ErrorCodes.NOT_FOUND, `tree ${id} is no longer in the tree store`);
          return join(t.path, 'rootfs');
        },
      },
    );
    if (podNet && networks) dns = await podNet.setupForPod(engine, pod, manifest, networks, req.dns, req);
    writeDnsFiles(dir, dns);
  } catch (e) {
    if (podNet) await podNet.teardownWithPlugins(engine.host, dir, pod.uuid, req.log, req.debug);
    const left = unmountAll(dir);
    if (left.length) req.log(`leftover mounts in ${dir}: ${left.join('; ')}`);
    throw e;
  }
  mark('stage0: set up for run');
  const argv0 = entrypointPath(dir, s1, Entrypoint.run);
  let privateUsers: string | undefined;
  try {
    privateUsers = readFileSync(join(dir, PodFiles.privateUsersPrepared), 'utf8').trim() || undefined;
  } catch {
    privateUsers = undefined;
  }
  const insecure = engine.context.insecure;
  const args = runEntrypointArgs(
    s1,
    {
      debug: engine.context.debug,
      net: req.net,
      interactive: req.interactive,
      ...(privateUsers ? { privateUsers } : {}),
      ...(req.localConfig ? { localConfig: req.localConfig } : {}),
      ...(req.hostname ? { hostname: req.hostname } : {}),
      dnsConfMode: { resolv: dns.resolvMode, hosts: dns.hostsMode },
      insecure: { capabilities: insecure.capabilities, paths: insecure.paths, seccomp: insecure.seccomp },
      ...(req.ipc ? { ipc: req.ipc } : {}),
      uuid: pod.uuid,
    },
    req.log,
  );
  req.debug(`execing ${argv0} ${args.join(' ')}`);
  if (!pod.lock) throw new RktError(ErrorCodes.INTERNAL, 'bug: running a pod without holding its lock');
  if (podNet) {
    const lock = pod.lock;
    return podNet.tearDownAfter(engine, pod, req, () => (req.mdsRegister ? runRegistered(engine, pod, req, s1, argv0, args, lock.fd) : startStage1Run(pod, s1, argv0, args, lock.fd, process.env)));
  }
  if (!req.mdsRegister) return startStage1Run(pod, s1, argv0, args, pod.lock.fd, process.env);
  return runRegistered(engine, pod, req, s1, argv0, args, pod.lock.fd);
}

async function runRegistered(engine: Engine, pod: Pod, req: RunRequest, s1: Stage1Manifest, argv0: string, args: string[], lockFd: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const mds = await import('../mds/client.js');
  await mds.registerPod(engine.context.paths.dataDir, pod, req.net, req.log);
  try {
    return await startStage1Run(pod, s1, argv0, args, lockFd, process.env);
  } finally {
    await mds.unregisterIfMarked(engine.context.paths.dataDir, pod, req.log);
  }
}
