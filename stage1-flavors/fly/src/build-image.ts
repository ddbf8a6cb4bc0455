/** `npm run build-stage1 -w @rkt/stage1-fly -- OUT_DIR`: build stage1-fly.aci into OUT_DIR. */
import { FlyStage1 } from './stage1.js';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: build-image OUT_DIR\n');
  process.exit(2);
}
process.stdout.write((await new FlyStage1().buildImage(out)) + '\n');
