export * from './conf.js';
export * from './result.js';
export * from './invoke.js';
export * from './ipmasq.js';
export * from './network.js';
