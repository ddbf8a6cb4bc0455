// Helpers shared by the ACI tests: temp dirs, the reference actool, reading archives back.
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { decompress } from '../src/aci/compression.js';

export const ACTOOL = '/usr/bin/actool';

export function tempDir(t: { after: (fn: () => void) => void }, prefix = 'aci-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export function sh(cmd: string, args: string[], opts: { input?: Buffer; cwd?: string } = {}) {
  const r = spawnSync(cmd, args, { input: opts.input, cwd: opts.cwd, maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

export function must(cmd: string, args: string[], opts: { input?: Buffer; cwd?: string } = {}): Buffer {
  const r = sh(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

export interface ReadEntry {
  header: tar.Header;
  body: Buffer;
}

/** Every entry of an ACI (any compression) with its body, read with tar-stream. */
export async function readEntries(path: string): Promise<ReadEntry[]> {
  const { stream } = await decompress(createReadStream(path));
  const ex = tar.extract();
  stream.pipe(ex);
  const out: ReadEntry[] = [];
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    out.push({ header: e.header, body: Buffer.concat(chunks) });
  }
  return out;
}

/** A tar built from explicit headers with tar-stream (independent of our writer). */
export async function packTar(entries: { header: tar.Header; body?: Buffer | string }[]): Promise<Buffer> {
  const p = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of p as unknown as Readable) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    await new Promise<void>((res, rej) => p.entry(e.header, e.body ?? '', (err) => (err ? rej(err) : res())));
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const MANIFEST = (name = 'example.com/test') =>
  JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name, labels: [{ name: 'os', value: 'linux' }] });
