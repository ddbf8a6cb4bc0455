/**
 * Stage0's side of the metadata service: the reachability check done before a pod exists,
 * registration right before stage1 starts the apps, unregistration when the pod exits and at
 * gc/rm. The registration socket is root-only, so only root (stage0) can mint pod identities.
 *
 * What stage1 needs to give the apps `AC_METADATA_URL` is written to `$pod/mds-registered` (0600,
 * JSON `{token, port, addresses}`): the token never appears on a command line (which every user
 * can read in /proc) nor in a log. The file's existence is also rkt's "registered" marker.
 */
import { request } from 'node:http';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RktError, ErrorCodes } from '@rkt/api';
import { appInfoDir, PodFiles, type Pod } from '../pods/pod.js';
import type { PublicEndpoint, RegistrationRequest } from './server.js';
import { registrationSocketPath, removeRegistrationFile } from './store.js';

export interface MdsRegistrationInfo extends PublicEndpoint {
  token: string;
}

interface Reply {
  status: number;
  body: string;
}

function call(socketPath: string, method: string, path: string, body?: string, timeoutMs = 5000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, agent: false, method, path, headers: body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

const unreachable = (socketPath: string, why: string) =>
  new RktError(
    ErrorCodes.UNAVAILABLE,
    `--mds-register: the metadata service is not reachable at ${socketPath} (${why}); start it with "rkt metadata-service" (same --dir), or run with --mds-register=false`,
  );

/** Fails (exit 254) unless a metadata service answers on the data dir's registration socket. */
export async function checkMdsReachable(dataDir: string): Promise<PublicEndpoint> {
  const sock = registrationSocketPath(dataDir);
  let r: Reply;
  try {
    r = await call(sock, 'GET', '/ping', undefined, 3000);
  } catch (e) {
    throw unreachable(sock, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
  if (r.status !== 200) throw unreachable(sock, `status ${r.status}`);
  return JSON.parse(r.body) as PublicEndpoint;
}

/** The registration body for a pod: its manifest and image manifests as stored, and its IPs. */
export function registrationOf(pod: Pod): RegistrationRequest {
  const podManifest = pod.manifestBytes().toString('utf8');
  const apps = (JSON.parse(podManifest) as { apps: Array<{ name: string }> }).apps;
  const images: Record<string, string> = {};
  for (const a of apps) images[a.name] = pod.readText(join(appInfoDir(a.name), 'manifest'));
  const nets = pod.networks();
  const addr = (v: unknown) => (typeof v === 'string' ? v.replace(/\/\d+$/, '') : '');
  const ips = nets.map((n) => addr(n.ip)).filter(Boolean);
  // The address stage1 puts in AC_METADATA_URL for a contained network (common/mds.ts hostSideIp).
  const hostAddresses = [...new Set(nets.map((n) => addr(n.hostIP) || addr(n.gateway)).filter(Boolean))];
  return { podManifest, images, ips, hostAddresses };
}

/**
 * Register the pod (3 attempts, 500 ms apart, as rkt retries), then write `$pod/mds-registered`.
 * On failure the pod is unregistered again and the error names the way out.
 */
export async function registerPod(dataDir: string, pod: Pod, net: string, log: (m: string) => void): Promise<MdsRegistrationInfo> {
  const sock = registrationSocketPath(dataDir);
  const body = JSON.stringify(registrationOf(pod));
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt) await new Promise((r) => setTimeout(r, 500));
    let r: Reply;
    try {
      r = await call(sock, 'PUT', `/pods/${pod.uuid}`, body);
    } catch (e) {
      last = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      continue;
    }
    if (r.status !== 201) throw new RktError(ErrorCodes.FAILED_PRECONDITION, `--mds-register: the metadata service refused pod ${pod.uuid}: ${r.body.trim() || `status ${r.status}`}`);
    const info = JSON.parse(r.body) as MdsRegistrationInfo;
    try {
      writeFileSync(pod.file(PodFiles.mdsRegistered), JSON.stringify(info), { mode: 0o600 });
    } catch (e) {
      await unregisterPod(dataDir, pod.uuid).catch(() => undefined);
      throw new RktError(ErrorCodes.INTERNAL, 'cannot record the metadata service registration', { cause: e });
    }
    if (net.split(',').includes('none'))
      log(`warning: --mds-register with --net=none: the pod only has its own loopback, so AC_METADATA_URL (127.0.0.1) does not reach the metadata service`);
    return info;
  }
  throw unreachable(sock, last);
}

/** DELETE the registration; when no service runs, remove its persisted file directly. */
export async function unregisterPod(dataDir: string, uuid: string): Promise<void> {
  try {
    const r = await call(registrationSocketPath(dataDir), 'DELETE', `/pods/${uuid}`);
    if (r.status !== 204 && r.status !== 404) throw new Error(`status ${r.status}: ${r.body.trim()}`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw e;
    removeRegistrationFile(dataDir, uuid);
  }
}

/** When the pod's marker exists: unregister it and drop the marker (pod exit, rm, gc). */
export async function unregisterIfMarked(dataDir: string, pod: Pod, log: (m: string) => void): Promise<void> {
  const marker = pod.file(PodFiles.mdsRegistered);
  try {
    readFileSync(marker);
  } catch {
    return;
  }
  try {
    await unregisterPod(dataDir, pod.uuid);
    rmSync(marker, { force: true });
  } catch (e) {
    log(`unable to unregister pod ${JSON.stringify(pod.uuid)} from the metadata service: ${(e as Error).message}`);
  }
}
