/**
 * Starting the metadata service: one instance per data dir (an flock on `$data/mds/lock`, taken
 * with util-linux flock as the pod locks are), listeners passed by systemd socket activation
 * (`LISTEN_PID`/`LISTEN_FDS`, fds from 3: a unix socket is the registration listener, a TCP one a
 * public listener) or bound here: the registration socket `$data/mds/registration.sock` (0600 in a
 * 0700 directory) and TCP `--listen-address`es (never the unspecified address) on `--listen-port`.
 */
import { chmodSync, existsSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { RktError, ErrorCodes, invalidArgument } from '@rkt/api';
import { openKeyLock, type DirLock } from '../pods/lock.js';
import { POD_DIRS, podsRoot } from '../pods/pod.js';
import { configureServer, publicHandler, registrationHandler, type MdsLogger, type PublicEndpoint } from './server.js';
import { MdsStore, ensureMdsDir, instanceLockPath, mdsDir, registrationSocketPath } from './store.js';

export const DEFAULT_MDS_PORT = 18112;
export const DEFAULT_MDS_ADDRESS = '127.0.0.1';

export interface ServiceOptions {
  dataDir: string;
  port: number;
  addresses: string[];
  env: NodeJS.ProcessEnv;
  log: MdsLogger;
}

export interface RunningService {
  store: MdsStore;
  registrationPath: string | undefined;
  endpoint(): PublicEndpoint;
  close(): Promise<void>;
}

/** sd_listen_fds(3): the fds passed to this process, with the variables then removed. */
export function listenFds(env: NodeJS.ProcessEnv, pid = process.pid): number[] {
  const n = Number(env.LISTEN_FDS);
  const forUs = env.LISTEN_PID !== undefined && Number(env.LISTEN_PID) === pid;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (!forUs || !Number.isInteger(n) || n <= 0) return [];
  return Array.from({ length: n }, (_, i) => 3 + i);
}

export function checkListenAddress(a: string): string {
  if (!isIP(a)) throw invalidArgument(`--listen-address ${JSON.stringify(a)}: not an IP address`);
  if (a === '0.0.0.0' || a === '::' || /^0+(\.0+){3}$/.test(a))
    throw invalidArgument(
      `--listen-address ${a}: listening on every interface would expose pod metadata to other hosts; give the address the pods reach (127.0.0.1 for --net=host pods, the pod network's host-side address otherwise)`,
    );
  return a;
}

export function checkListenPort(p: number): number {
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw invalidArgument(`--listen-port ${p}: not a TCP port`);
  return p;
}

function listen(s: Server, arg: { fd: number } | { path: string } | { port: number; host: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(arg, () => {
      s.off('error', reject);
      resolve();
    });
  });
}

function podExists(dataDir: string, uuid: string): boolean {
  return POD_DIRS.some((d) => existsSync(join(podsRoot(dataDir), d, uuid)));
}

