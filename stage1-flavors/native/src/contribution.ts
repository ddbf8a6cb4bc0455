/**
 * Contribution entry: `rkt.stage1.v1` / `native`. Init is cheap: it only checks that the host has
 * what the flavor needs (an OCI runtime, util-linux, a C compiler for building the image) and
 * builds the object. Settings (`plugins["rkt.stage1.v1.native"]`): `runtime` (`runc` | `crun`),
 * `cc` (C compiler).
 */
import { defineContribution, Stage1 } from '@rkt/api';
import { NativeStage1, type NativeOptions } from './stage1.js';

export default defineContribution(Stage1, (ctx) => {
  const runtime = ctx.config.runtime;
  if (runtime !== undefined && runtime !== 'runc' && runtime !== 'crun') {
    throw ctx.api.invalidArgument(`plugins["rkt.stage1.v1.native"].runtime must be "runc" or "crun"`);
  }
  const opts: NativeOptions = {};
  if (runtime) opts.runtime = runtime;
  if (typeof ctx.config.cc === 'string' && ctx.config.cc) opts.cc = ctx.config.cc;
  for (const bin of [opts.runtime ?? 'runc', 'unshare', 'nsenter', 'umount']) {
    if (!ctx.which(bin)) throw ctx.api.skipPlugin(`the native stage1 needs "${bin}" on PATH`);
  }
  if (process.getuid?.() !== 0) throw ctx.api.skipPlugin('the native stage1 needs root');
  return new NativeStage1(opts);
});
