/**
 * Serialise manifests the way the reference (Go encoding/json) does: canonical key names in
 * struct order, its omitempty choices (`exec`, pod `volumes`/`isolators`/`annotations`/`ports`
 * are written as `null` when absent), HTML-safe string escaping, compact or 4-space indented.
 */
import type { App, ImageManifest, PodManifest, Port, Volume } from '@rkt/api';

type GoVal = null | boolean | number | string | GoVal[] | { readonly ordered: ReadonlyArray<readonly [string, GoVal]> } | { readonly plain: unknown };

const obj = (entries: Array<[string, GoVal | undefined]>): GoVal => ({
  ordered: entries.filter((e): e is [string, GoVal] => e[1] !== undefined),
});
const list = <T>(xs: readonly T[] | undefined, f: (x: T) => GoVal): GoVal | undefined => (xs === undefined ? undefined : xs.map(f));
const nonEmpty = <T>(xs: readonly T[] | undefined): readonly T[] | undefined => (xs && xs.length > 0 ? xs : undefined);
const nameValue = (x: { name: string; value: string }): GoVal => obj([['name', x.name], ['value', x.value]]);
const strMap = (m: Record<string, string> | undefined): GoVal | undefined =>
  m && Object.keys(m).length > 0 ? { plain: Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]])) } : undefined;

function portVal(p: Port): GoVal {
  return obj([
    ['name', p.name],
    ['protocol', p.protocol],
    ['port', p.port],
    ['count', p.count ?? 0],
    ['socketActivated', p.socketActivated ?? false],
  ]);
}

function volumeVal(v: Volume): GoVal {
  return obj([
    ['name', v.name],
    ['kind', v.kind],
    ['source', v.source ? v.source : undefined],
    ['readOnly', v.readOnly],
    ['recursive', v.recursive],
    ['mode', v.mode],
    ['uid', v.uid],
    ['gid', v.gid],
  ]);
}

function appVal(a: App): GoVal {
  return obj([
    ['exec', a.exec ? a.exec : null],
    ['eventHandlers', list(nonEmpty(a.eventHandlers), (h) => obj([['name', h.name], ['exec', h.exec ?? null]]))],
    ['user', a.user],
    ['group', a.group],
    ['supplementaryGIDs', list(nonEmpty(a.supplementaryGIDs), (g) => g)],
    ['workingDirectory', a.workingDirectory ? a.workingDirectory : undefined],
    ['environment', list(nonEmpty(a.environment), nameValue)],
    [
      'mountPoints',
      list(nonEmpty(a.mountPoints), (m) => obj([['name', m.name], ['path', m.path], ['readOnly', m.readOnly ? true : undefined]])),
    ],
    ['ports', list(nonEmpty(a.ports), portVal)],
    ['isolators', list(nonEmpty(a.isolators), (i) => obj([['name', i.name], ['value', { plain: i.value ?? null }]]))],
    ['userAnnotations', strMap(a.userAnnotations)],
    ['userLabels', strMap(a.userLabels)],
  ]);
}

function imageVal(m: ImageManifest): GoVal {
  return obj([
    ['acKind', m.acKind],
    ['acVersion', m.acVersion],
    ['name', m.name],
    ['labels', list(nonEmpty(m.labels), nameValue)],
    ['app', m.app ? appVal(m.app) : undefined],
    ['annotations', list(nonEmpty(m.annotations), nameValue)],
    [
      'dependencies',
      list(nonEmpty(m.dependencies), (d) =>
        obj([
          ['imageName', d.imageName],
          ['imageID', d.imageID ? d.imageID : undefined],
          ['labels', list(nonEmpty(d.labels), nameValue)],
          ['size', d.size ? d.size : undefined],
        ]),
      ),
    ],
    ['pathWhitelist', list(nonEmpty(m.pathWhitelist), (p) => p)],
  ]);
}

function podVal(m: PodManifest): GoVal {
  return obj([
    ['acVersion', m.acVersion],
    ['acKind', m.acKind],
    [
      'apps',
      list(m.apps, (a) =>
        obj([
          ['name', a.name],
          [
            'image',
            obj([
              ['name', a.image.name !== undefined ? a.image.name : undefined],
              ['id', a.image.id],
              ['labels', list(nonEmpty(a.image.labels), nameValue)],
            ]),
          ],
          ['app', a.app ? appVal(a.app) : undefined],
          ['readOnlyRootFS', a.readOnlyRootFS ? true : undefined],
          [
            'mounts',
            list(nonEmpty(a.mounts), (mt) =>
              obj([['volume', mt.volume], ['path', mt.path], ['appVolume', mt.appVolume ? volumeVal(mt.appVolume) : undefined]]),
            ),
          ],
          ['annotations', list(nonEmpty(a.annotations), nameValue)],
        ]),
      ) ?? null,
    ],
    ['volumes', list(m.volumes, volumeVal) ?? null],
    ['isolators', list(m.isolators, (i) => obj([['name', i.name], ['value', { plain: i.value ?? null }]])) ?? null],
    ['annotations', list(m.annotations, nameValue) ?? null],
    [
      'ports',
      list(m.ports, (p) =>
        obj([
          ['name', p.name],
          ['hostPort', p.hostPort],
          ['hostIP', p.hostIP ? p.hostIP : undefined],
          ['podPort', p.podPort ? portVal(p.podPort) : undefined],
        ]),
      ) ?? null,
    ],
    ['userAnnotations', strMap(m.userAnnotations)],
    ['userLabels', strMap(m.userLabels)],
  ]);
}

/** Go's encoding/json string quoting (HTML-safe, U+2028/2029 escaped, lone surrogates → U+FFFD). */
export function goQuote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const c2 = s.charCodeAt(i + 1);
      if (c2 >= 0xdc00 && c2 <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) out += '\ufffd';
    else if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029)
      out += '\\u' + c.toString(16).padStart(4, '0');
    else out += s[i]!;
  }
  return out + '"';
}

function plainToGo(v: unknown): GoVal {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plainToGo);
  if (typeof v === 'object') return obj(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, plainToGo(x)]));
  return null;
}

function write(v: GoVal, indent: string, level: number): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v).toString() : String(v);
  if (typeof v === 'string') return goQuote(v);
  const nl = indent ? '\n' + indent.repeat(level + 1) : '';
  const end = indent ? '\n' + indent.repeat(level) : '';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return '[' + nl + v.map((x) => write(x, indent, level + 1)).join(',' + nl) + end + ']';
  }
  if ('plain' in v) return write(plainToGo(v.plain), indent, level);
  if (v.ordered.length === 0) return '{}';
  const sep = indent ? ': ' : ':';
  return '{' + nl + v.ordered.map(([k, x]) => goQuote(k) + sep + write(x, indent, level + 1)).join(',' + nl) + end + '}';
}

export interface SerializeOptions {
  /** Indent with 4 spaces like `actool cat-manifest --pretty-print` (MarshalIndent "", "    "). */
  pretty?: boolean;
}

/** Image manifest as the reference marshals it (does not validate; see validateImageManifest). */
export function imageManifestToJson(m: ImageManifest, options: SerializeOptions = {}): string {
  return write(imageVal(m), options.pretty ? '    ' : '', 0);
}

/** Pod manifest as the reference marshals it. */
export function podManifestToJson(m: PodManifest, options: SerializeOptions = {}): string {
  return write(podVal(m), options.pretty ? '    ' : '', 0);
}
