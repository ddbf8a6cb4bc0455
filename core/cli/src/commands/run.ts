import { RktCommand } from '../base-command.js';
import { mark } from '../runtime/timing.js';
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
    mark('stage0: command');
    const { splitRunArgv, RUN_FLAGS } = await import('../runtime/pods/argv.js');
    const split = splitRunArgv(this.argv, RUN_FLAGS);
    const { flags } = await this.parse(Run, split.podArgv);
    const { ensureSuperuser } = await import('../runtime/pods/cli.js');
    const { netAndDns, prepareRequest, exitLikeStage1 } = await import('../runtime/pods/requests.js');
    const { invalidArgument } = await import('@rkt/api');
    const nd = netAndDns(flags);
    const log = (m: string) => this.warnLine(m);
    const debug = (m: string) => this.debugLine(m);
    const uuidFileSave = (flags as Record<string, unknown>)['uuid-file-save'] as string | undefined;
    const req = prepareRequest(split, flags, { portsAllowed: nd.portsAllowed, ...(uuidFileSave ? { uuidFileSave } : {}), log, debug });
    if (flags.interactive && req.apps.length > 1) throw invalidArgument('interactive option only supports one image');
    ensureSuperuser();
    mark('stage0: flags checked');
    const engine = await this.engine(flags);
    mark('stage0: engine booted');
    if (flags['mds-register']) await (await import('../runtime/mds/client.js')).checkMdsReachable(engine.context.paths.dataDir);
    // host and none need no CNI: its modules are not even loaded
    const { hostOrNoneNet } = await import('../runtime/pods/options.js');
    const networks = hostOrNoneNet(nd.net) ? undefined : await (await import('../runtime/net/config.js')).planPodNetworks(engine, nd.net, log);
    const { preparePod, runPod } = await import('../runtime/pods/prepare.js');
    const { pod } = await preparePod(engine, req);
    pod.toRun();
    const r = await runPod(engine, pod, {
      net: nd.net,
      interactive: flags.interactive,
      ...(flags.hostname ? { hostname: flags.hostname } : {}),
      dns: nd.dns,
      ...(flags.ipc ? { ipc: flags.ipc } : {}),
      localConfig: String(flags['local-config']),
      mdsRegister: flags['mds-register'],
      ...(networks ? { networks } : {}),
      log,
      debug,
    });
    exitLikeStage1(r, (c) => this.exit(c));
  }
}
