/**
 * Adding trusted keys the way rkt's pubkey manager does (rkt.md §5.3): get each key (local path,
 * https URL, http URL only when allowed), show its fingerprints and identities, ask the user to
 * accept it unless review is skipped, then store it in the local keystore. Used by `rkt trust`, and
 * meant for the fetch path's "no key yet for this name" case too.
 *
 *     const locations = await discoverPubkeyLocations(prefix, options);   // ac-discovery-pubkeys
 *     const stored = await addKeys(locations, prefix, 'ask' | 'force', options);
 *
 * Output, as rkt 1.30: on stderr (logger prefix `pubkey: `) `prefix: "<p>"\nkey: "<loc>"`; on
 * stdout `gpg key fingerprint is: XXXX …  XXXX …`, `    Subkey fingerprint: …`, `\t<identity>`,
 * the prompt `Are you sure you want to trust this key (yes/no)?` (only `yes`/`no` accepted, else
 * `Please enter 'yes' or 'no'`), `Trusting "<loc>" for prefix "<p>" after|without fingerprint
 * review.`, then `Added key for prefix "<p>" at "<path>"` or `Added root key at "<path>"` (one line
 * per key written: a keyring holding several keys stores each, see keystore.ts). The root scope is
 * the prefix `""`.
 */
import { readFile } from 'node:fs/promises';
import { createInterface, type Interface } from 'node:readline';
import { RktError, ErrorCodes, failedPrecondition, invalidArgument, type ErrorCode } from '@rkt/api';
import type { HttpGetter } from '@rkt/appc';
import { formatFingerprint, readPublicKeys, type Keystore, type StoredKey } from '../keystore.js';

export type AcceptOption = 'ask' | 'force';

export interface PubkeyOptions {
  keystore: Keystore;
  /** `--insecure-allow-http`: http key URLs and http discovery. */
  insecureAllowHttp: boolean;
  /** `--insecure-options=tls`: skip certificate checks. */
  insecureSkipTlsCheck: boolean;
  /** `--trust-keys-from-https`: accept keys from https URLs without review. */
  trustKeysFromHttps: boolean;
  debug?: boolean;
  /** Lines for stdout (results, fingerprints, prompt). Default: process.stdout. */
  out?: (line: string) => void;
  /** Lines for the `pubkey: ` stderr logger. Default: process.stderr. */
  log?: (line: string) => void;
  /** Whether the user can be asked (stdin and stderr are terminals). */
  interactive?: () => boolean;
  /** Read one answer line (without the newline); null at end of input. */
  readLine?: () => Promise<string | null>;
  /** Extra request headers per host (auth.d) for discovery, sent over https only. rkt's `trust`
   *  sends none (as here); its fetch path does. */
  headersFor?: (host: string) => Record<string, string>;
  /** Download timeout, ms (rkt: 2 minutes). */
  timeoutMs?: number;
  /** The HTTP client for discovery pages (tests inject one); default @rkt/appc's NodeHttpGetter. */
  discoveryGetter?: HttpGetter;
}

const MAX_KEY_BYTES = 16 * 1024 * 1024;

function err(code: ErrorCode, message: string, cause?: unknown): RktError {
  return new RktError(code, message, cause === undefined ? {} : { cause });
}

/** Where a key location points: a local path or an http(s) URL. */
export function parseKeyLocation(location: string): { kind: 'file'; path: string } | { kind: 'url'; url: URL } {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined || !location.includes('://')) return { kind: 'file', path: location };
  if (scheme !== 'http' && scheme !== 'https') throw invalidArgument('only local files and http or https URLs supported');
  return { kind: 'url', url: new URL(location) };
}

/**
 * GET `url` into memory (keys are small). Follows up to 10 redirects, never from https to http
 * unless http is allowed; refuses anything but a 200; caps the size.
 */
