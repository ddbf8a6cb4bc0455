export { APPC_SPEC_VERSION } from './version.js';
