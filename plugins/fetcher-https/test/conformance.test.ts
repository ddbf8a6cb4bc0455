import { fetcherSuite, startTestServer, startHttpServer, type TestServer } from '@rkt/testkit';
import { HttpsFetcher } from '../src/index.js';

function loopbackFixture(tls: boolean) {
  let server: TestServer;
  return {
    get server() {
      return server;
    },
    fixture: {
      async setup() {
        server = tls ? await startTestServer() : await startHttpServer();
      },
      teardown: () => server.close(),
      publish(id: string, image: Uint8Array, o: { signature?: Uint8Array | string; stallAt?: number } = {}) {
        const p = `/suite/${id}.aci`;
        server.aci(p, image, {
          etag: true,
          ...(o.signature !== undefined ? { signature: o.signature } : {}),
          ...(o.stallAt !== undefined ? { stallAt: o.stallAt } : {}),
        });
        const raw = server.url(p);
        return { kind: 'url' as const, raw, url: new URL(raw) };
      },
      missing(id: string) {
        const raw = server.url(`/suite/missing/${id}.aci`);
        return { kind: 'url' as const, raw, url: new URL(raw) };
      },
      ...(tls ? {} : { insecure: { http: true } }),
    },
  };
}

const https = loopbackFixture(true);
fetcherSuite('https (https URLs)', () => new HttpsFetcher({ extraCa: [https.server.caPem!] }), https.fixture);

const plain = loopbackFixture(false);
fetcherSuite('https (plain http URLs, insecure http)', () => new HttpsFetcher(), plain.fixture);
