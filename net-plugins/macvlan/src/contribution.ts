/** Contribution entry: `rkt.network.v1` / `macvlan` (settings: `cniPath`, directories searched first). */
import { netContribution } from '@rkt/cni';
import { spec } from './spec.js';

export default netContribution(spec);
