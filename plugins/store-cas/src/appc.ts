/** The ACI library and manifest schema this store builds on (owned by @rkt/appc). */
export { decompress, scanAci, parseImageManifest } from '@rkt/appc';
