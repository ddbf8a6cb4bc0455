/**
 * The `key=value,key=value` parameter strings of the reference tools (patch-manifest --mounts,
 * --ports, --isolators; discovery app strings): Go's common.MakeQueryString followed by
 * url.ParseQuery, reproduced so that the same strings are accepted and refused.
 */

const UTF8 = new TextEncoder();

/** Go's url.QueryEscape. */
export function queryEscape(s: string): string {
  let out = '';
  for (const b of UTF8.encode(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Go's url.QueryUnescape; throws on a bad % escape. */
export function queryUnescape(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; ) {
    const c = s[i]!;
    if (c === '%') {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new Error(`invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`);
      bytes.push(parseInt(h, 16));
      i += 3;
    } else if (c === '+') {
      bytes.push(0x20);
      i++;
    } else {
      for (const b of UTF8.encode(String.fromCodePoint(s.codePointAt(i)!))) bytes.push(b);
      i += s.codePointAt(i)! > 0xffff ? 2 : 1;
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Go's common.MakeQueryString: `a=1,b=2` → `a=1&b=2` with values escaped. */
export function makeQueryString(app: string): string {
  const parts = app.split(',');
  return parts
    .map((s) => {
      const eq = s.indexOf('=');
      if (eq < 0) throw new Error(`malformed string ${JSON.stringify(app)} - has a label without a value: ${s}`);
      return `${s.slice(0, eq)}=${queryEscape(s.slice(eq + 1))}`;
    })
    .join('&');
}

/** Go's url.ParseQuery: key → values, in first-seen key order. Throws on the first error. */
export function parseQuery(query: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  let err: Error | undefined;
  for (const part of query.split('&')) {
    if (part.includes(';')) {
      err = new Error('invalid semicolon separator in query');
      continue;
    }
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const rawVal = eq < 0 ? '' : part.slice(eq + 1);
    let key: string;
    let val: string;
    try {
      key = queryUnescape(rawKey);
      val = queryUnescape(rawVal);
    } catch (e) {
      err ??= e as Error;
      continue;
    }
    const list = m.get(key);
    if (list) list.push(val);
    else m.set(key, [val]);
  }
  if (err) throw err;
  return m;
}

/** MakeQueryString + ParseQuery, each key having exactly one value (else the reference errors). */
export function parseParams(s: string): Map<string, string> {
  const q = parseQuery(makeQueryString(s));
  const out = new Map<string, string>();
  for (const [k, v] of q) {
    if (v.length > 1) throw new Error(`label ${k} with multiple values [${v.map((x) => JSON.stringify(x)).join(' ')}]`);
    out.set(k, v[0]!);
  }
  return out;
}

/** Go's strconv.ParseBool. */
export function goParseBool(s: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  throw new Error(`strconv.ParseBool: parsing ${JSON.stringify(s)}: invalid syntax`);
}

/** Go's strconv.ParseUint(s, 10, bits). */
export function goParseUint(s: string, bits: number): bigint {
  if (!/^[0-9]+$/.test(s)) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`);
  const v = BigInt(s);
  if (v > (1n << BigInt(bits)) - 1n) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`);
  return v;
}

/** Go's strconv.Atoi (64-bit int). */
export function goAtoi(s: string): number {
  if (!/^[+-]?[0-9]+$/.test(s)) throw new Error(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const v = BigInt(s);
  if (v > (1n << 63n) - 1n || v < -(1n << 63n)) throw new Error(`strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`);
  return Number(v);
}
