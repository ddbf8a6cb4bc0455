/** nspawn `run` entrypoint, step 1 (node): the preparation in `run-prepare.ts`, as its own process. */
import { main } from '@rkt/stage1-native/common';
import { prepare } from './run-prepare.js';

await main(() => prepare(process.argv.slice(2), process.cwd()));
