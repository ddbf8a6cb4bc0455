import { Flags } from '@oclif/core';
import { RktCommand } from '../../base-command.js';

export default class Plugins extends RktCommand {
  static override description =
    'List installed plugins and what each contributes, with its state on this host\n\n' +
    'Every contribution is activated to find out whether it works here: ok, skipped (it does not apply on this host, with the reason) or error (it is broken, with the reason). Use "plugins install" to add a third-party plugin.';
  static override examples = ['<%= config.bin %> plugins', '<%= config.bin %> plugins --json'];
  static override flags = {
    json: Flags.boolean({ description: 'print the list as JSON', default: false }),
    core: Flags.boolean({ description: 'also list oclif plugins that contribute nothing', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Plugins);
    const engine = await this.engine(flags);
    await engine.host.activateAll();
    const byPlugin = new Map<string, { name: string; version: string; type: string; contributions: unknown[] }>();
    for (const p of this.pluginSources()) byPlugin.set(p.name, { name: p.name, version: p.version, type: p.type, contributions: [] });
    for (const r of engine.host.records) {
      const status = r.status.state === 'inactive' ? { state: 'ok' } : r.status;
      byPlugin.get(r.plugin.name)!.contributions.push({
        point: r.decl.point,
        id: r.decl.id,
        state: status.state,
        ...('reason' in status ? { reason: status.reason } : {}),
      });
    }
    const list = [...byPlugin.values()].filter((p) => flags.core || p.contributions.length > 0 || p.type === 'user' || p.type === 'link');
    if (flags.json) {
      process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      return;
    }
    const rows: string[][] = [['PLUGIN', 'VERSION', 'TYPE', 'POINT', 'ID', 'STATE', 'REASON']];
    for (const p of list) {
      if (p.contributions.length === 0) rows.push([p.name, p.version, p.type, '-', '-', '-', '']);
      for (const c of p.contributions as { point: string; id: string; state: string; reason?: string }[])
        rows.push([p.name, p.version, p.type, c.point, c.id, c.state, c.reason ?? '']);
    }
    process.stdout.write(rows.map((r) => r.join('\t')).join('\n') + '\n');
  }
}
