/**
 * Adapter from the fetcher's `Discover` to appc discovery in @rkt/appc.
 */
import { unavailable } from '@rkt/api';
import type { Discover } from './fetcher.js';

export const appcDiscover: Discover = async ({ name }) => {
  throw unavailable(`cannot discover ${name}: appc discovery is not available yet`);
};
