/**
 * Child process for the fault tests: `node --import tsx store-child.ts <mode> <dataDir> <arg>`.
 *   import <aci>        import the file, print the image id
 *   import-hang <aci>   import, but hang (forever) once 1 MiB is written: print PAUSED first
 *   render <id>         render, print the tree id
 *   render-hang <id>    render, but hang before the 20th entry: print PAUSED first
 */
import * as fs from 'node:fs';
import { CasStore } from '../../src/index.js';

const [mode, dataDir, arg] = process.argv.slice(2) as [string, string, string];
const forever = () => new Promise<void>(() => setInterval(() => undefined, 1 << 30));
let entries = 0;
const store = new CasStore(dataDir, {
  hooks: {
    importProgress: async (bytes) => {
      if (mode === 'import-hang' && bytes >= 1 << 20) {
        process.stdout.write('PAUSED\n');
        await forever();
      }
    },
    renderEntry: async () => {
      if (mode === 'render-hang' && ++entries === 20) {
        process.stdout.write('PAUSED\n');
        await forever();
      }
    },
  },
});
if (mode === 'import' || mode === 'import-hang') {
  const info = await store.images.importAci(fs.createReadStream(arg));
  process.stdout.write(`${info.id}\n`);
} else {
  const tree = await store.trees.render(arg);
  process.stdout.write(`${tree.id}\n`);
}
store.close();
