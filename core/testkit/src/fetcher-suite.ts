/**
 * Conformance suite for rkt.fetcher.v1 implementations:
 *
 *   fetcherSuite('https', () => new HttpsFetcher({ extraCa: [server.caPem] }), fixture);
 *
 * The fixture publishes images where the fetcher can reach them (a loopback server, a directory…)
 * and says how to name them. Every test gets a fresh `tmpDir`. What is checked is what the core
 * relies on from every fetcher: the exact bytes, the signature of *this* image or null, abort,
 * RktErrors with codes, and nothing left behind.
 */
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import type { FetchOptions, Fetcher, ImageRef, InsecureOptions, ProgressSink } from '@rkt/api';
import { ErrorCodes, isRktError } from '@rkt/api';

export interface PublishOptions {
  /** Detached signature to publish next to the image; none when absent. */
  signature?: Uint8Array | string;
  /** Serve the first `stallAt` bytes of the body, then nothing more (abort tests). */
  stallAt?: number;
}

export interface FetcherFixture {
  /** Start servers etc. Called once before the tests, before the factory. */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  /** Make `image` fetchable under a fresh unique key (`id`, a short [a-z0-9-] string). */
  publish(id: string, image: Uint8Array, options?: PublishOptions): Promise<ImageRef> | ImageRef;
  /** A reference to an image that does not exist. */
  missing(id: string): ImageRef;
  /** Insecure options every fetch needs for this fixture (e.g. `http` for a plain-http server). */
  insecure?: Partial<InsecureOptions>;
  /** Headers for a host, as auth.d would give them. */
  headersFor?(host: string): Record<string, string>;
}

const ALL_SECURE: InsecureOptions = {
  image: false,
  tls: false,
  http: false,
  pubkey: false,
  capabilities: false,
  paths: false,
  seccomp: false,
};

const KNOWN_CODES = new Set<string>(Object.values(ErrorCodes));

