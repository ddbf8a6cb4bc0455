/**
 * Hashing a stream of bytes with one or more algorithms, in this thread or on a worker thread.
 *
 * Why a worker: a signed fetch of a large image is bound by sha512 (~1.5 s per GiB here, the same
 * OpenSSL code `openssl dgst` runs), and everything else the import does — reading, tar parsing,
 * writing — ran after it on the one JavaScript thread. On a worker, hashing overlaps with that
 * work. The bytes are copied into a ring of shared-memory slots (a memcpy, ~0.1 s per GiB) and the
 * worker hashes them from there; the producer waits (Atomics.waitAsync) when the ring is full.
 *
 * `adaptiveHasher` hashes small streams in this thread (a worker costs ~30–50 ms to start) and
 * moves to a worker once the stream is larger than a threshold: until then it keeps the chunks
 * (they are only referenced, bounded by the threshold) and replays them into the worker.
 *
 * Every hasher finishes with `digestWith(suffix…)`: the digest of the data followed by optional
 * suffix bytes (an OpenPGP signature trailer), any number of times, until `close()`.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { internal, invalidArgument, type DigestSource } from '@rkt/api';
import { CONSUMED, CTL_WORDS, ENDED, PRODUCED } from './hash-ring.js';

export interface StreamHasher {
  /** Feed bytes. A returned promise asks the caller to wait for it before feeding more. */
  update(chunk: Uint8Array): Promise<void> | undefined;
  /** No more data; resolves once everything fed is hashed. */
  end(): Promise<void>;
  /** The hash of one of the algorithms (after `end`). */
  digest(algorithm: string): DigestSource;
  /** Release the worker, if any. Idempotent. */
  close(): void;
}

/** Throws an invalidArgument naming the algorithm if node:crypto does not know it. */
export function checkHashAlgorithms(algorithms: readonly string[]): void {
  for (const a of algorithms) {
    try {
      createHash(a);
    } catch (e) {
      throw invalidArgument(`unsupported hash algorithm ${JSON.stringify(a)}`, { cause: e });
    }
  }
}

function unknown(algorithm: string): never {
  throw internal(`no ${algorithm} hash was computed over this stream`);
}

/** Hashes in this thread. */
export function inThreadHasher(algorithms: readonly string[]): StreamHasher {
  checkHashAlgorithms(algorithms);
  const hashes = new Map<string, Hash>(algorithms.map((a) => [a, createHash(a)]));
  const all = [...hashes.values()];
  return {
    update(chunk) {
      for (const h of all) h.update(chunk);
      return undefined;
    },
    end: async () => undefined,
    digest(algorithm) {
      const h = hashes.get(algorithm) ?? unknown(algorithm);
      return {
        digestWith: async (...suffix) => {
          const c = h.copy();
          for (const s of suffix) c.update(s);
          return c.digest();
        },
      };
    },
    close: () => undefined,
  };
}

export interface OffThreadOptions {
  /** Bytes per ring slot (default 1 MiB). */
  slotSize?: number;
  /** Number of slots (default 4). */
  slots?: number;
}

// Node 20 has Atomics.waitAsync; TypeScript's lib declares it from es2024 on.
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<unknown> | string };
}).waitAsync;

function workerUrl(): URL {
  // Tests run this module from its sources (src/aci/hashing.ts under tsx); worker threads do not
  // get tsx's loader, so they always run the compiled worker.
  if (import.meta.url.endsWith('/src/aci/hashing.ts')) return new URL('../../dist/aci/hash-worker.js', import.meta.url);
  return new URL('./hash-worker.js', import.meta.url);
}

