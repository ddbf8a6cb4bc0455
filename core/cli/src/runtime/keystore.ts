/**
 * rkt's trusted-key store (rkt.md §5.2), read by signature verification and written by `rkt trust`.
 *
 * Layout, under both the system (`--system-config`, /usr/lib/rkt) and the local (`--local-config`,
 * /etc/rkt) configuration directories:
 *
 *     trustedkeys/root.d/<fingerprint>                  trusted for every image name
 *     trustedkeys/prefix.d/<prefix>/<fingerprint>       trusted for <prefix> and the names below it
 *
 * API
 *
 *     const ks = new Keystore({ systemConfigDir, localConfigDir }, { warn });
 *     await ks.keyringFor('example.com/app')   // TrustedKey[]: what may verify that image name
 *     await ks.trust({ prefix: 'example.com/app' } | { root: true }, keyBytes)  // write to local dir
 *     await ks.hasPrefixKeysFor(name)           // any prefix key for the name or a parent?
 *     validatePrefix(p), isAcIdentifier(s), readPublicKeys(bytes), formatFingerprint(hex)
 *
 * Rules (and where they differ from rkt 1.30):
 * - The keyring for name N is every root.d key plus every key directly inside prefix.d/<p> for each
 *   path prefix p of N taken at '/' boundaries (`a`, `a/b`, …, N). rkt matched directories with a
 *   string prefix, so a key trusted for `example.com/app` also verified `example.com/app-evil`
 *   and `example.com/apple` (security.md §1.4); here it never does.
 * - Order: root.d (system, local), then each prefix level from the shortest (system, local).
 *   A key present in several places appears once, at its first place.
 * - A 0-byte file in the local layer masks: every system-layer key with that fingerprint is dropped
 *   from any keyring whose scope includes the mask (root.d, or prefix.d/<p> for a p of N), whatever
 *   the directory order (rkt dropped only keys it had already read). Local keys are never masked.
 * - A key file must hold an OpenPGP public key (armored or binary) whose primary fingerprint, in
 *   lowercase hex, is the file name; otherwise it is ignored with a warning (rkt failed the whole
 *   load). Dotfiles (e.g. our own temporary files) and subdirectories are skipped silently.
 * - `trust` writes to the local layer only: one file per key in the input (rkt kept a multi-key
 *   input under the first key's fingerprint, so only the first key was ever usable), public part
 *   only (a secret key given by mistake is never written), armored, mode 0644, directories 0755,
 *   via a temporary file, fsync and rename.
 * - Prefixes must be AC identifiers (lowercase `[a-z0-9]+([-._~/][a-z0-9]+)*`), which rules out
 *   schemes, absolute paths, empty segments, `.` and `..`; the target path is also checked to be
 *   inside prefix.d.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, relative, resolve, sep, isAbsolute } from 'node:path';
import { invalidArgument } from '@rkt/api';
import type { Key, PublicKey } from 'openpgp';

export interface KeystorePaths {
  /** `--system-config` (default /usr/lib/rkt). */
  systemConfigDir: string;
  /** `--local-config` (default /etc/rkt); `trust` writes here. */
  localConfigDir: string;
}

export interface KeystoreOptions {
  /** Where to report ignored key files. Default: stderr, prefixed `keystore: `. */
  warn?: (message: string) => void;
}

export type TrustScope = { root: true } | { prefix: string };

export interface TrustedKey {
  /** Primary key fingerprint, lowercase hex (the file name). */
  fingerprint: string;
  /** The key file. */
  path: string;
  layer: 'system' | 'local';
  /** `''` for root.d, else the prefix the key is trusted for. */
  prefix: string;
  key: PublicKey;
}

export interface StoredKey {
  fingerprint: string;
  path: string;
  key: PublicKey;
}

const AC_IDENTIFIER = /^[a-z0-9]+(?:[-._~/][a-z0-9]+)*$/;
const FINGERPRINT_FILE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** True when `s` is an appc AC identifier (the shape of image names and trust prefixes). */
export function isAcIdentifier(s: string): boolean {
  return s.length > 0 && s.length <= 512 && AC_IDENTIFIER.test(s);
}

/**
 * Check a `--prefix` value; returns it unchanged or throws invalidArgument naming the problem.
 * rkt's wording for a scheme is kept: `--prefix must not contain a URL scheme, omit https://`.
 */
export function validatePrefix(prefix: string): string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(prefix);
  if (scheme) throw invalidArgument(`--prefix must not contain a URL scheme, omit ${scheme[1]}://`);
  if (!isAcIdentifier(prefix))
    throw invalidArgument(
      `invalid prefix ${JSON.stringify(prefix)}: a prefix must be an AC identifier (lowercase letters, digits and -._~/ between them, e.g. "example.com/app")`,
      { details: { prefix } },
    );
  return prefix;
}

