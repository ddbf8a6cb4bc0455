/**
 * The masquerade rules that the reference plugins (ptp, bridge with `ipMasq: true`) install: a nat
 * chain `CNI-<sha512(name+id)>` (28 characters) jumped to from POSTROUTING with the comment
 * `name: "<net>" id: "<container>"`. Their DEL removes them only when it can still find the
 * interface in the container's netns; after a reboot or a lost netns it cannot, so the runtime
 * removes them itself (idempotent: nothing happens when they are gone).
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';

const MAX_CHAIN = 28;

export function ipMasqChainName(network: string, containerId: string): string {
  return ('CNI-' + createHash('sha512').update(network + containerId).digest('hex')).slice(0, MAX_CHAIN);
}

export function ipMasqComment(network: string, containerId: string): string {
  return `name: ${JSON.stringify(network)} id: ${JSON.stringify(containerId)}`;
}

/** Split one line of `iptables -S` output into arguments (double quotes with backslash escapes). */
export function splitRuleLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inQ = false;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (inQ) {
      if (c === '\\' && i + 1 < line.length) cur += line[++i];
      else if (c === '"') inQ = false;
      else cur += c;
    } else if (c === '"') {
      inQ = true;
      has = true;
    } else if (c === ' ') {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else cur += c;
  }
  if (has || cur) out.push(cur);
  return out;
}

/** A command prefix to run iptables elsewhere, e.g. `['nsenter', '--net=/var/run/netns/x']`. */
export type CommandWrap = readonly string[];

function ipt(bin: string, args: string[], wrap: CommandWrap = []): { ok: boolean; out: string; err: string } {
  const argv = [...wrap, bin, '-w', '5', ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  return { ok: r.status === 0, out: String(r.stdout ?? ''), err: String(r.stderr ?? r.error?.message ?? '') };
}

/**
 * Delete every rule in the nat table that jumps to one of `chains`, then flush and delete those
 * chains (one listing per binary). Returns the problems met (empty when all is clean).
 */
export function removeNatChain(chainOrChains: string | readonly string[], bins: readonly string[] = ['iptables'], wrap: CommandWrap = []): string[] {
  const chains = typeof chainOrChains === 'string' ? [chainOrChains] : chainOrChains;
  const problems: string[] = [];
  for (const bin of bins) {
    const listed = ipt(bin, ['-t', 'nat', '-S'], wrap);
    if (!listed.ok) {
      if (/No such file|not found|ENOENT/i.test(listed.err)) continue;
      problems.push(`${bin} -t nat -S: ${listed.err.trim()}`);
      continue;
    }
    const lines = listed.out.split('\n');
    for (const line of lines) {
      const a = splitRuleLine(line);
      if (a[0] !== '-A') continue;
      const j = a.indexOf('-j');
      if (j < 0 || !chains.includes(a[j + 1]!)) continue;
      const r = ipt(bin, ['-t', 'nat', '-D', ...a.slice(1)], wrap);
      if (!r.ok) problems.push(`${bin} -t nat -D ${a.slice(1).join(' ')}: ${r.err.trim()}`);
    }
    for (const chain of chains) {
      if (!lines.some((l) => l === `-N ${chain}`)) continue;
      for (const op of ['-F', '-X']) {
        const r = ipt(bin, ['-t', 'nat', op, chain], wrap);
        if (!r.ok) problems.push(`${bin} -t nat ${op} ${chain}: ${r.err.trim()}`);
      }
    }
  }
  return problems;
}

/** Remove the masquerade chain and jumps a ptp/bridge `ipMasq` network installed for a container. */
export function removeIpMasq(network: string, containerId: string, wrap: CommandWrap = []): string[] {
  return removeNatChain(ipMasqChainName(network, containerId), ['iptables', 'ip6tables'], wrap);
}
