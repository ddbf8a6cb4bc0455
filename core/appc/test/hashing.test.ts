import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { adaptiveHasher, inThreadHasher, offThreadHasher, type StreamHasher } from '../src/aci/hashing.js';

const data = randomBytes(300_000);
const want = (alg: string, ...suffix: Buffer[]) => {
  const h = createHash(alg).update(data);
  for (const s of suffix) h.update(s);
  return h.digest('hex');
};

/** Feed `data` in chunks of varying size (1 byte to 40 kB), honouring the hasher's backpressure. */
async function feed(h: StreamHasher): Promise<void> {
  let off = 0;
  let i = 0;
  while (off < data.length) {
    const n = [1, 999, 1000, 1001, 40_000, 7][i++ % 6]!;
    const w = h.update(data.subarray(off, off + n));
    if (w) await w;
    off += n;
  }
  await h.end();
}

const makers: Array<[string, () => StreamHasher]> = [
  ['in this thread', () => inThreadHasher(['sha512', 'sha256'])],
  // Tiny slots: the ring wraps hundreds of times and the producer waits on a full ring.
  ['on a worker (3 slots of 1000 bytes)', () => offThreadHasher(['sha512', 'sha256'], { slotSize: 1000, slots: 3 })],
  ['adaptive, crossing the threshold', () => adaptiveHasher(['sha512', 'sha256'], 50_000, { slotSize: 4096, slots: 4 })],
  ['adaptive, below the threshold', () => adaptiveHasher(['sha512', 'sha256'], 1 << 20)],
];

for (const [label, make] of makers) {
  test(`hashes a stream ${label}, and digests with suffixes`, async () => {
    const h = make();
    try {
      await feed(h);
      assert.equal((await h.digest('sha512').digestWith()).toString('hex'), want('sha512'));
      const trailer = Buffer.from([4, 0xff, 0, 0, 0, 9]);
      const fields = Buffer.from('signature');
      // Several digests of one state, in parallel: each is of data + its own suffix.
      const [a, b, c] = await Promise.all([
        h.digest('sha256').digestWith(fields, trailer),
        h.digest('sha512').digestWith(fields, trailer),
        h.digest('sha256').digestWith(),
      ]);
      assert.equal(a.toString('hex'), want('sha256', fields, trailer));
      assert.equal(b.toString('hex'), want('sha512', fields, trailer));
      assert.equal(c.toString('hex'), want('sha256'));
      assert.throws(() => h.digest('md5'), /no md5 hash/);
    } finally {
      h.close();
      h.close();
    }
  });
}

test('unknown algorithms are refused up front, by name', () => {
  assert.throws(() => offThreadHasher(['sha512', 'nope-512']), /unsupported hash algorithm "nope-512"/);
  assert.throws(() => adaptiveHasher(['nope']), /"nope"/);
});

test('a closed worker hasher refuses further use instead of hanging', async () => {
  const h = offThreadHasher(['sha512']);
  h.update(Buffer.from('abc'));
  await h.end();
  h.close();
  await assert.rejects(h.digest('sha512').digestWith(), /after close/);
  assert.throws(() => h.update(Buffer.from('x')), /after close/);
});

test('the worker starts whatever flags its parent process was started with', async () => {
  // e.g. `node --input-type=module -e …` embedding the store: the worker must not inherit them.
  const { spawnSync } = await import('node:child_process');
  const mod = new URL('../dist/aci/hashing.js', import.meta.url).href;
  const code = `const { offThreadHasher } = await import(${JSON.stringify(mod)});
    const h = offThreadHasher(['sha512']);
    h.update(Buffer.from('abc'));
    await h.end();
    process.stdout.write((await h.digest('sha512').digestWith()).toString('hex'));
    h.close();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, createHash('sha512').update('abc').digest('hex'));
});
