/**
 * Contribution entry: `rkt.isolator.v1` / `appc`. The appc standard isolators of the shared stage1
 * library (common/isolators.ts) as one Isolator: stage0 checks every pod's isolators with it
 * before the pod exists. Cheap: no host requirements.
 */
import { defineContribution, Isolator } from '@rkt/api';
import { appcIsolator } from './common/isolators.js';

export default defineContribution(Isolator, () => appcIsolator);
