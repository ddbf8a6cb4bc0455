/** Layout of the shared control buffer between `offThreadHasher` and its worker (hash-worker.ts). */
export const PRODUCED = 0;
export const CONSUMED = 1;
export const ENDED = 2;
export const CTL_WORDS = 3;