export async function downloadKey(
  url: URL,
  opts: { allowHttp: boolean; insecureSkipTlsCheck: boolean; timeoutMs?: number; headers?: Record<string, string> },
): Promise<Buffer> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let current = url;
  for (let hop = 0; hop <= 10; hop++) {
    if (current.protocol === 'http:' && !opts.allowHttp)
      throw invalidArgument(
        hop === 0 ? '--insecure-allow-http required for http URLs' : `refusing the redirect to ${current.href}: --insecure-allow-http required for http URLs`,
      );
    if (current.protocol !== 'http:' && current.protocol !== 'https:')
      throw invalidArgument(`refusing the redirect to ${current.href}: only http and https are supported`);
    const res = await request(current, opts.insecureSkipTlsCheck, Math.max(1, deadline - Date.now()), hop === 0 ? opts.headers : undefined);
    if (res.status >= 300 && res.status < 400 && res.location) {
      current = new URL(res.location, current);
      continue;
    }
    if (res.status !== 200) throw failedPrecondition(`bad HTTP status code: ${res.status}`);
    return res.body;
  }
  throw failedPrecondition(`too many redirects fetching ${url.href}`);
}

async function request(
  url: URL,
  insecure: boolean,
  timeoutMs: number,
  headers: Record<string, string> | undefined,
): Promise<{ status: number; location?: string; body: Buffer }> {
  const mod = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const req = mod.get(
      url,
      { ...(url.protocol === 'https:' ? { rejectUnauthorized: !insecure } : {}), headers: { ...(headers ?? {}) } },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          resolve({ status, location: res.headers.location, body: Buffer.alloc(0) });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_KEY_BYTES) {
            req.destroy(new Error(`the key at ${url.href} is larger than ${MAX_KEY_BYTES} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${Math.round(timeoutMs / 1000)}s`)));
    req.on('error', reject);
  });
}

/** Read the key bytes at `location` (rkt: getPubKey). */
export async function getPubKey(location: string, opts: PubkeyOptions): Promise<Buffer> {
  const loc = parseKeyLocation(location);
  if (loc.kind === 'file') return readFile(loc.path);
  return downloadKey(loc.url, {
    allowHttp: opts.insecureAllowHttp,
    insecureSkipTlsCheck: opts.insecureSkipTlsCheck,
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  });
}

function defaultOut(line: string): void {
  process.stdout.write(`${line}\n`);
}
function defaultLog(line: string): void {
  process.stderr.write(`pubkey: ${line}\n`);
}

let stdinLines: { rl: Interface; it: AsyncIterator<string> } | undefined;
async function defaultReadLine(): Promise<string | null> {
  if (!stdinLines) {
    const rl = createInterface({ input: process.stdin, terminal: false, crlfDelay: Infinity });
    stdinLines = { rl, it: rl[Symbol.asyncIterator]() };
  }
  const r = await stdinLines.it.next();
  return r.done ? null : r.value;
}
/** Release stdin after prompting, so the process can exit. */
export function closePrompt(): void {
  stdinLines?.rl.close();
  stdinLines = undefined;
}

async function reviewKey(opts: PubkeyOptions): Promise<boolean> {
  const out = opts.out ?? defaultOut;
  const readLine = opts.readLine ?? defaultReadLine;
  for (;;) {
    out('Are you sure you want to trust this key (yes/no)?');
    const line = await readLine();
    if (line === null) throw err(ErrorCodes.FAILED_PRECONDITION, 'error reviewing key: error reading input: EOF');
    if (line === 'yes') return true;
    if (line === 'no') return false;
    out("Please enter 'yes' or 'no'");
  }
}

/**
 * Add the keys at `locations` for `prefix` (`''` = root). Stops at the first failure, keeping the
 * keys already added, as rkt. Returns what was written.
 */
