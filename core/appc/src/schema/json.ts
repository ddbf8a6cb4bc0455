/**
 * A JSON reader that keeps what Go's encoding/json sees and a plain JSON.parse loses:
 * duplicate object keys (in order), the source text of numbers and of string contents.
 *
 * The accepted grammar is the one of Go 1.19's scanner (RFC 8259, no BOM, nesting depth at most
 * 10000, only space/tab/CR/LF as whitespace). The parser is iterative, so deep nesting never
 * overflows the JS stack.
 */

export type JNode =
  | { readonly t: 'object'; readonly entries: ReadonlyArray<readonly [string, JNode]> }
  | { readonly t: 'array'; readonly items: readonly JNode[] }
  /** `raw` is the text between the quotes, escapes not decoded (Go hands it to some Unmarshalers). */
  | { readonly t: 'string'; readonly value: string; readonly raw: string }
  | { readonly t: 'number'; readonly raw: string }
  | { readonly t: 'bool'; readonly value: boolean }
  | { readonly t: 'null' };

export const MAX_NESTING_DEPTH = 10000;

export class JsonSyntaxError extends Error {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  constructor(message: string, text: string, offset: number) {
    let line = 1;
    let col = 1;
    for (let i = 0; i < offset && i < text.length; i++) {
      if (text.charCodeAt(i) === 10) {
        line++;
        col = 1;
      } else col++;
    }
    super(`${message} (line ${line}, column ${col})`);
    this.name = 'JsonSyntaxError';
    this.offset = offset;
    this.line = line;
    this.column = col;
  }
}

/** Bytes are decoded as UTF-8 with U+FFFD for invalid sequences (as Go does); a BOM is kept (and rejected). */
export function textOf(input: string | Uint8Array): string {
  if (typeof input === 'string') return input;
  return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(input);
}

interface Frame {
  kind: 'object' | 'array';
  entries?: Array<[string, JNode]>;
  items?: JNode[];
  pendingKey?: string;
}

const isWs = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

function describe(text: string, i: number): string {
  if (i >= text.length) return 'unexpected end of JSON input';
  const ch = text[i]!;
  const shown = ch === "'" ? "'\\''" : `'${ch}'`;
  return `invalid character ${shown}`;
}

