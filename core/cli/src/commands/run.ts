import { RktCommand } from '../base-command.js';
import { appFlags, prepareFlags, runOnlyFlags } from '../runtime/pods/flag-defs.js';

export default class Run extends RktCommand {
  static override description =
    'Run image(s) in a pod in rkt\n\n' +
    'IMAGE should be a string referencing an image: a hash, local file path, URL or an appc name. ' +
    'Per-app flags follow the image they apply to; "--" starts the preceding image\'s arguments and "---" ends them:\n\n' +
    '  rkt run [flags] IMAGE [per-app flags] [-- image-args... ---] [IMAGE ...]\n\n' +
    'rkt run exits with the pod\'s exit status (the first failing app\'s).';
  static override examples = [
    '<%= config.bin %> run --insecure-options=image ./app.aci',
    '<%= config.bin %> run --net=host example.com/app:v1 --exec=/bin/sh -- -c "echo hi" ---',
    '<%= config.bin %> run --volume=data,kind=host,source=/srv app.aci --mount=volume=data,target=/data',
  ];
  static override strict = false;
  static override flags = { ...prepareFlags, ...runOnlyFlags, ...appFlags };

  async run(): Promise<void> {
    const { runCommand } = await import('../runtime/pods/run-command.js');
    await runCommand(this.commandIO(async (podArgv) => (await this.parse(Run, podArgv)).flags), this.argv);
  }
}
