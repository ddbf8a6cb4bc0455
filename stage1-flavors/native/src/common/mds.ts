/**
 * `AC_METADATA_URL` for a pod registered with the metadata service. Stage0 leaves what it got from
 * the registration in `$pod/mds-registered` (0600 JSON `{token, port, addresses}`), so the token
 * is never on a command line. `--mds-token` (rkt's interface) is still honoured when a stage0
 * passes one: the service is then assumed on 127.0.0.1:18112.
 */
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import type { PodDir } from './pod.js';
import { Stage1Error } from './log.js';

export interface MdsRegistration {
  token: string;
  port: number;
  addresses: string[];
}

export const MDS_REGISTERED_FILE = 'mds-registered';

export function readMdsRegistration(pod: PodDir, tokenFlag?: string): MdsRegistration | undefined {
  let text: string;
  try {
    text = fs.readFileSync(pod.file(MDS_REGISTERED_FILE), 'utf8');
  } catch {
    return tokenFlag ? { token: tokenFlag, port: 18112, addresses: ['127.0.0.1'] } : undefined;
  }
  const r = JSON.parse(text || '{}') as Partial<MdsRegistration>;
  if (typeof r.token !== 'string' || !/^[A-Za-z0-9_-]{22,}$/.test(r.token)) throw new Stage1Error(`${MDS_REGISTERED_FILE}: no valid token`);
  if (typeof r.port !== 'number' || !Number.isInteger(r.port) || r.port <= 0 || r.port > 65535) throw new Stage1Error(`${MDS_REGISTERED_FILE}: invalid port`);
  return { token: r.token, port: r.port, addresses: Array.isArray(r.addresses) ? r.addresses.filter((a) => typeof a === 'string' && isIP(a)) : [] };
}

/** The host-side address of a contained pod network, if net-info.json records one (`hostIP`). */
export function hostSideIp(pod: PodDir): string | undefined {
  try {
    const nets = JSON.parse(fs.readFileSync(pod.file('net-info.json'), 'utf8')) as Array<Record<string, unknown>>;
    for (const n of Array.isArray(nets) ? nets : []) {
      for (const k of ['hostIP', 'hostIp', 'gateway']) {
        const v = n[k];
        if (typeof v === 'string' && isIP(v.replace(/\/\d+$/, ''))) return v.replace(/\/\d+$/, '');
      }
    }
  } catch {
    // no contained network
  }
  return undefined;
}

/**
 * The address a pod reaches the service at: with a contained network, its host-side IP; with the
 * host network, the service's own listen address (127.0.0.1 preferred); with --net=none, the
 * pod's own loopback (127.0.0.1), which does not reach the service — stage0 warns about it.
 */
export function mdsAddressFor(reg: MdsRegistration, net: 'host' | 'none' | 'contained', hostSide?: string): string {
  if (net === 'contained' && hostSide) return hostSide;
  if (net === 'none') return '127.0.0.1';
  const usable = reg.addresses.filter((a) => a !== '0.0.0.0' && a !== '::');
  return usable.find((a) => a === '127.0.0.1') ?? usable[0] ?? '127.0.0.1';
}

export function metadataUrl(reg: MdsRegistration, address: string): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${reg.port}/${reg.token}`;
}
