import { invalidArgument } from '@rkt/api';

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration (`1h30m`, `90s`, `0`, `1.5h`) → milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const s = text.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (s === '' || matched !== s.length)
    throw invalidArgument(`invalid duration ${JSON.stringify(text)} for ${flag} (examples: 30m, 24h0m0s, 1.5h)`);
  return total;
}
