export * from './compression.js';
export * from './scan.js';
export * from './build.js';
export { encodeHeader, padding, roundSeconds, type EntryType, type TarEntry } from './tar-header.js';
export { readTreeXattrs, parseGetfattr, DEFAULT_XATTR_FILTER, type XattrMap, type XattrReadResult } from './xattrs.js';
export { makeSink, type Sink } from './sink.js';
export { RawTarReader, cleanName, type RawEntry } from './rawtar.js';
export * from './manifest-entry.js';
export { checkAciFile, type AciCheck } from './check.js';
