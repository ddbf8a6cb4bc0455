/** `npm run build-stage1 -w @rkt/stage1-nspawn -- OUT_DIR`: build stage1-nspawn.aci into OUT_DIR. */
import { NspawnStage1 } from './stage1.js';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: build-image OUT_DIR\n');
  process.exit(2);
}
process.stdout.write((await new NspawnStage1().buildImage(out)) + '\n');
