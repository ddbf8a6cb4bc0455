/**
 * tsyringe and the Reflect metadata polyfill it needs, loaded with `require`. Importing these
 * CommonJS packages from ESM makes Node scan their sources (and every module they re-export) for
 * export names first: ~20 ms of every command that boots the engine (measured:
 * `import 'reflect-metadata'` 84 ms vs 71 ms through require, node alone 62 ms). The rest of the
 * CLI imports tsyringe from here.
 */
import { createRequire } from 'node:module';
import type * as Tsyringe from 'tsyringe';

const require = createRequire(import.meta.url);
require('reflect-metadata');
const tsyringe = require('tsyringe') as typeof Tsyringe;

export const { container, inject, injectable } = tsyringe;
export type { DependencyContainer } from 'tsyringe';
