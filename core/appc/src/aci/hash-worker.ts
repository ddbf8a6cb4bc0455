/**
 * The thread behind `offThreadHasher` (hashing.ts): hashes the bytes the main thread puts in a
 * shared ring of slots, then answers digest requests until it is terminated.
 *
 * Ring protocol (one producer, one consumer), `ctl` = Int32Array over the shared control buffer:
 *   ctl[PRODUCED]  slots filled so far (main thread), ctl[CONSUMED] slots hashed (this thread),
 *   ctl[ENDED]     1 once the main thread has no more data; lens[i] = bytes in slot i.
 * The slot counters only grow (int32 wrap-around is harmless: only differences are compared).
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { CONSUMED, ENDED, PRODUCED } from './hash-ring.js';

interface Init {
  rktHashWorker: true;
  algorithms: string[];
  ctl: SharedArrayBuffer;
  lens: SharedArrayBuffer;
  data: SharedArrayBuffer;
  slotSize: number;
}

type Request = { id: number; algorithm: string; suffix: Uint8Array[] };

if (parentPort && (workerData as Partial<Init> | undefined)?.rktHashWorker === true) {
  const port = parentPort;
  const init = workerData as Init;
  const ctl = new Int32Array(init.ctl);
  const lens = new Int32Array(init.lens);
  const slots = lens.length;
  const hashes = new Map<string, Hash>(init.algorithms.map((a) => [a, createHash(a)]));
  const all = [...hashes.values()];
  let consumed = 0;
  for (;;) {
    const produced = Atomics.load(ctl, PRODUCED);
    if (produced === consumed) {
      if (Atomics.load(ctl, ENDED) === 1 && Atomics.load(ctl, PRODUCED) === consumed) break;
      Atomics.wait(ctl, PRODUCED, consumed, 100);
      continue;
    }
    const slot = consumed % slots;
    const view = new Uint8Array(init.data, slot * init.slotSize, lens[slot]);
    for (const h of all) h.update(view);
    consumed = (consumed + 1) | 0;
    Atomics.store(ctl, CONSUMED, consumed);
    Atomics.notify(ctl, CONSUMED);
  }
  port.postMessage({ done: true });
  port.on('message', (req: Request) => {
    const h = hashes.get(req.algorithm);
    if (!h) {
      port.postMessage({ id: req.id, error: `no ${req.algorithm} hash was computed` });
      return;
    }
    const c = h.copy();
    for (const s of req.suffix) c.update(s);
    port.postMessage({ id: req.id, digest: new Uint8Array(c.digest()) });
  });
}