export async function startMetadataService(o: ServiceOptions): Promise<RunningService> {
  const addresses = o.addresses.map(checkListenAddress);
  checkListenPort(o.port);
  // A start that fails leaves nothing behind: what this start created is removed again.
  const created = [o.dataDir, mdsDir(o.dataDir)].find((d) => !existsSync(d));
  ensureMdsDir(o.dataDir);
  const lock: DirLock = openKeyLock(instanceLockPath(o.dataDir));
  if (!lock.tryExclusive()) {
    lock.close();
    if (created) rmSync(created, { recursive: true, force: true });
    throw new RktError(ErrorCodes.FAILED_PRECONDITION, `another metadata service is already running for ${o.dataDir}`);
  }
  const servers: Server[] = [];
  let ownSocket: string | undefined;
  try {
    const store = new MdsStore(o.dataDir);
    store.load((u) => podExists(o.dataDir, u), o.log.warn);
    const publicServers: Server[] = [];
    const endpoint = (): PublicEndpoint => {
      const addrs = publicServers.map((s) => s.address()).filter((a): a is import('node:net').AddressInfo => typeof a === 'object' && a !== null);
      return { port: addrs[0]?.port ?? o.port, addresses: addrs.map((a) => a.address) };
    };
    const pub = publicHandler(store, o.log);
    const fmt = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const bindPublic = async (host: string, port: number): Promise<void> => {
      const s = configureServer(createServer(pub));
      try {
        await listen(s, { port, host });
      } catch (e) {
        throw new RktError(ErrorCodes.UNAVAILABLE, `cannot listen on ${fmt(host, port)}: ${(e as Error).message}`);
      }
      servers.push(s);
      publicServers.push(s);
    };
    /** A pod network's host-side address: listen there too (same port), once, even when asked concurrently. */
    const binding = new Map<string, Promise<void>>();
    const listenOn = (host: string): Promise<void> => {
      if (endpoint().addresses.includes(host)) return Promise.resolve();
      let p = binding.get(host);
      if (!p) {
        p = bindPublic(host, endpoint().port)
          .then(() => o.log.info(`listening on ${fmt(host, endpoint().port)} for a pod network`))
          .finally(() => binding.delete(host));
        binding.set(host, p);
      }
      return p;
    };
    const reg = registrationHandler(store, endpoint, o.log, listenOn);

    // Socket activation: TCP fds serve the public API; a unix one (set up below) registrations.
    const activatedUnix: Array<{ s: Server; fd: number }> = [];
    for (const fd of listenFds(o.env)) {
      let handler: (req: IncomingMessage, res: ServerResponse) => void = pub;
      const s = configureServer(createServer((req, res) => handler(req, res)));
      await listen(s, { fd });
      servers.push(s);
      const a = s.address();
      // A TCP socket has an address with a port; a unix socket's is its path (or null from an fd).
      if (!(a && typeof a === 'object' && 'port' in a)) {
        if (activatedUnix.length) throw invalidArgument(`socket activation: more than one unix socket passed (fd ${fd})`);
        handler = reg;
        activatedUnix.push({ s, fd });
        o.log.info(`registration socket from socket activation (fd ${fd})`);
      } else {
        publicServers.push(s);
        o.log.info(`public listener from socket activation (fd ${fd})`);
      }
    }
    if (publicServers.length === 0) {
      for (const host of addresses) await bindPublic(host, publicServers.length ? endpoint().port : o.port);
    }
    // Host-side addresses of registered pods' networks (after a restart); a vanished bridge is no error.
    for (const host of store.hostAddresses()) {
      try {
        await listenOn(host);
      } catch (e) {
        o.log.warn(`${(e as Error).message} (a registered pod's network)`);
      }
    }
    if (activatedUnix.length) {
      // stage0 finds the socket at a fixed path; only root may use it (registering mints identities)
      const path = registrationSocketPath(o.dataDir);
      const st = statSync(path, { throwIfNoEntry: false });
      if (!st?.isSocket()) o.log.warn(`the socket-activated registration socket should be ${path} (stage0 registers there)`);
      else if (st.mode & 0o022 || st.uid !== 0) o.log.warn(`${path} is usable by others than root (mode ${(st.mode & 0o777).toString(8)}): use SocketMode=0600`);
    } else {
      // bound last: registrations are answered with the public endpoint, which now exists
      const path = registrationSocketPath(o.dataDir);
      rmSync(path, { force: true }); // a stale socket: the instance lock says nobody serves it
      const s = configureServer(createServer(reg));
      await listen(s, { path });
      chmodSync(path, 0o600);
      ownSocket = path;
      servers.push(s);
    }
    const ep = endpoint();
    o.log.info(`metadata service listening on ${ep.addresses.map((a) => (a.includes(':') ? `[${a}]` : a) + ':' + ep.port).join(', ')}; ${store.size} pod(s) registered`);
    return {
      store,
      registrationPath: ownSocket,
      endpoint,
      async close() {
        await Promise.all(
          servers.map(
            (s) =>
              new Promise<void>((r) => {
                s.close(() => r());
                s.closeAllConnections();
              }),
          ),
        );
        if (ownSocket) rmSync(ownSocket, { force: true });
        lock.close();
      },
    };
  } catch (e) {
    for (const s of servers) s.close();
    if (ownSocket) rmSync(ownSocket, { force: true });
    lock.close();
    if (created) rmSync(created, { recursive: true, force: true });
    throw e;
  }
}
