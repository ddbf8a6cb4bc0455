/**
 * Command-line flags parsed the way the reference actool's Go `flag` package parses them, so that
 * our actool accepts and refuses exactly the same command lines with the same messages:
 * `-flag` and `--flag`, `-flag=value`, `-flag value` for non-boolean flags, parsing stops at the
 * first non-flag argument or after `--`, `-h`/`-help` (when not defined) ask for usage.
 */

export type FlagKind = 'bool' | 'string' | 'uint';

export interface FlagDef {
  name: string;
  kind: FlagKind;
  usage: string;
}

export type FlagValues = Record<string, string | boolean | number>;

export type ParseResult =
  | { ok: true; values: FlagValues; args: string[] }
  /** `message` is what Go prints to stderr before returning the error; `error` is the error text. */
  | { ok: false; output: string; error: string; help: boolean };

const BOOL_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const BOOL_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export const defValue = (f: FlagDef): string => (f.kind === 'bool' ? 'false' : f.kind === 'uint' ? '0' : '');

/** Go's FlagSet.PrintDefaults. */
export function printDefaults(defs: readonly FlagDef[]): string {
  let out = '';
  for (const f of [...defs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    let line = `  -${f.name}`;
    const m = /`([^`]*)`/.exec(f.usage);
    const typeName = m ? m[1]! : f.kind === 'bool' ? '' : f.kind === 'uint' ? 'uint' : 'string';
    const usage = m ? f.usage.replace(/`/g, '') : f.usage;
    if (typeName) line += ` ${typeName}`;
    line += line.length <= 4 ? '\t' : '\n    \t';
    line += usage.replaceAll('\n', '\n    \t');
    out += line + '\n';
  }
  return out;
}

export class FlagSet {
  constructor(
    /** '' for the subcommands' unnamed sets ("Usage:"), 'actool' for the global one. */
    readonly name: string,
    readonly defs: readonly FlagDef[],
  ) {}

  usage(): string {
    return (this.name === '' ? 'Usage:\n' : `Usage of ${this.name}:\n`) + printDefaults(this.defs);
  }

  defaults(): FlagValues {
    const v: FlagValues = {};
    for (const f of this.defs) v[f.name] = f.kind === 'bool' ? false : f.kind === 'uint' ? 0 : '';
    return v;
  }

  parse(argv: readonly string[]): ParseResult {
    const values = this.defaults();
    let args = [...argv];
    const fail = (error: string): ParseResult => ({ ok: false, output: `${error}\n${this.usage()}`, error, help: false });
    while (args.length > 0) {
      const s = args[0]!;
      if (s.length < 2 || s[0] !== '-') break;
      let minuses = 1;
      if (s[1] === '-') {
        minuses = 2;
        if (s.length === 2) {
          args = args.slice(1);
          break;
        }
      }
      let name = s.slice(minuses);
      if (name.length === 0 || name[0] === '-' || name[0] === '=') return fail(`bad flag syntax: ${s}`);
      args = args.slice(1);
      let hasValue = false;
      let value = '';
      const eq = name.indexOf('=');
      if (eq >= 1) {
        value = name.slice(eq + 1);
        hasValue = true;
        name = name.slice(0, eq);
      }
      const def = this.defs.find((d) => d.name === name);
      if (!def) {
        if (name === 'help' || name === 'h') return { ok: false, output: this.usage(), error: 'flag: help requested', help: true };
        return fail(`flag provided but not defined: -${name}`);
      }
      if (def.kind === 'bool') {
        if (hasValue) {
          if (BOOL_TRUE.has(value)) values[name] = true;
          else if (BOOL_FALSE.has(value)) values[name] = false;
          else return fail(`invalid boolean value ${goQuote(value)} for -${name}: parse error`);
        } else values[name] = true;
        continue;
      }
      if (!hasValue && args.length > 0) {
        hasValue = true;
        value = args[0]!;
        args = args.slice(1);
      }
      if (!hasValue) return fail(`flag needs an argument: -${name}`);
      if (def.kind === 'uint') {
        const n = parseGoUint(value);
        if (typeof n === 'string') return fail(`invalid value ${goQuote(value)} for flag -${name}: ${n}`);
        values[name] = n;
      } else values[name] = value;
    }
    return { ok: true, values, args };
  }
}

/** strconv.ParseUint(s, 0, 64) enough for a port flag: decimal, 0x, 0o, 0b, leading-0 octal, '_' separators. */
function parseGoUint(s: string): number | string {
  let t = s;
  let base = 10;
  if (/^0[xX]/.test(t)) (base = 16), (t = t.slice(2));
  else if (/^0[oO]/.test(t)) (base = 8), (t = t.slice(2));
  else if (/^0[bB]/.test(t)) (base = 2), (t = t.slice(2));
  else if (/^0[0-9_]/.test(t)) (base = 8), (t = t.slice(1));
  if (base !== 10 || s.startsWith('0')) t = t.replace(/_/g, '');
  const digits = base === 16 ? /^[0-9a-fA-F]+$/ : base === 8 ? /^[0-7]+$/ : base === 2 ? /^[01]+$/ : /^[0-9]+$/;
  if (!digits.test(t)) return 'parse error';
  const v = BigInt(base === 10 ? t : `0${base === 16 ? 'x' : base === 8 ? 'o' : 'b'}${t}`);
  if (v > 0xffffffffffffffffn) return 'value out of range';
  return Number(v);
}

/** Go's %q for the flag messages (printable ASCII kept, the rest escaped). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0d) out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}
