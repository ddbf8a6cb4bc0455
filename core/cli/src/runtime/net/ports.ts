/**
 * `--port NAME:[HOSTIP:]HOSTPORT` as rkt forwards it (rkt.md §6 "Port forwarding"): per-pod nat
 * chains `RKT-PFWD-DNAT-<uuid[0:8]>` and `RKT-PFWD-SNAT-<uuid[0:8]>`, jumped to from PREROUTING and
 * OUTPUT (`-m addrtype --dst-type LOCAL`, so every local address and localhost work) and from
 * POSTROUTING (`-s 127.0.0.1 ! -d 127.0.0.1`, masquerading what came from localhost, rkt #1256,
 * #1932); `route_localnet=1` on the host side of the pod's interface lets 127.0.0.1 be routed there.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { RktError, ErrorCodes, invalidArgument, type PodManifest } from '@rkt/api';
import { removeNatChain } from '@rkt/cni';

export interface ForwardedPort {
  name: string;
  protocol: 'tcp' | 'udp';
  hostIP?: string;
  hostPort: number;
  podPort: number;
}

export const dnatChain = (uuid: string) => `RKT-PFWD-DNAT-${uuid.slice(0, 8)}`;
export const snatChain = (uuid: string) => `RKT-PFWD-SNAT-${uuid.slice(0, 8)}`;

/** The pod manifest's `ports`, with each app port's number and protocol. */
export function resolvePorts(pm: PodManifest): ForwardedPort[] {
  return (pm.ports ?? []).map((p) => {
    const appPort = p.podPort ?? pm.apps.flatMap((a) => a.app?.ports ?? []).find((ap) => ap.name === p.name);
    if (!appPort) throw invalidArgument(`port name ${JSON.stringify(p.name)} could not be found in any apps`);
    const protocol = appPort.protocol === 'udp' ? 'udp' : appPort.protocol === 'tcp' ? 'tcp' : undefined;
    if (!protocol) throw invalidArgument(`port ${JSON.stringify(p.name)}: protocol ${JSON.stringify(appPort.protocol)} cannot be forwarded (tcp or udp)`);
    return { name: p.name, protocol, ...(p.hostIP ? { hostIP: p.hostIP } : {}), hostPort: p.hostPort, podPort: appPort.port };
  });
}

function ipt(args: string[]): void {
  const r = spawnSync('iptables', ['-w', '5', '-t', 'nat', ...args], { encoding: 'utf8' });
  if (r.error) throw new RktError(ErrorCodes.UNAVAILABLE, `cannot run iptables: ${r.error.message}`);
  if (r.status !== 0) throw new RktError(ErrorCodes.INTERNAL, `iptables -t nat ${args.join(' ')}: ${String(r.stderr).trim()}`);
}

export function forwardPorts(uuid: string, podIP: string, hostIfaces: readonly string[], ports: readonly ForwardedPort[]): void {
  const dnat = dnatChain(uuid);
  const snat = snatChain(uuid);
  ipt(['-N', dnat]);
  ipt(['-N', snat]);
  for (const p of ports) {
    ipt(['-A', dnat, '-d', p.hostIP ?? '0.0.0.0/0', '-p', p.protocol, '--dport', String(p.hostPort), '-j', 'DNAT', '--to-destination', `${podIP}:${p.podPort}`]);
    ipt(['-A', snat, '-p', p.protocol, '-s', '127.0.0.1', '-d', podIP, '--dport', String(p.podPort), '-j', 'MASQUERADE']);
  }
  ipt(['-I', 'PREROUTING', '1', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', dnat]);
  ipt(['-I', 'OUTPUT', '1', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', dnat]);
  ipt(['-I', 'POSTROUTING', '1', '-s', '127.0.0.1', '!', '-d', '127.0.0.1', '-j', snat]);
  for (const itf of hostIfaces) {
    try {
      writeFileSync(`/proc/sys/net/ipv4/conf/${itf}/route_localnet`, '1');
    } catch (e) {
      throw new RktError(ErrorCodes.INTERNAL, `--port: cannot set route_localnet on ${itf}: ${(e as Error).message}`);
    }
  }
}

/** Remove both chains and every jump to them (idempotent). */
export function removePortForwards(uuid: string): string[] {
  return removeNatChain([dnatChain(uuid), snatChain(uuid)]);
}
