import { Flags } from '@oclif/core';
import { RktCommand } from '../../base-command.js';

const FIELDS = ['id', 'name', 'size', 'importtime', 'lastused'] as const;
const HEADERS: Record<(typeof FIELDS)[number], string> = {
  id: 'ID',
  name: 'NAME',
  size: 'SIZE',
  importtime: 'IMPORT TIME',
  lastused: 'LAST USED',
};

export default class ImageList extends RktCommand {
  static override description = 'List images in the local store';
  static override examples = ['<%= config.bin %> image list', '<%= config.bin %> image list --fields=id,name --no-legend', '<%= config.bin %> image list --format=json'];
  static override flags = {
    fields: Flags.string({ description: `comma-separated list of fields to display (${FIELDS.join(', ')})`, default: FIELDS.join(',') }),
    sort: Flags.string({ description: 'sort the output by a field (name, importtime, lastused, size)', default: 'importtime' }),
    order: Flags.string({ description: 'choose the sorting order', options: ['asc', 'desc'], default: 'asc' }),
    full: Flags.boolean({ description: 'use long output format', default: false }),
    'no-legend': Flags.boolean({ description: 'suppress a legend with the list', default: false }),
    format: Flags.string({ description: 'choose the output format', options: ['json', 'json-pretty'] }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ImageList);
    const fields = flags.fields.split(',').map((f) => f.trim().toLowerCase());
    for (const f of fields)
      if (!(FIELDS as readonly string[]).includes(f)) this.error(`unknown field ${JSON.stringify(f)} in --fields (allowed: ${FIELDS.join(', ')})`, { exit: 254 });
    const sortKey = flags.sort.toLowerCase();
    if (!['name', 'importtime', 'lastused', 'size'].includes(sortKey))
      this.error(`unknown field ${JSON.stringify(flags.sort)} in --sort (allowed: name, importtime, lastused, size)`, { exit: 254 });
    const engine = await this.engine(flags);
    const { Store } = await import('@rkt/api');
    const { ibytes, relativeTime, fullTime, tabwrite, goJson } = await import('../../runtime/format.js');
    const store = await engine.host.activateDefault(Store);
    const images = (await store.images.list()).map((i) => {
      const version = i.labels.find((l) => l.name === 'version')?.value;
      return { ...i, displayName: version ? `${i.name}:${version}` : i.name, total: i.size + i.treeSize };
    });
    const key = (i: (typeof images)[number]): string | number =>
      sortKey === 'name' ? i.displayName : sortKey === 'size' ? i.total : sortKey === 'lastused' ? i.lastUsed.getTime() : i.importTime.getTime();
    images.sort((a, b) => {
      const x = key(a);
      const y = key(b);
      const c = x < y ? -1 : x > y ? 1 : 0;
      return flags.order === 'desc' ? -c : c;
    });
    if (flags.format) {
      const ns = (d: Date) => d.getTime() * 1e6;
      const json = images.map((i) => ({ id: i.id, name: i.displayName, import_time: ns(i.importTime), last_used_time: ns(i.lastUsed), size: i.total }));
      process.stdout.write(goJson(json, flags.format === 'json-pretty' ? '\t' : undefined) + '\n');
      return;
    }
    const cell = (i: (typeof images)[number], f: string): string => {
      switch (f) {
        case 'id':
          return flags.full ? i.id : i.id.slice(0, 'sha512-'.length + 12);
        case 'name':
          return i.displayName;
        case 'size':
          return flags.full ? String(i.total) : ibytes(i.total);
        case 'importtime':
          return flags.full ? fullTime(i.importTime) : relativeTime(i.importTime);
        default:
          return flags.full ? fullTime(i.lastUsed) : relativeTime(i.lastUsed);
      }
    };
    const rows: string[][] = [];
    if (!flags['no-legend']) rows.push(fields.map((f) => HEADERS[f as (typeof FIELDS)[number]]));
    for (const i of images) rows.push(fields.map((f) => cell(i, f)));
    process.stdout.write(tabwrite(rows));
  }
}
