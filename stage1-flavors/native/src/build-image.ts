/** `npm run build-stage1 -w @rkt/stage1-native -- OUT_DIR`: build stage1-native.aci into OUT_DIR. */
import { NativeStage1 } from './stage1.js';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: build-image OUT_DIR\n');
  process.exit(2);
}
const runtime = process.env.RKT_STAGE1_NATIVE_RUNTIME;
const file = await new NativeStage1(runtime === 'crun' || runtime === 'runc' ? { runtime } : {}).buildImage(out);
process.stdout.write(file + '\n');
