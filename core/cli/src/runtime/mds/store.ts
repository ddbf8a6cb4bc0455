/**
 * The metadata service's state under `$data/mds/` (dir 0700, files 0600): the HMAC key (64 random
 * bytes, created once, so signatures stay verifiable across restarts), one JSON file per registered
 * pod (`pods/<uuid>.json`: manifests, IPs and the SHA-256 of the pod's token, never the token), the
 * instance lock and the registration socket. Registrations therefore survive a restart of the
 * service (rkt kept them in memory only).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function mdsDir(dataDir: string): string {
  return join(dataDir, 'mds');
}
export const registrationSocketPath = (dataDir: string) => join(mdsDir(dataDir), 'registration.sock');
export const instanceLockPath = (dataDir: string) => join(mdsDir(dataDir), 'lock');

/** A registered pod as persisted. Manifests are kept as the exact bytes the pod has on disk. */
export interface Registration {
  uuid: string;
  /** hex SHA-256 of the token. */
  tokenHash: string;
  podManifest: string;
  /** app name → the app's image manifest (text). */
  images: Record<string, string>;
  ips: string[];
  /** Host-side addresses of the pod's contained networks (the service listens there too). */
  hostAddresses?: string[];
  registeredAt: string;
}

/** 192 random bits, base64url (32 characters, no padding: safe in a URL path). */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function writeFileAtomic(path: string, data: string | Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Create `$data/mds` (and `pods/`) owned by us, mode 0700 whatever the umask. */
export function ensureMdsDir(dataDir: string): string {
  const dir = mdsDir(dataDir);
  mkdirSync(join(dir, 'pods'), { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  chmodSync(join(dir, 'pods'), 0o700);
  return dir;
}

export class MdsStore {
  readonly dir: string;
  private readonly byUuid = new Map<string, Registration>();
  private readonly byTokenHash = new Map<string, string>();
  readonly key: Buffer;

  constructor(readonly dataDir: string) {
    this.dir = ensureMdsDir(dataDir);
    this.key = this.loadKey();
  }

  private loadKey(): Buffer {
    const p = join(this.dir, 'hmac.key');
    try {
      const k = readFileSync(p);
      if (k.length === 64) return k;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const k = randomBytes(64);
    writeFileAtomic(p, k);
    return k;
  }

  /** Load the persisted registrations; drop (and delete) those whose pod directory is gone. */
  load(podExists: (uuid: string) => boolean, warn: (m: string) => void): void {
    const dir = join(this.dir, 'pods');
    for (const name of readdirSync(dir)) {
      const m = /^(.+)\.json$/.exec(name);
      if (!m || !UUID_RE.test(m[1]!)) continue;
      let r: Registration;
      try {
        r = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Registration;
        if (r.uuid !== m[1] || typeof r.tokenHash !== 'string' || typeof r.podManifest !== 'string') throw new Error('malformed');
      } catch (e) {
        warn(`ignoring unreadable registration ${name}: ${(e as Error).message}`);
        continue;
      }
      if (!podExists(r.uuid)) {
        rmSync(join(dir, name), { force: true });
        continue;
      }
      this.index(r);
    }
  }

  private index(r: Registration): void {
    const old = this.byUuid.get(r.uuid);
    if (old) this.byTokenHash.delete(old.tokenHash);
    this.byUuid.set(r.uuid, r);
    this.byTokenHash.set(r.tokenHash, r.uuid);
  }

  /** Register (or re-register: the old token stops working) and persist; returns the new token. */
  register(r: Omit<Registration, 'tokenHash' | 'registeredAt'>): string {
    const token = newToken();
    const reg: Registration = { ...r, tokenHash: hashToken(token), registeredAt: new Date().toISOString() };
    writeFileAtomic(join(this.dir, 'pods', `${r.uuid}.json`), JSON.stringify(reg));
    this.index(reg);
    return token;
  }

  unregister(uuid: string): boolean {
    const old = this.byUuid.get(uuid);
    rmSync(join(this.dir, 'pods', `${uuid}.json`), { force: true });
    if (!old) return false;
    this.byUuid.delete(uuid);
    this.byTokenHash.delete(old.tokenHash);
    return true;
  }

  /** The registration a token belongs to (looked up by its hash; compared in constant time). */
  byToken(token: string): Registration | undefined {
    const h = hashToken(token);
    const uuid = this.byTokenHash.get(h);
    if (!uuid) return undefined;
    const r = this.byUuid.get(uuid);
    if (!r || !timingSafeEqual(Buffer.from(r.tokenHash, 'hex'), Buffer.from(h, 'hex'))) return undefined;
    return r;
  }

  get(uuid: string): Registration | undefined {
    return this.byUuid.get(uuid);
  }

  /** Host-side addresses of all registrations (listened on again after a restart). */
  hostAddresses(): string[] {
    return [...new Set([...this.byUuid.values()].flatMap((r) => r.hostAddresses ?? []))];
  }

  get size(): number {
    return this.byUuid.size;
  }
}

/** Remove a persisted registration without the service (gc when no service runs). */
export function removeRegistrationFile(dataDir: string, uuid: string): void {
  if (!UUID_RE.test(uuid)) return;
  rmSync(join(mdsDir(dataDir), 'pods', `${uuid}.json`), { force: true });
}
