/**
 * Contribution entry: `rkt.stage1.v1` / `fly`. Init only checks the host tools the flavor runs
 * (util-linux unshare/nsenter/setpriv/mount, coreutils env) and root.
 */
import { defineContribution, Stage1 } from '@rkt/api';
import { FlyStage1 } from './stage1.js';

export default defineContribution(Stage1, (ctx) => {
  for (const bin of ['unshare', 'nsenter', 'setpriv', 'env', 'mount', 'umount']) {
    if (!ctx.which(bin)) throw ctx.api.skipPlugin(`the fly stage1 needs "${bin}" on PATH`);
  }
  if (process.getuid?.() !== 0) throw ctx.api.skipPlugin('the fly stage1 needs root');
  return new FlyStage1();
});
