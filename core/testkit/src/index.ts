export {};
export * from './test-ca.js';
export * from './https-server.js';
export * from './store-suite.js';
export * from './fetcher-suite.js';
export * from './gpg.js';
export * from './stage1-suite.js';
export * from './network-suite.js';
