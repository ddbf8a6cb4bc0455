/**
 * Value grammars used by well-known annotations and isolators: RFC 3339 dates (as Go 1.19's
 * time.Parse(time.RFC3339) accepts them), http/https URLs (as Go's url.Parse), resource
 * quantities (as the reference's resource.ParseQuantity), IP addresses (net.ParseIP).
 */
import { isIP } from 'node:net';

/* ------------------------------------------------------------------ dates */

const daysIn = (month: number, year: number): number => {
  if (month === 2) return (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) ? 29 : 28;
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
};
const dig = (s: string, i: number) => i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39;

/** Go's time.atoi on a short string: optional sign then digits only ("" and "+" give 0). */
function goAtoi(s: string): number | undefined {
  let t = s;
  let neg = false;
  if (t !== '' && (t[0] === '-' || t[0] === '+')) {
    neg = t[0] === '-';
    t = t.slice(1);
  }
  if (!/^[0-9]*$/.test(t)) return undefined;
  const v = t === '' ? 0 : Number(t);
  return neg ? -v : v;
}

/** Why `s` is not an RFC 3339 date-time as the reference parses it, or undefined. */
export function rfc3339Error(s: string): string | undefined {
  const bad = `bad Date: cannot parse ${JSON.stringify(s)} as RFC 3339 date-time`;
  let v = s;
  // year: 4 chars, first a digit, all digits
  if (v.length < 4 || !dig(v, 0) || !/^[0-9]{4}/.test(v)) return bad;
  const year = Number(v.slice(0, 4));
  v = v.slice(4);
  const num2 = (fixed: boolean): number | undefined => {
    if (!dig(v, 0)) return undefined;
    if (!dig(v, 1)) {
      if (fixed) return undefined;
      const r = v.charCodeAt(0) - 48;
      v = v.slice(1);
      return r;
    }
    const r = (v.charCodeAt(0) - 48) * 10 + (v.charCodeAt(1) - 48);
    v = v.slice(2);
    return r;
  };
  const lit = (c: string) => {
    if (v[0] !== c) return false;
    v = v.slice(1);
    return true;
  };
  if (!lit('-')) return bad;
  const month = num2(true);
  if (month === undefined) return bad;
  if (month < 1 || month > 12) return `${bad}: month out of range`;
  if (!lit('-')) return bad;
  const day = num2(true);
  if (day === undefined) return bad;
  if (!lit('T')) return bad;
  const hour = num2(false);
  if (hour === undefined) return bad;
  if (hour >= 24) return `${bad}: hour out of range`;
  if (!lit(':')) return bad;
  const min = num2(true);
  if (min === undefined) return bad;
  if (min >= 60) return `${bad}: minute out of range`;
  if (!lit(':')) return bad;
  const sec = num2(true);
  if (sec === undefined) return bad;
  if (sec >= 60) return `${bad}: second out of range`;
  if (v.length >= 2 && (v[0] === '.' || v[0] === ',') && dig(v, 1)) {
    let n = 2;
    while (dig(v, n)) n++;
    v = v.slice(n);
  }
  if (v[0] === 'Z') v = v.slice(1);
  else {
    if (v.length < 6 || v[3] !== ':') return bad;
    const sign = v[0];
    const hh = goAtoi(v.slice(1, 3));
    const mm = goAtoi(v.slice(4, 6));
    if (hh === undefined || mm === undefined || (sign !== '+' && sign !== '-')) return bad;
    v = v.slice(6);
  }
  if (v !== '') return `${bad}: extra text: ${JSON.stringify(v)}`;
  if (day < 1 || day > daysIn(month, year)) return `${bad}: day out of range`;
  return undefined;
}

/* ------------------------------------------------------------------ URLs */

const isHex = (c: string | undefined) => c !== undefined && /^[0-9a-fA-F]$/.test(c);

type Enc = 'host' | 'zone' | 'path' | 'fragment';

function shouldEscape(c: string, mode: Enc): boolean {
  if (/^[a-zA-Z0-9]$/.test(c)) return false;
  if (mode === 'host' || mode === 'zone') {
    if ("!$&'()*+,;=:[]<>\"".includes(c)) return false;
  }
  if ('-_.~'.includes(c)) return false;
  if ('$&+,/:;=?@'.includes(c)) {
    if (mode === 'path') return c === '?';
    if (mode === 'fragment') return false;
  }
  if (mode === 'fragment' && '!()*'.includes(c)) return false;
  return true;
}

/** Go url.unescape validity check (no result needed). */
function unescapeError(s: string, mode: Enc): string | undefined {
  for (let i = 0; i < s.length; ) {
    const c = s[i]!;
    if (c === '%') {
      if (i + 2 >= s.length || !isHex(s[i + 1]) || !isHex(s[i + 2])) return `invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`;
      const v = parseInt(s.slice(i + 1, i + 3), 16);
      if (mode === 'host' && parseInt(s[i + 1]!, 16) < 8 && s.slice(i, i + 3) !== '%25')
        return `invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`;
      if (mode === 'zone' && s.slice(i, i + 3) !== '%25' && v !== 0x20 && shouldEscape(String.fromCharCode(v), 'host'))
        return `invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`;
      i += 3;
      continue;
    }
    if ((mode === 'host' || mode === 'zone') && s.charCodeAt(i) < 0x80 && shouldEscape(c, mode))
      return `invalid character ${JSON.stringify(c)} in host name`;
    i++;
  }
  return undefined;
}

