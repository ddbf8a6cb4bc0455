export {};
export * from './store-suite.js';
