/**
 * The body of `rkt run`, shared by the oclif command (commands/run.ts) and the start-up fast path
 * (fast/run.ts): everything after the command is chosen, behind a small interface for the parts
 * that differ (flag parsing, engine boot, diagnostics, exit).
 */
import { mark } from '../timing.js';
import type { Engine } from '../engine.js';

export interface CommandIO {
  /** Parse the (normalised) pod and global flags; throws on bad flags. */
  parsePodFlags(podArgv: string[]): Promise<Record<string, unknown>>;
  engine(flags: Record<string, unknown>): Promise<Engine>;
  warnLine(message: string): void;
  debugLine(message: string): void;
  exit(code: number): void;
}

export async function runCommand(io: CommandIO, argv: readonly string[]): Promise<void> {
  mark('stage0: command');
  const { splitRunArgv, RUN_FLAGS } = await import('./argv.js');
  const split = splitRunArgv(argv, RUN_FLAGS);
  const flags = await io.parsePodFlags(split.podArgv);
  const { ensureSuperuser } = await import('./cli.js');
  const { netAndDns, prepareRequest, exitLikeStage1 } = await import('./requests.js');
  const { invalidArgument } = await import('@rkt/api');
  const nd = netAndDns(flags);
  const log = (m: string) => io.warnLine(m);
  const debug = (m: string) => io.debugLine(m);
  const uuidFileSave = flags['uuid-file-save'] as string | undefined;
  const req = prepareRequest(split, flags, { portsAllowed: nd.portsAllowed, ...(uuidFileSave ? { uuidFileSave } : {}), log, debug });
  if (flags.interactive && req.apps.length > 1) throw invalidArgument('interactive option only supports one image');
  ensureSuperuser();
  mark('stage0: flags checked');
  const engine = await io.engine(flags);
  mark('stage0: engine booted');
  if (flags['mds-register']) await (await import('../mds/client.js')).checkMdsReachable(engine.context.paths.dataDir);
  // host and none need no CNI: its modules are not even loaded
  const { hostOrNoneNet } = await import('./options.js');
  const networks = hostOrNoneNet(nd.net) ? undefined : await (await import('../net/config.js')).planPodNetworks(engine, nd.net, log);
  const { preparePod, runPod } = await import('./prepare.js');
  const { pod } = await preparePod(engine, req);
  pod.toRun();
  const hostname = flags.hostname as string | undefined;
  const ipc = flags.ipc as string | undefined;
  const r = await runPod(engine, pod, {
    net: nd.net,
    interactive: Boolean(flags.interactive),
    ...(hostname ? { hostname } : {}),
    dns: nd.dns,
    ...(ipc ? { ipc } : {}),
    localConfig: String(flags['local-config']),
    mdsRegister: Boolean(flags['mds-register']),
    ...(networks ? { networks } : {}),
    log,
    debug,
  });
  exitLikeStage1(r, (c) => io.exit(c));
}
