// `rkt version` and `rkt help` against the node floor (`node -e 0`).
// Goal (issue 2): rkt version ≤ node floor + 25 ms.
import { compare, report, rktBin } from './lib.mjs';

export default function startup({ rounds = 20 } = {}) {
  const node = process.execPath;
  const results = compare(
    [
      { name: 'node -e 0', argv: [node, '-e', '0'] },
      { name: 'rkt version', argv: [node, rktBin, 'version'] },
      { name: 'rkt help', argv: [node, rktBin, 'help'] },
    ],
    { rounds },
  );
  const floor = results['node -e 0'].median;
  const v = results['rkt version'].median;
  const h = results['rkt help'].median;
  return report('startup', results, [
    `rkt version: ${(v / floor).toFixed(2)}× node floor, +${(v - floor).toFixed(1)} ms (goal ≤ +25 ms: ${v - floor <= 25 ? 'met' : 'NOT met'})`,
    `rkt help: ${(h / floor).toFixed(2)}× node floor, +${(h - floor).toFixed(1)} ms`,
  ]);
}