/** `8B86 DE38 890D DB72 9186  7B02 5210 BD88 8818 2190`: groups of 4, double space in the middle. */
export function formatFingerprint(hex: string): string {
  const groups = hex.toUpperCase().match(/.{1,4}/g) ?? [];
  const half = groups.length / 2;
  return groups.map((g, i) => (i === 0 ? g : i === half ? `  ${g}` : ` ${g}`)).join('');
}

function isArmored(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.subarray(0, 2048)).toString('latin1');
  return head.includes('-----BEGIN PGP');
}

/**
 * Parse an OpenPGP keyring (armored or binary) into public keys. Secret keys are reduced to their
 * public part. Throws invalidArgument if nothing parses.
 */
export async function readPublicKeys(bytes: Uint8Array | string, what = 'key'): Promise<PublicKey[]> {
  const openpgp = (await import('./openpgp.js')).openpgp();
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  let keys: Key[];
  try {
    keys = isArmored(data)
      ? await openpgp.readKeys({ armoredKeys: Buffer.from(data).toString('utf8') })
      : await openpgp.readKeys({ binaryKeys: data });
  } catch (err) {
    throw invalidArgument(`${what} is not a valid OpenPGP public key: ${(err as Error).message}`, { cause: err });
  }
  if (keys.length === 0) throw invalidArgument(`${what} holds no OpenPGP key`);
  return keys.map((k) => (k.isPrivate() ? k.toPublic() : (k as PublicKey)));
}

function defaultWarn(message: string): void {
  process.stderr.write(`keystore: ${message}\n`);
}

interface DirEntryKey {
  fingerprint: string;
  path: string;
  empty: boolean;
}

export class Keystore {
  readonly systemRootDir: string;
  readonly systemPrefixDir: string;
  readonly localRootDir: string;
  readonly localPrefixDir: string;
  private readonly warn: (message: string) => void;

  constructor(
    readonly paths: KeystorePaths,
    options: KeystoreOptions = {},
  ) {
    this.systemRootDir = join(paths.systemConfigDir, 'trustedkeys', 'root.d');
    this.systemPrefixDir = join(paths.systemConfigDir, 'trustedkeys', 'prefix.d');
    this.localRootDir = join(paths.localConfigDir, 'trustedkeys', 'root.d');
    this.localPrefixDir = join(paths.localConfigDir, 'trustedkeys', 'prefix.d');
    this.warn = options.warn ?? defaultWarn;
  }

  /** The prefixes of `name` at '/' boundaries, shortest first: `a/b/c` → `a`, `a/b`, `a/b/c`. */
  static prefixesOf(name: string): string[] {
    const parts = name.split('/');
    return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  }

  /** Every key that may verify an image called `name` (see the module comment for the rules). */
  async keyringFor(name: string): Promise<TrustedKey[]> {
    if (!isAcIdentifier(name))
      throw invalidArgument(`cannot look up trusted keys: ${JSON.stringify(name)} is not a valid image name (AC identifier)`);
    const levels: { prefix: string; system: string; local: string }[] = [
      { prefix: '', system: this.systemRootDir, local: this.localRootDir },
      ...Keystore.prefixesOf(name).map((p) => ({
        prefix: p,
        system: join(this.systemPrefixDir, ...p.split('/')),
        local: join(this.localPrefixDir, ...p.split('/')),
      })),
    ];
    const listed = await Promise.all(
      levels.map(async (l) => ({ ...l, sys: await this.listDir(l.system), loc: await this.listDir(l.local) })),
    );
    const masks = new Set<string>();
    for (const l of listed) for (const e of l.loc) if (e.empty) masks.add(e.fingerprint);

    const out: TrustedKey[] = [];
    const seen = new Set<string>();
    for (const l of listed) {
      for (const [layer, entries] of [
        ['system', l.sys],
        ['local', l.loc],
      ] as const) {
        for (const e of entries) {
          if (e.empty) continue;
          if (layer === 'system' && masks.has(e.fingerprint)) continue;
          if (seen.has(e.fingerprint)) continue;
          const key = await this.loadKeyFile(e);
          if (!key) continue;
          seen.add(e.fingerprint);
          out.push({ fingerprint: e.fingerprint, path: e.path, layer, prefix: l.prefix, key });
        }
      }
    }
    return out;
  }

