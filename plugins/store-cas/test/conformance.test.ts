import { storeSuite } from '@rkt/testkit';
import { CasStore } from '../src/index.js';

/** Breakouts the cas store resolves inside the tree (chroot semantics) instead of refusing. */
const CLAMPED = [
  'SymlinkAbsolute', 'SymlinkUpAndOut', 'SymlinkMultipleAbsolute', 'SymlinkMultipleRelative', 'SymlinkEmptyFile',
  'SymlinkToHostDir', 'HardlinkRelative', 'HardlinkDownAndOut', 'HardlinkAbsolute', 'HardlinkRelativeLong',
  'HardlinkRelativeUpAndOut', 'SymlinkSlashEnded', 'SymlinkOverrideDirectory', 'SymlinkOverrideDirectoryRelative',
  'DirectoryOverrideSymlink', 'DirectoryOverrideSymlinkAndHardlink', 'TwoArchiveSymlinkPlant', 'TwoArchiveRelativePlant',
  'FileOverHardlinkedName', 'FileOverSymlinkToHost', 'WhiteoutSymlink', 'WhiteoutSymlinkPath',
  'HardlinkSymlinkBeforeCreateTarget', 'HardlinkSymlinkRelative', 'HardlinkSymlinkAbsolute', 'HardlinkSymlinkChmod',
];

// durable: false skips syncfs per render (the fault tests cover the durable path).
storeSuite('cas', (dataDir) => new CasStore(dataDir, { durable: false }), { mustClamp: CLAMPED });
