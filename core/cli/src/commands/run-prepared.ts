import { Args } from '@oclif/core';
import { RktCommand } from '../base-command.js';
import { runOnlyFlags } from '../runtime/pods/flag-defs.js';

// eslint-disable-next-line @typescript-eslint/no-unused-vars
const { 'uuid-file-save': _omit, ...runPreparedFlags } = runOnlyFlags;

export default class RunPrepared extends RktCommand {
  static override description = 'Run a prepared application pod in rkt\n\nUUID must have been acquired via "rkt prepare".';
  static override examples = ['<%= config.bin %> run-prepared --net=host 5f3a9d2c'];
  static override args = { uuid: Args.string({ description: 'UUID of the prepared pod (or a unique prefix)', required: true }) };
  static override flags = runPreparedFlags;

  /** A bare `--net` means `--net=default`, as rkt. */
  override async init(): Promise<void> {
    this.argv = this.argv.map((a) => (a === '--net' ? '--net=default' : a));
    await super.init();
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(RunPrepared);
    const { ensureSuperuser } = await import('../runtime/pods/cli.js');
    const { netAndDns, exitLikeStage1 } = await import('../runtime/pods/requests.js');
    const { RktError, ErrorCodes, invalidArgument } = await import('@rkt/api');
    const nd = netAndDns(flags);
    ensureSuperuser();
    const engine = await this.engine(flags);
    if (flags['mds-register']) await (await import('../runtime/mds/client.js')).checkMdsReachable(engine.context.paths.dataDir);
    // host and none need no CNI: its modules are not even loaded
    const { hostOrNoneNet } = await import('../runtime/pods/options.js');
    const networks = hostOrNoneNet(nd.net) ? undefined : await (await import('../runtime/net/config.js')).planPodNetworks(engine, nd.net, (m) => this.warnLine(m));
    const { podFromUuidString } = await import('../runtime/pods/uuid.js');
    const { PodState } = await import('../runtime/pods/pod.js');
    let pod;
    try {
      pod = podFromUuidString(engine.context.paths.dataDir, args.uuid);
    } catch (e) {
      throw new RktError(ErrorCodes.NOT_FOUND, 'cannot get pod', { cause: e });
    }
    if (pod.state !== PodState.Prepared) throw new RktError(ErrorCodes.FAILED_PRECONDITION, `pod ${JSON.stringify(pod.uuid)} is not prepared`);
    if (flags.interactive && pod.manifest().apps.length > 1) throw invalidArgument('interactive option only supports one image');
    pod.toRun();
    const { runPod } = await import('../runtime/pods/prepare.js');
    const r = await runPod(engine, pod, {
      net: nd.net,
      interactive: Boolean(flags.interactive),
      ...(flags.hostname ? { hostname: String(flags.hostname) } : {}),
      dns: nd.dns,
      mdsRegister: Boolean(flags['mds-register']),
      ...(networks ? { networks } : {}),
      log: (m) => this.warnLine(m),
      debug: (m) => this.debugLine(m),
    });
    exitLikeStage1(r, (c) => this.exit(c));
  }
}
