/**
 * RKT_TIMING=1: `rkt-timing <unix ms> <pid> <label>` lines on stderr at the phases of a pod's run
 * (process start, prepare, set-up for run, stage1 spawned/exited, process exit), to see where the
 * time goes (bench/run.bench.mjs). The stage1 library writes the same lines for its entrypoints.
 * Off (one env lookup) otherwise.
 */
const enabled = Boolean(process.env.RKT_TIMING);
let started = false;

function line(ms: number, label: string): void {
  process.stderr.write(`rkt-timing ${ms.toFixed(1)} ${process.pid} ${label}\n`);
}

export function mark(label: string): void {
  if (!enabled) return;
  if (!started) {
    started = true;
    line(performance.timeOrigin, 'stage0: process start');
    process.once('exit', () => line(performance.timeOrigin + performance.now(), 'stage0: exit'));
  }
  line(performance.timeOrigin + performance.now(), label);
}
