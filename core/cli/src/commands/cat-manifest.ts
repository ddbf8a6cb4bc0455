import { Args, Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';

export default class CatManifest extends RktCommand {
  static override description = 'Inspect and print the pod manifest';
  static override examples = ['<%= config.bin %> cat-manifest 5f3a9d2c', '<%= config.bin %> cat-manifest --pretty-print=false --uuid-file=/run/app.uuid'];
  static override args = { uuid: Args.string({ description: 'pod UUID (or a unique prefix)', required: false }) };
  static override flags = {
    'pretty-print': Flags.boolean({ description: 'apply indent to format the output', default: true, allowNo: true }),
    'uuid-file': Flags.string({ description: 'read pod UUID from file instead of argument' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(CatManifest);
    const engine = await this.engine(flags);
    const { RktError, ErrorCodes, invalidArgument } = await import('@rkt/api');
    const { readUuidFile, podFromUuidString } = await import('../runtime/pods/uuid.js');
    let arg: string;
    if (flags['uuid-file'] !== undefined) {
      try {
        arg = readUuidFile(flags['uuid-file']);
      } catch (e) {
        throw new RktError(ErrorCodes.INVALID_ARGUMENT, 'unable to resolve UUID from file', { cause: e });
      }
    } else if (args.uuid !== undefined) arg = args.uuid;
    else throw invalidArgument('a pod UUID (or --uuid-file) is required');
    let pod;
    try {
      pod = podFromUuidString(engine.context.paths.dataDir, arg);
    } catch (e) {
      throw new RktError(ErrorCodes.NOT_FOUND, 'problem retrieving pod', { cause: e });
    }
    if (!pod.manifestAvailable()) throw new RktError(ErrorCodes.FAILED_PRECONDITION, `cannot get pod manifest: pod ${JSON.stringify(pod.uuid)} is ${pod.state}`);
    const { checkPodManifest, podManifestToJson } = await import('@rkt/appc');
    const { tabIndent } = await import('../runtime/pods/manifest.js');
    let bytes: Buffer;
    try {
      bytes = pod.manifestBytes();
    } catch (e) {
      throw new RktError(ErrorCodes.NOT_FOUND, 'cannot get pod manifest', { cause: e });
    }
    const r = checkPodManifest(bytes);
    if (!r.manifest || r.problems.length) throw new RktError(ErrorCodes.INVALID_ARGUMENT, `cannot get pod manifest: invalid pod manifest: ${r.problems[0]?.message ?? 'not JSON'}`);
    const text = flags['pretty-print'] ? tabIndent(podManifestToJson(r.manifest, { pretty: true })) : podManifestToJson(r.manifest);
    process.stdout.write(`${text}\n`);
  }
}
