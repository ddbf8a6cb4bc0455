/**
 * Ownership of temporary files. Node has no flock(2), so a temporary entry carries its owner in
 * its name: `<kind>.<pid>.<starttime>.<boot>.<random>`. The entry is stale when that process is
 * gone: the pid is not alive, or it is alive but started at another time (pid reuse), or the
 * machine has rebooted since (boot id). Stale entries are safe to delete because only their owner
 * ever writes to them and a dead owner cannot come back.
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';

let bootIdCache: string | undefined;
function bootId(): string {
  if (bootIdCache === undefined) {
    try {
      bootIdCache = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replace(/-/g, '').slice(0, 8);
    } catch {
      bootIdCache = '0';
    }
  }
  return bootIdCache;
}

/** Process start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined if gone. */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19]; // field 22 is the 20th after "pid (comm)"
}

let selfToken: string | undefined;
/** `<pid>.<starttime>.<boot>` for this process. */
export function ownerToken(): string {
  if (selfToken === undefined) {
    selfToken = `${process.pid}.${processStartTime(process.pid) ?? '0'}.${bootId()}`;
  }
  return selfToken;
}

export function tempName(kind: string): string {
  return `${kind}.${ownerToken()}.${randomBytes(6).toString('hex')}`;
}

/** Whether the owner encoded in a temp name (or a bare owner token) is still running. */
export function ownerAlive(token: string): boolean {
  const [pidStr, start, boot] = token.split('.');
  const pid = Number(pidStr);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (boot !== bootId()) return false;
  const actual = processStartTime(pid);
  return actual !== undefined && actual === start;
}

/** Parse `<kind>.<pid>.<start>.<boot>.<rand>`; undefined for names we did not create. */
export function parseTempName(name: string): { kind: string; owner: string } | undefined {
  const m = /^([a-z]+)\.(\d+\.\d+\.[0-9a-f]+)\.[0-9a-f]+$/.exec(name);
  return m === null ? undefined : { kind: m[1]!, owner: m[2]! };
}
