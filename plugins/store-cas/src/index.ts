export { CasStore, openCasStore } from './store.js';
export type { CasStoreOptions, StoreHooks } from './store.js';
export { CasImageStore } from './image-store.js';
export { CasTreeStore } from './tree-store.js';
export { TreeWriter, cleanComponents } from './extract.js';
export type { LayerOptions, WriterStats } from './extract.js';
