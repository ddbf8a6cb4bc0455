export { NativeStage1, NATIVE_INTERFACE_VERSION, compileSupervisor, compileStatic, type NativeOptions } from './stage1.js';
export { ociConfig, MASKED_PATHS, READONLY_PATHS, type OciInput } from './native/oci.js';
export type { NativeState } from './native/state.js';
