export {};
export * from './test-ca.js';
export * from './https-server.js';
export * from './store-suite.js';