export async function addKeys(locations: string[], prefix: string, accept: AcceptOption, opts: PubkeyOptions): Promise<StoredKey[]> {
  const out = opts.out ?? defaultOut;
  const log = opts.log ?? defaultLog;
  const interactive = opts.interactive ?? (() => Boolean(process.stdin.isTTY && process.stderr.isTTY));
  const scope = prefix === '' ? ({ root: true } as const) : { prefix };
  // Validate the target before fetching anything.
  opts.keystore.targetDir(scope);
  const stored: StoredKey[] = [];
  for (const location of locations) {
    let bytes: Buffer;
    try {
      bytes = await getPubKey(location, opts);
    } catch (e) {
      throw err(ErrorCodes.FAILED_PRECONDITION, `error accessing the key ${location}: ${(e as Error).message}`, e);
    }
    let keys;
    try {
      keys = await readPublicKeys(bytes, `the key at ${location}`);
    } catch (e) {
      throw err(ErrorCodes.INVALID_ARGUMENT, `error displaying the key ${location}: error reading key: ${(e as Error).message}`, e);
    }
    log(`prefix: ${JSON.stringify(prefix)}\nkey: ${JSON.stringify(location)}`);
    for (const k of keys) {
      out(`gpg key fingerprint is: ${formatFingerprint(k.getFingerprint())}`);
      for (const sk of k.subkeys) out(`    Subkey fingerprint: ${formatFingerprint(sk.getFingerprint())}`);
      for (const id of k.getUserIDs()) out(`\t${id}`);
    }
    let mode = accept;
    if (opts.trustKeysFromHttps && parseKeyLocation(location).kind === 'url' && location.toLowerCase().startsWith('https:'))
      mode = 'force';
    if (mode === 'ask') {
      if (!interactive()) {
        log(`To trust the key for ${JSON.stringify(prefix)}, do one of the following:`);
        log(' - call rkt with --trust-keys-from-https');
        log(` - run: rkt trust --prefix ${JSON.stringify(prefix)}`);
        throw err(ErrorCodes.FAILED_PRECONDITION, 'error reviewing key: unable to ask user to review fingerprint due to lack of tty');
      }
      if (!(await reviewKey(opts))) {
        log(`not trusting ${JSON.stringify(location)}`);
        continue;
      }
    }
    out(`Trusting ${JSON.stringify(location)} for prefix ${JSON.stringify(prefix)} ${mode === 'force' ? 'without' : 'after'} fingerprint review.`);
    let written: StoredKey[];
    try {
      written = await opts.keystore.trust(scope, keys);
    } catch (e) {
      const what = prefix === '' ? 'error adding root key' : `error adding key for prefix ${JSON.stringify(prefix)}`;
      throw err(ErrorCodes.INTERNAL, `${what}: ${(e as Error).message}`, e);
    }
    for (const w of written)
      out(prefix === '' ? `Added root key at ${JSON.stringify(w.path)}` : `Added key for prefix ${JSON.stringify(prefix)} at ${JSON.stringify(w.path)}`);
    stored.push(...written);
  }
  return stored;
}

/**
 * Key locations for `prefix` from appc meta discovery (`<meta name="ac-discovery-pubkeys">`),
 * walking up the name (@rkt/appc `discoverPublicKeys`). https only unless `insecureAllowHttp`
 * (which also allows the http fallback); `insecureSkipTlsCheck` skips certificate checks. Errors
 * read as rkt's: `prefix meta discovery error: …`, `meta discovery on <p> resulted in no keys`.
 * With `debug`, each prefix that had no tag is logged as rkt does.
 */
export async function discoverPubkeyLocations(prefix: string, opts: PubkeyOptions): Promise<string[]> {
  if (prefix === '') throw invalidArgument('empty prefix: --root needs explicit key locations (no discovery)');
  const log = opts.log ?? defaultLog;
  const { discoverPublicKeys, parseAppString, NodeHttpGetter } = await import('@rkt/appc');
  let keys: string[];
  try {
    const app = parseAppString(prefix);
    const inner: HttpGetter = opts.discoveryGetter ?? new NodeHttpGetter();
    // Credentials (auth.d) only ever go over https.
    const getter: HttpGetter = {
      get: (url, o = {}) => inner.get(url, url.startsWith('https:') ? o : { ...o, headers: {} }),
    };
    const host = prefix.split('/')[0]!;
    const headers = opts.headersFor?.(host) ?? {};
    const r = await discoverPublicKeys(app, {
      getter,
      insecureHttp: opts.insecureAllowHttp,
      insecureTls: opts.insecureSkipTlsCheck,
      ...(Object.keys(headers).length > 0 ? { hostHeaders: { [host]: headers } } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
    if (opts.debug)
      for (const a of r.attempts) log(`meta tag 'ac-discovery-pubkeys' not found on ${a.prefix}: ${a.error.message}`);
    keys = r.publicKeys;
  } catch (e) {
    if (opts.debug) {
      const attempts = ((e as { details?: { attempts?: { prefix: string; error: string }[] } }).details?.attempts ?? []);
      for (const a of attempts) log(`meta tag 'ac-discovery-pubkeys' not found on ${a.prefix}: ${a.error}`);
    }
    throw err(ErrorCodes.UNAVAILABLE, `prefix meta discovery error: ${(e as Error).message}`, e);
  }
  if (keys.length === 0) throw err(ErrorCodes.NOT_FOUND, `meta discovery on ${prefix} resulted in no keys`);
  return keys;
}