function pseudoRandom(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

async function readAll(stream: Readable | undefined): Promise<Buffer> {
  assert.ok(stream, 'the result has an aci stream');
  assert.ok(stream instanceof Readable || typeof (stream as Readable).pipe === 'function', 'aci is a Readable');
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

function assertRktError(err: unknown, codes?: string[]): true {
  assert.ok(isRktError(err), `expected an RktError, got ${String(err)}`);
  assert.ok(KNOWN_CODES.has(err.code), `unknown error code ${err.code}`);
  if (codes) assert.ok(codes.includes(err.code), `code ${err.code} (${err.message}) not in ${codes.join(', ')}`);
  assert.ok(err.message.length > 0);
  return true;
}

class Progress implements ProgressSink {
  events: string[] = [];
  bytes = 0;
  start(): void {
    this.events.push('start');
  }
  advance(n: number): void {
    assert.ok(Number.isInteger(n) && n >= 0, `advance(${n})`);
    this.events.push('advance');
    this.bytes += n;
  }
  done(): void {
    this.events.push('done');
  }
}

export function fetcherSuite(
  name: string,
  factory: () => Fetcher | Promise<Fetcher>,
  fixture: FetcherFixture,
): void {
  describe(`rkt.fetcher.v1 conformance: ${name}`, () => {
    let fetcher: Fetcher;
    let tmpDir: string;
    let seq = 0;
    const id = (what: string) => `${what}-${++seq}`;

    const opts = (o: Partial<FetchOptions> = {}, extra: Partial<InsecureOptions> = {}): FetchOptions => ({
      insecure: { ...ALL_SECURE, ...(fixture.insecure ?? {}), ...extra },
      pullPolicy: 'update',
      headersFor: (host) => fixture.headersFor?.(host) ?? {},
      tmpDir,
      debug: () => {},
      ...o,
    });

    before(async () => {
      await fixture.setup?.();
      fetcher = await factory();
    });
    after(async () => {
      await fixture.teardown?.();
    });
    beforeEach(() => {
      tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-fetcher-suite-'));
    });
    afterEach(() => fs.rmSync(tmpDir, { recursive: true, force: true }));

    it('has a non-empty id', () => {
      assert.equal(typeof fetcher.id, 'string');
      assert.ok(fetcher.id.length > 0);
    });

    for (const size of [1, 4096, 3 * 1024 * 1024 + 17]) {
      it(`returns the exact bytes and signature (${size} bytes)`, async () => {
        const image = pseudoRandom(size, size);
        const signature = `-----BEGIN PGP SIGNATURE-----\n\n${size}\n-----END PGP SIGNATURE-----\n`;
        const ref = await fixture.publish(id('exact'), image, { signature });
        const progress = new Progress();
        const r = await fetcher.fetch(ref, opts({ progress }));
        assert.notEqual(r.notModified, true);
        const got = await readAll(r.aci);
        assert.equal(got.length, image.length);
        assert.ok(got.equals(image), 'the bytes are the published ones');
        assert.ok(r.signature instanceof Uint8Array, 'signature is a Uint8Array');
        assert.equal(Buffer.from(r.signature).toString(), signature);
        // Progress, when reported, is well-formed: started before advancing, finished.
        if (progress.events.length > 0) {
          assert.equal(progress.events[0], 'start');
          assert.equal(progress.events.at(-1), 'done');
          assert.ok(progress.bytes >= image.length, `progress covers the image (${progress.bytes})`);
        }
        assert.deepEqual(fs.readdirSync(tmpDir), [], 'nothing is left in tmpDir');
      });
    }

    it('hands each image its own signature when fetching concurrently', async () => {
      const a = pseudoRandom(100_000, 11);
      const b = pseudoRandom(120_000, 12);
      const refA = await fixture.publish(id('pair-a'), a, { signature: 'SIGNATURE-A' });
      const refB = await fixture.publish(id('pair-b'), b, { signature: 'SIGNATURE-B' });
      const [ra, rb] = await Promise.all([fetcher.fetch(refA, opts()), fetcher.fetch(refB, opts())]);
      const [ga, gb] = await Promise.all([readAll(ra.aci), readAll(rb.aci)]);
      assert.ok(ga.equals(a));
      assert.ok(gb.equals(b));
      assert.equal(Buffer.from(ra.signature!).toString(), 'SIGNATURE-A');
      assert.equal(Buffer.from(rb.signature!).toString(), 'SIGNATURE-B');
    });

    it('refuses an unsigned image unless --insecure-options=image, then gives signature null', async () => {
      const image = pseudoRandom(10_000, 5);
      const ref = await fixture.publish(id('unsigned'), image);
      await assert.rejects(fetcher.fetch(ref, opts()), (e) => assertRktError(e, [ErrorCodes.UNTRUSTED, ErrorCodes.NOT_FOUND]));
      const r = await fetcher.fetch(ref, opts({}, { image: true }));
      assert.equal(r.signature, null);
      assert.ok((await readAll(r.aci)).equals(image));
    });

    it('a missing image is a NOT_FOUND RktError', async () => {
      await assert.rejects(fetcher.fetch(fixture.missing(id('missing')), opts({}, { image: true })), (e) =>
        assertRktError(e, [ErrorCodes.NOT_FOUND]),
      );
    });

    it('a missing image with signature required is an RktError', async () => {
      await assert.rejects(fetcher.fetch(fixture.missing(id('missing-signed')), opts()), (e) => assertRktError(e));
    });

    it('an already aborted signal rejects without fetching', async () => {
      const image = pseudoRandom(1000, 9);
      const ref = await fixture.publish(id('pre-aborted'), image, { signature: 'S' });
      await assert.rejects(fetcher.fetch(ref, opts({ signal: AbortSignal.abort() })), (e) => assertRktError(e));
    });

    it('aborts a stalled download promptly and hands nothing over', async () => {
      const image = pseudoRandom(256 * 1024, 13);
      const ref = await fixture.publish(id('stalled'), image, { signature: 'S', stallAt: 64 * 1024 });
      const ac = new AbortController();
      const t0 = Date.now();
      const timer = setTimeout(() => ac.abort(new Error('test abort')), 300);
      try {
        await assert.rejects(fetcher.fetch(ref, opts({ signal: ac.signal })), (e) => assertRktError(e));
      } finally {
        clearTimeout(timer);
      }
      assert.ok(Date.now() - t0 < 10_000, 'the abort is honoured promptly');
    });

    it('refuses a reference kind it does not serve with an RktError', async () => {
      const ref: ImageRef = { kind: 'hash', raw: 'sha512-00', id: 'sha512-00' };
      await assert.rejects(fetcher.fetch(ref, opts()), (e) => assertRktError(e));
    });
  });
}