function validOptionalPort(p: string): boolean {
  if (p === '') return true;
  if (p[0] !== ':') return false;
  return /^[0-9]*$/.test(p.slice(1));
}

function parseHostError(host: string): string | undefined {
  if (host.startsWith('[')) {
    const i = host.lastIndexOf(']');
    if (i < 0) return "missing ']' in host";
    const colonPort = host.slice(i + 1);
    if (!validOptionalPort(colonPort)) return `invalid port ${JSON.stringify(colonPort)} after host`;
    const zone = host.slice(0, i).indexOf('%25');
    if (zone >= 0) {
      return unescapeError(host.slice(0, zone), 'host') ?? unescapeError(host.slice(zone, i), 'zone') ?? unescapeError(host.slice(i), 'host');
    }
  } else {
    const i = host.lastIndexOf(':');
    if (i !== -1 && !validOptionalPort(host.slice(i))) return `invalid port ${JSON.stringify(host.slice(i))} after host`;
  }
  return unescapeError(host, 'host');
}

export interface ParsedUrl {
  scheme: string;
  opaque: boolean;
  host: string;
}

/** A small port of Go's url.Parse: returns an error string, or the scheme (lower-cased) and host. */
export function goParseUrl(raw: string): ParsedUrl | string {
  const hash = raw.indexOf('#');
  const u = hash >= 0 ? raw.slice(0, hash) : raw;
  const frag = hash >= 0 ? raw.slice(hash + 1) : '';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(u)) return 'net/url: invalid control character in URL';
  let scheme = '';
  let rest = u;
  if (u !== '*') {
    for (let i = 0; i < u.length; i++) {
      const c = u[i]!;
      if (/[a-zA-Z]/.test(c)) continue;
      if (/[0-9+\-.]/.test(c)) {
        if (i === 0) break;
        continue;
      }
      if (c === ':') {
        if (i === 0) return 'missing protocol scheme';
        scheme = u.slice(0, i).toLowerCase();
        rest = u.slice(i + 1);
      }
      break;
    }
  }
  let host = '';
  let opaque = false;
  if (u !== '*') {
    if (rest.endsWith('?') && rest.split('?').length === 2) rest = rest.slice(0, -1);
    else {
      const q = rest.indexOf('?');
      if (q >= 0) rest = rest.slice(0, q);
    }
    if (!rest.startsWith('/')) {
      if (scheme !== '') opaque = true;
      else {
        const seg = rest.split('/')[0]!;
        if (seg.includes(':')) return 'first path segment in URL cannot contain colon';
      }
    }
    if (!opaque) {
      if ((scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
        let authority = rest.slice(2);
        rest = '';
        const slash = authority.indexOf('/');
        if (slash >= 0) {
          rest = authority.slice(slash);
          authority = authority.slice(0, slash);
        }
        const at = authority.lastIndexOf('@');
        const hostPart = at < 0 ? authority : authority.slice(at + 1);
        const herr = parseHostError(hostPart);
        if (herr) return herr;
        host = hostPart;
        if (at >= 0 && !/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(authority.slice(0, at))) return 'net/url: invalid userinfo';
      }
      const perr = unescapeError(rest, 'path');
      if (perr) return perr;
    }
  }
  if (frag !== '') {
    const ferr = unescapeError(frag, 'fragment');
    if (ferr) return ferr;
  }
  return { scheme, opaque, host };
}

/** Why `s` is not an http/https URL (types.NewURL), or undefined. */
export function httpUrlError(s: string): string | undefined {
  const p = goParseUrl(s);
  if (typeof p === 'string') return `bad URL: parse ${JSON.stringify(s)}: ${p}`;
  if (p.scheme !== 'http' && p.scheme !== 'https') return 'bad URL scheme, must be http/https';
  return undefined;
}

/* ------------------------------------------------------------------ IP */

/** Go's net.ParseIP acceptance: dotted-quad IPv4 (no leading zeros) or IPv6 (no zone). */
export function isGoIP(s: string): boolean {
  if (s.includes('%')) return false;
  return isIP(s) !== 0;
}

/* ------------------------------------------------------------------ quantities */

export interface Quantity {
  /** The text as written. */
  text: string;
  /** Value scaled to nano-units (×10⁹), rounded up like the reference; BigInt, never a float. */
  nanos: bigint;
}

const QUANTITY_SUFFIX_CHARS = 'eEinumkKMGTP';
const DEC_SUFFIX: Record<string, number> = { '': 0, n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BIN_SUFFIX: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const QUANTITY_FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkMGTP]*[-+]?[0-9]*)$'";

interface SplitQuantity {
  positive: boolean;
  value: string;
  num: string;
  denom: string;
  suffix: string;
}

