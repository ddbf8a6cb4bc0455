export * from './errors.js';
export * from './tokens.js';
export * from './appc.js';
export * from './points.js';
export * from './contributions.js';
