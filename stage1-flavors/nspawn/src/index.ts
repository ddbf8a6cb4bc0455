export { NspawnStage1, NSPAWN_INTERFACE_VERSION, type NspawnOptions } from './stage1.js';
export { nspawnArgv, NSPAWN_DEFAULT_CAPS, HELPER_CAPS, containerCaps, escapeBindPath, type NspawnArgvInput } from './nspawn/argv.js';
