/**
 * /etc/resolv.conf and /etc/hosts of an app by dns-conf-mode (rkt.md §6):
 *  resolv: host → the host's file read-only; stage0 → stage1's etc/rkt-resolv.conf (written by
 *          stage0 from --dns*); none/default → the image's own (no CNI DNS in these flavors yet).
 *  hosts:  host → the host's file read-only; stage0 → etc/rkt-hosts plus `127.0.0.1 <hostname>`;
 *          default → left alone when the image or a volume provides /etc/hosts, else the stage1
 *          fallback stub plus `127.0.0.1 <hostname>`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DnsMode } from './args.js';
import { Stage1Error } from './log.js';
import type { PodDir } from './pod.js';
import { resolveInRoot } from './rootfs.js';
import type { AppMount } from './volumes.js';

export interface FileBind {
  source: string;
  target: string;
  readOnly: boolean;
}

export const HOSTS_FALLBACK =
  '127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n' +
  '::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n';

const covered = (mounts: AppMount[], target: string) =>
  mounts.some((m) => m.target === target || target.startsWith(m.target + '/'));

/** Append `127.0.0.1 <hostname>` to a hosts file once. */
function addHostname(file: string, hostname: string): void {
  const line = `127.0.0.1\t${hostname}\n`;
  const cur = fs.readFileSync(file, 'utf8');
  if (!cur.split('\n').some((l) => l.trim() === line.trim())) {
    fs.writeFileSync(file, (cur === '' || cur.endsWith('\n') ? cur : cur + '\n') + line);
  }
}

export function dnsBinds(
  pod: PodDir,
  appRootfs: string,
  mounts: AppMount[],
  modes: { resolv: DnsMode; hosts: DnsMode },
  hostname: string,
): FileBind[] {
  const out: FileBind[] = [];
  if (modes.resolv === 'host') out.push({ source: '/etc/resolv.conf', target: '/etc/resolv.conf', readOnly: true });
  else if (modes.resolv === 'stage0') {
    const src = path.join(pod.stage1Rootfs, 'etc', 'rkt-resolv.conf');
    if (!fs.existsSync(src)) throw new Stage1Error('dns-conf-mode resolv=stage0 but stage1/rootfs/etc/rkt-resolv.conf is missing');
    out.push({ source: src, target: '/etc/resolv.conf', readOnly: true });
  }
  if (modes.hosts === 'host') out.push({ source: '/etc/hosts', target: '/etc/hosts', readOnly: true });
  else if (modes.hosts === 'stage0') {
    const src = path.join(pod.stage1Rootfs, 'etc', 'rkt-hosts');
    if (!fs.existsSync(src)) throw new Stage1Error('dns-conf-mode hosts=stage0 but stage1/rootfs/etc/rkt-hosts is missing');
    addHostname(src, hostname);
    out.push({ source: src, target: '/etc/hosts', readOnly: true });
  } else if (!covered(mounts, '/etc/hosts') && !resolveInRoot(appRootfs, '/etc/hosts').exists) {
    const src = path.join(pod.flavorState, 'hosts');
    if (!fs.existsSync(src)) {
      const fb = path.join(pod.stage1Rootfs, 'etc', 'hosts-fallback');
      fs.writeFileSync(src, fs.existsSync(fb) ? fs.readFileSync(fb) : HOSTS_FALLBACK, { mode: 0o644 });
      addHostname(src, hostname);
    }
    out.push({ source: src, target: '/etc/hosts', readOnly: true });
  }
  return out;
}
