/**
 * Contribution entry: `rkt.stage1.v1` / `nspawn`. Init only checks what the flavor runs on the host
 * (systemd-nspawn from systemd-container, util-linux nsenter/umount) and root; it reports the
 * flavor as skipped, with the reason, where systemd-nspawn is missing.
 */
import { defineContribution, Stage1 } from '@rkt/api';
import { NspawnStage1, type NspawnOptions } from './stage1.js';

export default defineContribution(Stage1, (ctx) => {
  if (!ctx.which('systemd-nspawn')) {
    throw ctx.api.skipPlugin('the nspawn stage1 needs "systemd-nspawn" on PATH (Debian: systemd-container)');
  }
  for (const bin of ['nsenter', 'umount']) {
    if (!ctx.which(bin)) throw ctx.api.skipPlugin(`the nspawn stage1 needs "${bin}" on PATH`);
  }
  if (process.getuid?.() !== 0) throw ctx.api.skipPlugin('the nspawn stage1 needs root');
  const opts: NspawnOptions = {};
  if (typeof ctx.config.cc === 'string' && ctx.config.cc) opts.cc = ctx.config.cc;
  return new NspawnStage1(opts);
});
