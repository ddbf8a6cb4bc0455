export { APPC_SPEC_VERSION } from './version.js';
export * from './schema/index.js';
export * from './discovery/index.js';
export * from './aci/index.js';
