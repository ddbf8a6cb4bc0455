/**
 * Where archive bytes go: straight to a Writable, or through gzip (node:zlib, on libuv's pool) or
 * the real `bzip2 -c` / `xz -c` tools. Writes wait only when more than 8 MiB are queued.
 */
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { createGzip, constants as zc } from 'node:zlib';
import { failedPrecondition, unavailable } from '@rkt/api';
import type { Compression } from './compression.js';

const MAX_BUFFERED = 8 << 20;

export interface Sink {
  write(chunk: Buffer): Promise<void> | undefined;
  end(): Promise<void>;
  destroy(err: Error): void;
}

function waitDrain(s: Writable): Promise<void> | undefined {
  if (s.writableLength <= MAX_BUFFERED) return undefined;
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      s.off('error', onErr);
      s.off('close', onClose);
      resolve();
    };
    const onErr = (e: Error) => {
      s.off('drain', onDrain);
      s.off('close', onClose);
      reject(e);
    };
    const onClose = () => {
      s.off('drain', onDrain);
      s.off('error', onErr);
      reject(s.errored ?? new Error('output closed early'));
    };
    s.once('drain', onDrain);
    s.once('error', onErr);
    s.once('close', onClose);
  });
}

function streamSink(first: Writable, done: Promise<unknown>): Sink {
  let failed: Error | undefined;
  done.catch((e: Error) => (failed = e));
  return {
    write(chunk) {
      if (failed) throw failed;
      first.write(chunk);
      return waitDrain(first);
    },
    async end() {
      first.end();
      await done;
    },
    destroy(err) {
      first.destroy(err);
    },
  };
}

function finishedOk(s: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.once('finish', () => resolve());
  });
}

export function makeSink(output: Writable, compression: Compression): Sink {
  if (compression === 'none') return streamSink(output, finishedOk(output));
  if (compression === 'gzip') {
    const gz = createGzip({ level: zc.Z_DEFAULT_COMPRESSION, chunkSize: 256 << 10 });
    const done = Promise.all([finishedOk(output), new Promise<void>((res, rej) => gz.once('error', rej).once('end', res))]);
    gz.on('error', (e) => output.destroy(e));
    gz.pipe(output);
    return streamSink(gz, done);
  }
  const child = spawn(compression, ['-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => stderr.push(c));
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? unavailable(`cannot compress with ${compression}: the ${compression} tool is not installed`) : e),
    );
    child.once('close', (code, signal) =>
      code === 0
        ? resolve()
        : reject(failedPrecondition(`${compression} failed (${signal ?? `exit ${code}`}): ${Buffer.concat(stderr).toString().trim()}`)),
    );
  });
  child.stdout.pipe(output);
  child.stdin.on('error', () => undefined);
  const sink = streamSink(child.stdin, Promise.all([exited, finishedOk(output)]));
  return { ...sink, destroy: (e) => (child.kill(), output.destroy(e)) };
}

