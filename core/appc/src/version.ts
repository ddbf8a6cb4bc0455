export const APPC_SPEC_VERSION = "0.8.11";
