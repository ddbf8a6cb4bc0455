/** Output formats rkt inherited from Go: tabwriter tables, humanized sizes and times. */

/**
 * Go's text/tabwriter with minwidth 0, tabwidth 8, padding 1 and padchar '\t' (rkt's tables):
 * every column but the last is padded with tabs to a common width rounded up to a multiple of 8.
 */
export function tabwrite(rows: string[][]): string {
  const cols = Math.max(0, ...rows.map((r) => r.length));
  const widths: number[] = [];
  for (let c = 0; c < cols - 1; c++) {
    const w = Math.max(0, ...rows.map((r) => (c < r.length - 1 ? [...(r[c] ?? '')].length : 0))) + 1;
    widths.push(Math.ceil(w / 8) * 8);
  }
  return rows
    .map((r) =>
      r
        .map((cell, c) => {
          if (c === r.length - 1) return cell;
          const pad = widths[c]! - [...cell].length;
          return cell + '\t'.repeat(Math.max(1, Math.ceil(pad / 8)));
        })
        .join(''),
    )
    .map((l) => l + '\n')
    .join('');
}

/** go-humanize IBytes: "512 B", "1.5 KiB", "12 MiB". */
export function ibytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  if (n < 10) return `${n} B`;
  const e = Math.floor(Math.log(n) / Math.log(1024));
  const v = n / 1024 ** e;
  const f = v < 10 ? v.toFixed(1) : v.toFixed(0);
  return `${f} ${units[e]}`;
}

/** go-humanize Time: "now", "3 seconds ago", "2 minutes ago", "1 day ago", … */
export function relativeTime(then: Date, now = new Date()): string {
  const s = (now.getTime() - then.getTime()) / 1000;
  const future = s < 0;
  const a = Math.abs(s);
  const steps: [number, string, number][] = [
    [1, 'now', 1],
    [2, '1 second', 1],
    [60, 'seconds', 1],
    [120, '1 minute', 60],
    [3600, 'minutes', 60],
    [7200, '1 hour', 3600],
    [86400, 'hours', 3600],
    [172800, '1 day', 86400],
    [604800, 'days', 86400],
    [1209600, '1 week', 604800],
    [2592000, 'weeks', 604800],
    [5184000, '1 month', 2592000],
    [31536000, 'months', 2592000],
    [63072000, '1 year', 31536000],
  ];
  for (const [limit, label, unit] of steps) {
    if (a < limit) {
      if (label === 'now') return 'now';
      const text = /^\d/.test(label) ? label : `${Math.floor(a / unit)} ${label}`;
      return future ? `${text} from now` : `${text} ago`;
    }
  }
  return `${Math.floor(a / 31536000)} years ${future ? 'from now' : 'ago'}`;
}

/** Go layout "2006-01-02 15:04:05.999 -0700 MST" in local time. */
export function fullTime(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const ms = d.getMilliseconds();
  const frac = ms ? '.' + p(ms, 3).replace(/0+$/, '') : '';
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const oh = p(Math.floor(Math.abs(off) / 60));
  const om = p(Math.abs(off) % 60);
  const zone = off === 0 ? 'UTC' : `${sign}${oh}${om}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${frac} ${sign}${oh}${om} ${zone}`;
}

/** Go's encoding/json escapes <, >, & and U+2028/9 in strings. */
export function goJson(value: unknown, indent?: string): string {
  const text = indent === undefined ? JSON.stringify(value) : JSON.stringify(value, null, indent);
  return text.replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
