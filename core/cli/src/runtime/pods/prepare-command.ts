/**
 * The bodies of `rkt prepare` and `rkt run-prepared`, shared by the oclif commands and the start-up
 * fast path (fast/index.ts), behind run-command.ts's CommandIO.
 */
import type { CommandIO } from './run-command.js';

export async function prepareCommand(io: CommandIO, argv: readonly string[]): Promise<void> {
  const { splitRunArgv, PREPARE_FLAGS } = await import('./argv.js');
  const split = splitRunArgv(argv, PREPARE_FLAGS);
  const flags = await io.parsePodFlags(split.podArgv);
  const { ensureSuperuser } = await import('./cli.js');
  const { prepareRequest } = await import('./requests.js');
  const req = prepareRequest(split, flags, { portsAllowed: true, log: (m) => io.warnLine(m), debug: (m) => io.debugLine(m) });
  ensureSuperuser();
  const engine = await io.engine(flags);
  const { preparePod } = await import('./prepare.js');
  const { pod } = await preparePod(engine, req);
  pod.toPrepared();
  process.stdout.write(`${pod.uuid}\n`);
}

/** rkt run-prepared: `uuid` is the positional argument, `flags` the parsed run-prepared flags. */
export async function runPreparedCommand(io: Omit<CommandIO, 'parsePodFlags'>, flags: Record<string, unknown>, uuid: string): Promise<void> {
  const { ensureSuperuser } = await import('./cli.js');
  const { netAndDns, exitLikeStage1 } = await import('./requests.js');
  const { RktError, ErrorCodes, invalidArgument } = await import('@rkt/api');
  const nd = netAndDns(flags);
  ensureSuperuser();
  const engine = await io.engine(flags);
  if (flags['mds-register']) await (await import('../mds/client.js')).checkMdsReachable(engine.context.paths.dataDir);
  // host and none need no CNI: its modules are not even loaded
  const { hostOrNoneNet } = await import('./options.js');
  const networks = hostOrNoneNet(nd.net) ? undefined : await (await import('../net/config.js')).planPodNetworks(engine, nd.net, (m) => io.warnLine(m));
  const { podFromUuidString } = await import('./uuid.js');
  const { PodState } = await import('./pod.js');
  let pod;
  try {
    pod = podFromUuidString(engine.context.paths.dataDir, uuid);
  } catch (e) {
    throw new RktError(ErrorCodes.NOT_FOUND, 'cannot get pod', { cause: e });
  }
  if (pod.state !== PodState.Prepared) throw new RktError(ErrorCodes.FAILED_PRECONDITION, `pod ${JSON.stringify(pod.uuid)} is not prepared`);
  if (flags.interactive && pod.manifest().apps.length > 1) throw invalidArgument('interactive option only supports one image');
  pod.toRun();
  const { runPod } = await import('./prepare.js');
  const hostname = flags.hostname as string | undefined;
  const r = await runPod(engine, pod, {
    net: nd.net,
    interactive: Boolean(flags.interactive),
    ...(hostname ? { hostname } : {}),
    dns: nd.dns,
    mdsRegister: Boolean(flags['mds-register']),
    ...(networks ? { networks } : {}),
    log: (m) => io.warnLine(m),
    debug: (m) => io.debugLine(m),
  });
  exitLikeStage1(r, (c) => io.exit(c));
}
