/**
 * rkt.store.v1 contribution `cas`. init only builds the object: the data dir, the index and the
 * stale-temp sweep happen on first use (init also runs for `rkt plugins` listings).
 */
import { defineContribution, Store } from '@rkt/api';
import { CasStore } from './store.js';

export default defineContribution(Store, (ctx) => new CasStore(ctx.paths.dataDir));
