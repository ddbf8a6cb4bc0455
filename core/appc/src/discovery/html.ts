/**
 * Just enough of an HTML5 tokenizer to find `<meta>` start tags the way the reference
 * (golang.org/x/net/html Tokenizer) does: comments, doctypes and bogus comments are skipped,
 * the contents of raw-text/RCDATA elements (script, style, title, textarea, …) are not markup,
 * tag and attribute names are lower-cased, attribute values may be quoted or unquoted and have
 * character references decoded.
 */

export interface HtmlAttribute {
  key: string;
  val: string;
}
export interface HtmlStartTag {
  name: string;
  attrs: HtmlAttribute[];
  selfClosing: boolean;
}

const RAW_TAGS = new Set(['iframe', 'noembed', 'noframes', 'noscript', 'plaintext', 'script', 'style', 'textarea', 'title', 'xmp']);
const isSpace = (c: string | undefined) => c === ' ' || c === '\n' || c === '\r' || c === '\t' || c === '\f';
const isLetter = (c: string | undefined) => c !== undefined && /^[A-Za-z]$/.test(c);

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** Decode character references in an attribute value (the common named ones and numeric ones). */
export function unescapeAttr(s: string): string {
  return s.replace(/&(#[xX][0-9a-fA-F]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*)(;?)(?=(.?))/gs, (m, ref: string, semi: string, next: string) => {
    if (ref.startsWith('#')) {
      const hex = ref[1] === 'x' || ref[1] === 'X';
      let cp = parseInt(ref.slice(hex ? 2 : 1), hex ? 16 : 10);
      if (!Number.isFinite(cp) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0) cp = 0xfffd;
      return String.fromCodePoint(cp);
    }
    const v = NAMED[ref];
    if (v === undefined) return m;
    // In attributes a reference without ';' followed by an alphanumeric or '=' is left alone.
    if (semi === '' && /^[A-Za-z0-9=]$/.test(next)) return m;
    return v;
  });
}

/** Every start (or self-closing) tag in document order. */
export function* startTags(html: string): Generator<HtmlStartTag> {
  const n = html.length;
  let i = 0;
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt < 0) return;
    i = lt + 1;
    const c = html[i];
    if (c === '!') {
      if (html.startsWith('--', i + 1)) {
        const start = i + 3;
        if (html[start] === '>') {
          i = start + 1;
          continue;
        }
        if (html.startsWith('->', start)) {
          i = start + 2;
          continue;
        }
        let end = html.indexOf('--', start);
        for (;;) {
          if (end < 0) return;
          if (html[end + 2] === '>') {
            i = end + 3;
            break;
          }
          if (html[end + 2] === '!' && html[end + 3] === '>') {
            i = end + 4;
            break;
          }
          end = html.indexOf('--', end + 1);
        }
        continue;
      }
      const gt = html.indexOf('>', i);
      if (gt < 0) return;
      i = gt + 1;
      continue;
    }
    if (c === '?') {
      const gt = html.indexOf('>', i);
      if (gt < 0) return;
      i = gt + 1;
      continue;
    }
    if (c === '/') {
      if (html[i + 1] === '>') {
        i += 2;
        continue;
      }
      const gt = html.indexOf('>', i);
      if (gt < 0) return;
      i = gt + 1;
      continue;
    }
    if (!isLetter(c)) continue; // "<" as text
    // tag name
    let j = i;
    while (j < n && !isSpace(html[j]) && html[j] !== '/' && html[j] !== '>') j++;
    const name = html.slice(i, j).toLowerCase();
    i = j;
    const attrs: HtmlAttribute[] = [];
    let selfClosing = false;
    let closed = false;
    while (i < n) {
      while (i < n && (isSpace(html[i]) || (html[i] === '/' && html[i + 1] !== '>'))) i++;
      if (i >= n) break;
      if (html[i] === '>') {
        i++;
        closed = true;
        break;
      }
      if (html[i] === '/' && html[i + 1] === '>') {
        i += 2;
        selfClosing = true;
        closed = true;
        break;
      }
      // attribute name (a leading '=' belongs to the name)
      let k = i + 1;
      while (k < n && !isSpace(html[k]) && html[k] !== '/' && html[k] !== '>' && html[k] !== '=') k++;
      const key = html.slice(i, k).toLowerCase();
      i = k;
      while (i < n && isSpace(html[i])) i++;
      let val = '';
      if (html[i] === '=') {
        i++;
        while (i < n && isSpace(html[i])) i++;
        const q = html[i];
        if (q === '"' || q === "'") {
          const end = html.indexOf(q, i + 1);
          if (end < 0) return;
          val = html.slice(i + 1, end);
          i = end + 1;
        } else {
          let e = i;
          while (e < n && !isSpace(html[e]) && html[e] !== '>') e++;
          val = html.slice(i, e);
          i = e;
        }
      }
      attrs.push({ key, val: unescapeAttr(val) });
    }
    if (!closed) return;
    yield { name, attrs, selfClosing };
    if (!selfClosing && RAW_TAGS.has(name)) {
      if (name === 'plaintext') return;
      // skip to the matching end tag
      const lower = html.toLowerCase();
      let p = i;
      for (;;) {
        const e = lower.indexOf('</' + name, p);
        if (e < 0) return;
        const after = html[e + 2 + name.length];
        if (after === undefined || isSpace(after) || after === '/' || after === '>') {
          i = e;
          break;
        }
        p = e + 1;
      }
    }
  }
}

export interface AcMeta {
  /** `ac-discovery` or `ac-discovery-pubkeys` (any name starting with `ac-` is kept). */
  name: string;
  prefix: string;
  uri: string;
}

/** The `ac-*` meta tags of a discovery page: content is "PREFIX URI" (split at the first space). */
export function extractAcMeta(html: string): AcMeta[] {
  const out: AcMeta[] = [];
  for (const tag of startTags(html)) {
    if (tag.name !== 'meta') continue;
    const m: AcMeta = { name: '', prefix: '', uri: '' };
    for (const a of tag.attrs) {
      if (a.key === 'name') m.name = a.val;
      else if (a.key === 'content') {
        const content = goTrim(a.val);
        const sp = content.indexOf(' ');
        if (sp < 0) continue;
        m.prefix = content.slice(0, sp);
        m.uri = goTrim(content.slice(sp + 1));
      }
    }
    if (!m.name.startsWith('ac-') || m.prefix === '' || m.uri === '') continue;
    out.push(m);
  }
  return out;
}

function goTrim(s: string): string {
  return s.replace(/^[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+|[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+$/g, '');
}
