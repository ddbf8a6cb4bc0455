/** Linux capabilities by name, and the appc/rkt default bounding set. */
export const ALL_CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** appc's default set (14 capabilities), used when an app has no capability isolator. */
export const DEFAULT_CAPS: readonly string[] = [
  'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_KILL',
  'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_NET_BIND_SERVICE', 'CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP',
  'CAP_SETFCAP', 'CAP_SYS_CHROOT',
];

export function normalizeCap(name: string): string {
  const n = name.toUpperCase();
  return n.startsWith('CAP_') ? n : `CAP_${n}`;
}

/** The capabilities the host's own bounding set (of this process) contains. */
export function hostBoundingCaps(statusText: string): Set<string> {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(statusText);
  const mask = m ? BigInt('0x' + m[1]) : (1n << BigInt(ALL_CAPS.length)) - 1n;
  const out = new Set<string>();
  ALL_CAPS.forEach((c, i) => {
    if ((mask >> BigInt(i)) & 1n) out.add(c);
  });
  return out;
}

/**
 * The bounding set of an app: a retain set replaces the defaults, a remove set subtracts from them
 * (both at once is an error), `disabled` (--insecure-options=capabilities) gives every capability
 * the host has. Capabilities the host itself lacks are dropped, since no runtime can grant them.
 */
export function boundingSet(
  caps: { retain?: string[]; remove?: string[] } | undefined,
  disabled: boolean,
  host: Set<string>,
): string[] {
  let set: string[];
  if (disabled) set = [...ALL_CAPS];
  else if (caps?.retain && caps?.remove) throw new Error('capabilities retain and remove sets cannot be combined');
  else if (caps?.retain) set = caps.retain.map(normalizeCap);
  else if (caps?.remove) {
    const rm = new Set(caps.remove.map(normalizeCap));
    set = DEFAULT_CAPS.filter((c) => !rm.has(c));
  } else set = [...DEFAULT_CAPS];
  for (const c of set) if (!ALL_CAPS.includes(c)) throw new Error(`unknown capability "${c}"`);
  return [...new Set(set)].filter((c) => host.has(c));
}