/** Hashes on a worker thread. */
export function offThreadHasher(algorithms: readonly string[], opts: OffThreadOptions = {}): StreamHasher {
  checkHashAlgorithms(algorithms);
  const slotSize = opts.slotSize ?? 1 << 20;
  const slots = opts.slots ?? 4;
  const ctlBuf = new SharedArrayBuffer(CTL_WORDS * 4);
  const lensBuf = new SharedArrayBuffer(slots * 4);
  const data = new SharedArrayBuffer(slotSize * slots);
  const ctl = new Int32Array(ctlBuf);
  const lens = new Int32Array(lensBuf);
  const worker = new Worker(workerUrl(), {
    workerData: { rktHashWorker: true, algorithms: [...algorithms], ctl: ctlBuf, lens: lensBuf, data, slotSize },
    stdout: false,
    stderr: false,
    // The worker needs no loader or flag of its parent's (`--input-type`, `--import tsx`, … would
    // even make it fail to start): plain node, the compiled module.
    execArgv: [],
  });
  // Referenced while data flows (Atomics.waitAsync does not keep the event loop alive), then
  // only while a digest is pending; `close()` ends it.
  let failure: Error | undefined;
  let closed = false;
  let produced = 0;
  let nextId = 0;
  const pending = new Map<number, { resolve(b: Buffer): void; reject(e: Error): void }>();
  let doneResolve!: () => void;
  let doneReject!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => {
    doneResolve = res;
    doneReject = rej;
  });
  done.catch(() => undefined);
  const fail = (e: Error) => {
    failure ??= e;
    Atomics.notify(ctl, CONSUMED); // wake a producer waiting for room
    doneReject(failure);
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  worker.on('message', (m: { done?: true; id?: number; digest?: Uint8Array; error?: string }) => {
    if (m.done) {
      doneResolve();
      return;
    }
    const p = pending.get(m.id!);
    if (!p) return;
    pending.delete(m.id!);
    if (m.error !== undefined) p.reject(internal(m.error));
    else p.resolve(Buffer.from(m.digest!));
  });
  worker.on('error', (e) => fail(internal(`hash worker failed: ${e.message}`, { cause: e })));
  worker.on('exit', (code) => {
    if (!closed) fail(internal(`hash worker exited early (code ${code})`));
  });

  // Copy one piece (≤ slotSize) into the next slot, which must be free.
  const copyIn = (piece: Uint8Array): void => {
    const slot = produced % slots;
    new Uint8Array(data, slot * slotSize, piece.length).set(piece);
    lens[slot] = piece.length;
    produced = (produced + 1) | 0;
  };
  const publish = (): void => {
    Atomics.store(ctl, PRODUCED, produced);
    Atomics.notify(ctl, PRODUCED);
  };
  // The same, waiting while the ring is full.
  const put = async (piece: Uint8Array): Promise<void> => {
    for (;;) {
      if (failure) throw failure;
      const consumed = Atomics.load(ctl, CONSUMED);
      if (((produced - consumed) | 0) < slots) break;
      const w = waitAsync(ctl, CONSUMED, consumed, 100);
      if (w.async) await w.value;
    }
    copyIn(piece);
    publish();
  };

  return {
    update(chunk) {
      if (failure) throw failure;
      if (closed) throw internal('update after close');
      // Fast path: the whole chunk fits in free slots without waiting.
      const pieces = Math.ceil(chunk.length / slotSize);
      const free = slots - ((produced - Atomics.load(ctl, CONSUMED)) | 0);
      if (pieces <= free) {
        for (let off = 0; off < chunk.length; off += slotSize) copyIn(chunk.subarray(off, off + slotSize));
        publish();
        return undefined;
      }
      return (async () => {
        for (let off = 0; off < chunk.length; off += slotSize) await put(chunk.subarray(off, off + slotSize));
      })();
    },
    async end() {
      Atomics.store(ctl, ENDED, 1);
      Atomics.notify(ctl, PRODUCED);
      try {
        await done;
      } finally {
        if (pending.size === 0) worker.unref();
      }
    },
    digest(algorithm) {
      if (!algorithms.includes(algorithm)) unknown(algorithm);
      return {
        digestWith: (...suffix) => {
          if (failure) return Promise.reject(failure);
          if (closed) return Promise.reject(internal('digest after close'));
          const id = nextId++;
          worker.ref();
          return new Promise<Buffer>((resolve, reject) => {
            pending.set(id, { resolve, reject });
            worker.postMessage({ id, algorithm, suffix: suffix.map((s) => new Uint8Array(s)) });
          }).finally(() => {
            if (pending.size === 0) worker.unref();
          });
        },
      };
    },
    close() {
      if (closed) return;
      closed = true;
      void worker.terminate();
    },
  };
}

/**
 * In this thread for streams up to `threshold` bytes (default 8 MiB), on a worker beyond: see the
 * module comment.
 */
export function adaptiveHasher(algorithms: readonly string[], threshold = 8 << 20, opts: OffThreadOptions = {}): StreamHasher {
  checkHashAlgorithms(algorithms);
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  let inner: StreamHasher | undefined;
  let closed = false;
  const settle = (): StreamHasher => {
    if (!inner) {
      inner = inThreadHasher(algorithms);
      for (const c of held) inner.update(c);
      held = [];
    }
    return inner;
  };
  return {
    update(chunk) {
      if (inner) return inner.update(chunk);
      held.push(chunk);
      heldBytes += chunk.length;
      if (heldBytes <= threshold) return undefined;
      inner = offThreadHasher(algorithms, opts);
      const replay = held;
      held = [];
      const h = inner;
      return (async () => {
        for (const c of replay) {
          const w = h.update(c);
          if (w) await w;
        }
      })();
    },
    end: () => settle().end(),
    digest: (algorithm) => {
      if (!algorithms.includes(algorithm)) unknown(algorithm);
      return { digestWith: (...suffix) => settle().digest(algorithm).digestWith(...suffix) };
    },
    close() {
      if (closed) return;
      closed = true;
      inner?.close();
      held = [];
    },
  };
}

/**
 * A pass-through stream that feeds every chunk to `hasher` (honouring its backpressure) and to
 * `onChunk`; with `endHasher`, it also ends the hasher when the stream ends.
 */
export function hashThrough(hasher: StreamHasher, onChunk?: (c: Buffer) => void, endHasher = false): Transform {
  return new Transform({
    readableHighWaterMark: 1 << 20,
    writableHighWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb) {
      let wait: Promise<void> | undefined;
      try {
        onChunk?.(chunk);
        wait = hasher.update(chunk);
      } catch (e) {
        cb(e as Error);
        return;
      }
      if (wait) wait.then(() => cb(null, chunk), (e: unknown) => cb(e as Error));
      else cb(null, chunk);
    },
    flush(cb) {
      if (!endHasher) cb();
      else hasher.end().then(() => cb(), (e: unknown) => cb(e as Error));
    },
  });
}