/** Parse JSON text. Throws JsonSyntaxError on anything Go's json.Unmarshal would refuse as syntax. */
export function parseJson(input: string | Uint8Array): JNode {
  const text = textOf(input);
  const n = text.length;
  let i = 0;
  const stack: Frame[] = [];
  let result: JNode | undefined;

  const skipWs = () => {
    while (i < n && isWs(text.charCodeAt(i))) i++;
  };
  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${describe(text, i)} ${what}`.trim(), text, i);
  };
  const failEnd = (): never => {
    throw new JsonSyntaxError('unexpected end of JSON input', text, i);
  };

  const readString = (): { value: string; raw: string } => {
    // text[i] === '"'
    const start = ++i;
    let out = '';
    let segStart = i;
    for (;;) {
      if (i >= n) failEnd();
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(segStart, i);
        const raw = text.slice(start, i);
        i++;
        return { value: out, raw };
      }
      if (c < 0x20) fail('in string literal');
      if (c === 0x5c) {
        out += text.slice(segStart, i);
        i++;
        if (i >= n) failEnd();
        const e = text[i]!;
        switch (e) {
          case '"':
            out += '"';
            break;
          case '\\':
            out += '\\';
            break;
          case '/':
            out += '/';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            let code = 0;
            for (let k = 1; k <= 4; k++) {
              if (i + k >= n) {
                i += k;
                failEnd();
              }
              const h = text.charCodeAt(i + k);
              const v = h >= 0x30 && h <= 0x39 ? h - 0x30 : h >= 0x61 && h <= 0x66 ? h - 87 : h >= 0x41 && h <= 0x46 ? h - 55 : -1;
              if (v < 0) {
                i += k;
                fail('in \\u hexadecimal character escape');
              }
              code = code * 16 + v;
            }
            i += 4;
            out += String.fromCharCode(code);
            break;
          }
          default:
            fail('in string escape code');
        }
        i++;
        segStart = i;
        continue;
      }
      i++;
    }
  };

  const readNumber = (): string => {
    const start = i;
    if (text[i] === '-') i++;
    if (i >= n) failEnd();
    if (text[i] === '0') i++;
    else if (isDigit(text.charCodeAt(i))) while (i < n && isDigit(text.charCodeAt(i))) i++;
    else fail('in numeric literal');
    if (text[i] === '.') {
      i++;
      if (i >= n) failEnd();
      if (!isDigit(text.charCodeAt(i))) fail('after decimal point in numeric literal');
      while (i < n && isDigit(text.charCodeAt(i))) i++;
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (i >= n) failEnd();
      if (!isDigit(text.charCodeAt(i))) fail('in exponent of numeric literal');
      while (i < n && isDigit(text.charCodeAt(i))) i++;
    }
    return text.slice(start, i);
  };

  const readWord = (word: string) => {
    for (let k = 0; k < word.length; k++) {
      if (i >= n) failEnd();
      if (text[i] !== word[k]) fail(`in literal ${word} (expecting '${word[k]}')`);
      i++;
    }
  };

  /** Hand a finished value to the enclosing container (or make it the result). */
  const emit = (v: JNode) => {
    const top = stack[stack.length - 1];
    if (!top) {
      result = v;
      return;
    }
    if (top.kind === 'array') top.items!.push(v);
    else top.entries!.push([top.pendingKey!, v]);
  };

  // States: expecting a value; after a value inside a container.
  let expectValue = true;
  for (;;) {
    skipWs();
    if (expectValue) {
      if (i >= n) failEnd();
      const c = text[i]!;
      if (c === '{' || c === '[') {
        if (stack.length >= MAX_NESTING_DEPTH) throw new JsonSyntaxError('exceeded max depth', text, i);
        i++;
        skipWs();
        if (c === '{') {
          const frame: Frame = { kind: 'object', entries: [] };
          stack.push(frame);
          if (text[i] === '}') {
            i++;
            stack.pop();
            emit({ t: 'object', entries: frame.entries! });
            expectValue = false;
            if (stack.length === 0) break;
            continue;
          }
          if (i >= n) failEnd();
          if (text[i] !== '"') fail('looking for beginning of object key string');
          frame.pendingKey = readString().value;
          skipWs();
          if (i >= n) failEnd();
          if (text[i] !== ':') fail('after object key');
          i++;
          continue; // expect value
        }
        const frame: Frame = { kind: 'array', items: [] };
        stack.push(frame);
        if (text[i] === ']') {
          i++;
          stack.pop();
          emit({ t: 'array', items: frame.items! });
          expectValue = false;
          if (stack.length === 0) break;
          continue;
        }
        continue;
      }
      if (c === '"') {
        const s = readString();
        emit({ t: 'string', value: s.value, raw: s.raw });
      } else if (c === '-' || isDigit(text.charCodeAt(i))) {
        emit({ t: 'number', raw: readNumber() });
      } else if (c === 't') {
        readWord('true');
        emit({ t: 'bool', value: true });
      } else if (c === 'f') {
        readWord('false');
        emit({ t: 'bool', value: false });
      } else if (c === 'n') {
        readWord('null');
        emit({ t: 'null' });
      } else fail('looking for beginning of value');
      expectValue = false;
      if (stack.length === 0) break;
      continue;
    }
    // after a value inside a container
    const top = stack[stack.length - 1]!;
    if (i >= n) failEnd();
    const c = text[i]!;
    if (top.kind === 'array') {
      if (c === ',') {
        i++;
        expectValue = true;
        continue;
      }
      if (c === ']') {
        i++;
        stack.pop();
        emit({ t: 'array', items: top.items! });
        if (stack.length === 0) break;
        continue;
      }
      fail('after array element');
    } else {
      if (c === ',') {
        i++;
        skipWs();
        if (i >= n) failEnd();
        if (text[i] !== '"') fail('looking for beginning of object key string');
        top.pendingKey = readString().value;
        skipWs();
        if (i >= n) failEnd();
        if (text[i] !== ':') fail('after object key');
        i++;
        expectValue = true;
        continue;
      }
      if (c === '}') {
        i++;
        stack.pop();
        emit({ t: 'object', entries: top.entries! });
        if (stack.length === 0) break;
        continue;
      }
      fail('after object key:value pair');
    }
  }
  skipWs();
  if (i < n) fail('after top-level value');
  return result!;
}

/** Convert a node to a plain JS value (last duplicate key wins, numbers as JS numbers). */
export function toPlain(node: JNode): unknown {
  // Iterative to survive deep nesting.
  type Work = { node: JNode; set: (v: unknown) => void };
  let out: unknown;
  const work: Work[] = [{ node, set: (v) => (out = v) }];
  while (work.length > 0) {
    const { node: nd, set } = work.pop()!;
    switch (nd.t) {
      case 'object': {
        const o: Record<string, unknown> = {};
        set(o);
        // Define keys first so that insertion order follows the document (work runs in reverse).
        for (const [k] of nd.entries) {
          if (!Object.prototype.hasOwnProperty.call(o, k))
            Object.defineProperty(o, k, { value: null, enumerable: true, writable: true, configurable: true });
        }
        const last = new Map<string, JNode>();
        for (const [k, v] of nd.entries) last.set(k, v);
        for (const [k, v] of last) {
          work.push({
            node: v,
            set: (x) => {
              Object.defineProperty(o, k, { value: x, enumerable: true, writable: true, configurable: true });
            },
          });
        }
        break;
      }
      case 'array': {
        const a: unknown[] = new Array(nd.items.length);
        set(a);
        nd.items.forEach((it, idx) => work.push({ node: it, set: (x) => (a[idx] = x) }));
        break;
      }
      case 'string':
        set(nd.value);
        break;
      case 'number':
        set(Number(nd.raw));
        break;
      case 'bool':
        set(nd.value);
        break;
      case 'null':
        set(null);
        break;
    }
  }
  return out;
}

/**
 * Convert a plain JS value to a node (for callers that pass already-parsed objects).
 * Non-JSON values (undefined, functions, symbols, bigint, NaN) become a `{t:'invalid'}`-like
 * string marker the decoders reject, so odd input never crashes.
 */
export function fromPlain(value: unknown): JNode {
  type Work = { v: unknown; set: (n: JNode) => void; depth: number };
  let out: JNode = { t: 'null' };
  const work: Work[] = [{ v: value, set: (x) => (out = x), depth: 0 }];
  while (work.length > 0) {
    const { v, set, depth } = work.pop()!;
    if (depth > MAX_NESTING_DEPTH) throw new TypeError('exceeded max depth (or cyclic structure)');
    if (v === null) set({ t: 'null' });
    else if (typeof v === 'string') set({ t: 'string', value: v, raw: JSON.stringify(v).slice(1, -1) });
    else if (typeof v === 'boolean') set({ t: 'bool', value: v });
    else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new TypeError(`number ${v} is not representable in JSON`);
      set({ t: 'number', raw: Object.is(v, -0) ? '-0' : String(v) });
    } else if (typeof v === 'bigint') set({ t: 'number', raw: v.toString() });
    else if (Array.isArray(v)) {
      const items: JNode[] = new Array(v.length);
      set({ t: 'array', items });
      v.forEach((x, idx) => work.push({ v: x === undefined ? null : x, set: (nd) => (items[idx] = nd), depth: depth + 1 }));
    } else if (typeof v === 'object') {
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
        work.push({ v: (v as { toJSON: () => unknown }).toJSON(), set, depth });
        continue;
      }
      const entries: Array<[string, JNode]> = [];
      set({ t: 'object', entries });
      const keys = Object.keys(v as object).filter((k) => {
        const x = (v as Record<string, unknown>)[k];
        return x !== undefined && typeof x !== 'function' && typeof x !== 'symbol';
      });
      const slots: JNode[] = new Array(keys.length);
      keys.forEach((k, idx) => {
        entries.push([k, { t: 'null' }]);
        work.push({
          v: (v as Record<string, unknown>)[k],
          set: (nd) => {
            slots[idx] = nd;
            entries[idx] = [k, nd];
          },
          depth: depth + 1,
        });
      });
    } else throw new TypeError(`value of type ${typeof v} is not JSON`);
  }
  return out;
}
