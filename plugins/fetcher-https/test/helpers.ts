import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { FetchOptions, InsecureOptions, ProgressSink } from '@rkt/api';

export const SECURE: InsecureOptions = {
  image: false,
  tls: false,
  http: false,
  pubkey: false,
  capabilities: false,
  paths: false,
  seccomp: false,
};

export function insecure(...names: Array<keyof InsecureOptions>): InsecureOptions {
  const o = { ...SECURE };
  for (const n of names) o[n] = true;
  return o;
}

export function tempDir(prefix = 'rkt-fetch-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface TestOptions extends FetchOptions {
  debugLog: string[];
}

export function options(tmpDir: string, o: Partial<FetchOptions> = {}): TestOptions {
  const debugLog: string[] = [];
  return {
    insecure: SECURE,
    pullPolicy: 'update',
    headersFor: () => ({}),
    tmpDir,
    debug: (m) => debugLog.push(m),
    debugLog,
    ...o,
  };
}

export async function readAll(stream: Readable | undefined): Promise<Buffer> {
  if (!stream) throw new Error('no stream');
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Deterministic pseudo-random bytes. */
export function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

export class RecordingProgress implements ProgressSink {
  events: Array<[string, unknown?]> = [];
  start(label: string, total?: number): void {
    this.events.push(['start', { label, total }]);
  }
  advance(n: number): void {
    this.events.push(['advance', n]);
  }
  done(): void {
    this.events.push(['done']);
  }
  advancedAfter(label: string): number {
    let on = false;
    let sum = 0;
    for (const [k, v] of this.events) {
      if (k === 'start') on = (v as { label: string }).label === label;
      else if (k === 'advance' && on) sum += v as number;
    }
    return sum;
  }
}

export const SIG = '-----BEGIN PGP SIGNATURE-----\n\nnot really a signature\n-----END PGP SIGNATURE-----\n';
