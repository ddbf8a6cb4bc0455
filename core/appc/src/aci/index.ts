export * from './compression.js';
export * from './scan.js';