  /**
   * Whether a (non-masked, readable) prefix key exists for `name` or one of its parents, in either
   * layer. The fetch path uses it to decide whether key discovery may run at all: once a prefix has
   * a pinned key, new keys are never fetched automatically (security.md §4, rkt #1880).
   */
  async hasPrefixKeysFor(name: string): Promise<boolean> {
    return (await this.keyringFor(name)).some((k) => k.prefix !== '');
  }

  /** The local directory a key for `scope` is written to (validated; always inside trustedkeys/). */
  targetDir(scope: TrustScope): string {
    if ('root' in scope) return this.localRootDir;
    const prefix = validatePrefix(scope.prefix);
    const dir = resolve(this.localPrefixDir, ...prefix.split('/'));
    const rel = relative(resolve(this.localPrefixDir), dir);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..'))
      throw invalidArgument(`invalid prefix ${JSON.stringify(prefix)}: it resolves outside ${this.localPrefixDir}`);
    return dir;
  }

  /**
   * Trust every key in `keyBytes` (armored or binary keyring) for `scope`, in the local layer.
   * Returns one entry per key written, in input order.
   */
  async trust(scope: TrustScope, keyBytes: Uint8Array | string | PublicKey[]): Promise<StoredKey[]> {
    const dir = this.targetDir(scope);
    const keys = Array.isArray(keyBytes) ? keyBytes : await readPublicKeys(keyBytes);
    const out: StoredKey[] = [];
    for (const key of keys) {
      const pub = key.isPrivate() ? key.toPublic() : key;
      const fingerprint = pub.getFingerprint().toLowerCase();
      if (!FINGERPRINT_FILE.test(fingerprint)) throw invalidArgument(`unsupported key fingerprint ${fingerprint}`);
      await this.ensureDir(dir);
      const path = join(dir, fingerprint);
      await writeFileAtomic(path, pub.armor());
      out.push({ fingerprint, path, key: pub });
    }
    return out;
  }

  /** mkdir -p with 0755 for the directories we create, starting below the local config dir. */
  private async ensureDir(dir: string): Promise<void> {
    const base = resolve(this.paths.localConfigDir);
    const rel = relative(base, dir);
    let cur = base;
    await mkdir(base, { recursive: true, mode: 0o755 });
    for (const part of rel.split(sep).filter(Boolean)) {
      cur = join(cur, part);
      try {
        await mkdir(cur, { mode: 0o755 });
        await chmod(cur, 0o755); // not subject to the umask
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const st = await stat(cur);
        if (!st.isDirectory()) throw invalidArgument(`cannot store key: ${cur} exists and is not a directory`);
      }
    }
  }

  private async listDir(dir: string): Promise<DirEntryKey[]> {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return [];
      throw err;
    }
    const out: DirEntryKey[] = [];
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const path = join(dir, n);
      let st;
      try {
        st = await stat(path);
      } catch (err) {
        this.warn(`ignoring ${path}: ${(err as Error).message}`);
        continue;
      }
      if (st.isDirectory()) continue; // a longer prefix, read only when the name is below it
      if (!st.isFile()) {
        this.warn(`ignoring ${path}: not a regular file`);
        continue;
      }
      if (!FINGERPRINT_FILE.test(n)) {
        this.warn(`ignoring ${path}: the file name is not a key fingerprint (40 lowercase hex digits)`);
        continue;
      }
      out.push({ fingerprint: n, path, empty: st.size === 0 });
    }
    return out;
  }

  private async loadKeyFile(e: DirEntryKey): Promise<PublicKey | undefined> {
    let keys: PublicKey[];
    try {
      keys = await readPublicKeys(await readFile(e.path), `key file ${e.path}`);
    } catch (err) {
      this.warn(`ignoring ${e.path}: ${(err as Error).message}`);
      return undefined;
    }
    const key = keys[0]!;
    const fp = key.getFingerprint().toLowerCase();
    if (fp !== e.fingerprint) {
      this.warn(`ignoring ${e.path}: fingerprint mismatch: the file name says ${e.fingerprint}, the key is ${fp}`);
      return undefined;
    }
    if (keys.length > 1) this.warn(`${e.path} holds ${keys.length} keys; only the first (${fp}) is used`);
    return key;
  }
}

/** Write `content` to `path` with mode 0644 through a temporary file in the same directory. */
async function writeFileAtomic(path: string, content: string): Promise<void> {
  const dir = resolve(path, '..');
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(content);
    await fh.chmod(0o644);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    // Never write through a symlink planted at the target: rename replaces the link itself.
    const st = await lstat(path).catch(() => undefined);
    if (st?.isDirectory()) throw invalidArgument(`cannot store key: ${path} is a directory`);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // fsync of a directory is best effort (not supported on every filesystem)
  }
}