function splitQuantity(str: string): SplitQuantity | undefined {
  let positive = true;
  let pos = 0;
  const end = str.length;
  if (pos < end) {
    if (str[0] === '-') {
      positive = false;
      pos++;
    } else if (str[0] === '+') pos++;
  }
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value: '0', num: '0', denom: '', suffix: '' };
    if (str[i] === '0') pos++;
    else break;
  }
  let num = '';
  let i = pos;
  for (; ; i++) {
    if (i >= end) return { positive, value: str, num: str.slice(pos), denom: '', suffix: '' };
    if (!dig(str, i)) break;
  }
  num = str.slice(pos, i);
  pos = i;
  if (num.length === 0) num = '0';
  let denom = '';
  if (pos < end && str[pos] === '.') {
    pos++;
    let j = pos;
    for (; ; j++) {
      if (j >= end) return { positive, value: str, num, denom: str.slice(pos), suffix: '' };
      if (!dig(str, j)) break;
    }
    denom = str.slice(pos, j);
    pos = j;
  }
  const value = str.slice(0, pos);
  const suffixStart = pos;
  let k = pos;
  for (; ; k++) {
    if (k >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart) };
    if (!QUANTITY_SUFFIX_CHARS.includes(str[k]!)) break;
  }
  pos = k;
  if (pos < end && (str[pos] === '-' || str[pos] === '+')) pos++;
  for (let m = pos; ; m++) {
    if (m >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart) };
    if (!dig(str, m)) return undefined;
  }
}

/** Parse a resource quantity string; returns an error string when the reference refuses it. */
export function parseQuantity(str: string): Quantity | string {
  if (str.length === 0) return QUANTITY_FORMAT_ERROR;
  if (str === '0') return { text: str, nanos: 0n };
  const sp = splitQuantity(str);
  if (!sp) return QUANTITY_FORMAT_ERROR;
  let base: 10 | 2;
  let exponent: number;
  let format: 'dec' | 'bin' | 'exp';
  if (Object.prototype.hasOwnProperty.call(DEC_SUFFIX, sp.suffix)) {
    base = 10;
    exponent = DEC_SUFFIX[sp.suffix]!;
    format = 'dec';
  } else if (Object.prototype.hasOwnProperty.call(BIN_SUFFIX, sp.suffix)) {
    base = 2;
    exponent = BIN_SUFFIX[sp.suffix]!;
    format = 'bin';
  } else if (sp.suffix.length > 1 && (sp.suffix[0] === 'e' || sp.suffix[0] === 'E')) {
    const e = sp.suffix.slice(1);
    if (!/^[+-]?[0-9]+$/.test(e)) return 'unable to parse quantity\'s suffix';
    const big = BigInt(e);
    if (big > (1n << 63n) - 1n || big < -(1n << 63n)) return 'unable to parse quantity\'s suffix';
    exponent = Number(BigInt.asIntN(32, big));
    base = 10;
    format = 'exp';
  } else return "unable to parse quantity's suffix";

  // Fast path of the reference (int64 arithmetic) or its arbitrary-precision path: both accept
  // unless the slow path gets a value without any digit ("." with a small exponent).
  let precision: number;
  let scale = 0;
  if (format === 'bin') {
    precision = exponent >= 0 && sp.denom.length === 0 ? 15 - sp.num.length - Math.trunc((exponent * 3) / 10) - 1 : -1;
  } else {
    scale = exponent;
    precision = 18 - (sp.num.length + sp.denom.length);
  }
  let fast = false;
  if (precision >= 0) {
    scale -= sp.denom.length;
    if (scale >= -9) {
      const v = BigInt(sp.num + sp.denom) * (format === 'bin' ? 1n << BigInt(exponent) : 1n);
      if (v <= (1n << 63n) - 1n) fast = true;
    }
  }
  if (!fast && !/[0-9]/.test(sp.value)) return 'quantities must be numeric';

  // Exact value in nano-units, rounded up (away from zero) like the reference.
  const digits = BigInt((sp.num + sp.denom).replace(/^0+(?=.)/, '') || '0');
  let nanos: bigint;
  if (base === 2) {
    // digits × 2^exp / 10^denom, in nanos
    const numer = digits * (1n << BigInt(exponent)) * 1_000_000_000n;
    const den = 10n ** BigInt(sp.denom.length);
    nanos = (numer + den - 1n) / den;
  } else {
    const p = exponent - sp.denom.length + 9; // power of ten to multiply digits by
    if (Math.abs(p) > 400) nanos = p > 0 ? 1n << 256n : digits === 0n ? 0n : 1n;
    else if (p >= 0) nanos = digits * 10n ** BigInt(p);
    else {
      const den = 10n ** BigInt(-p);
      nanos = (digits + den - 1n) / den;
    }
  }
  return { text: str, nanos: sp.positive ? nanos : -nanos };
}

/** Go's strings.TrimSpace (Unicode White_Space). */
export function goTrimSpace(s: string): string {
  const ws = '[\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]';
  return s.replace(new RegExp(`^${ws}+|${ws}+$`, 'g'), '');
}
