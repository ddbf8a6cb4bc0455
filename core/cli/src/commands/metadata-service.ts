import { Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';

export default class MetadataService extends RktCommand {
  static override description =
    'Run metadata service\n\n' +
    'Serves the appc metadata API (/acMetadata/v1) to pods started with --mds-register, in the foreground. ' +
    'Pods register over a unix socket only root can use ($data/mds/registration.sock). ' +
    'Listeners passed by systemd socket activation (LISTEN_FDS) are used instead of binding: a unix socket as the registration socket, TCP sockets as public listeners.';
  static override examples = [
    '<%= config.bin %> metadata-service',
    '<%= config.bin %> metadata-service --listen-address=172.16.28.1 --listen-address=127.0.0.1',
  ];
  static override flags = {
    'listen-port': Flags.integer({ description: 'listen port', default: 18112 }),
    'listen-address': Flags.string({
      description: 'address to listen on (repeatable); never every interface: give the address pods reach',
      multiple: true,
      default: ['127.0.0.1'],
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(MetadataService);
    const { ensureSuperuser } = await import('../runtime/pods/cli.js');
    const { startMetadataService, checkListenAddress, checkListenPort } = await import('../runtime/mds/service.js');
    flags['listen-address'].forEach(checkListenAddress);
    checkListenPort(flags['listen-port']);
    ensureSuperuser();
    const engine = await this.engine(flags);
    const svc = await startMetadataService({
      dataDir: engine.context.paths.dataDir,
      port: flags['listen-port'],
      addresses: flags['listen-address'],
      env: process.env,
      log: { info: (m) => process.stderr.write(`${m}\n`), warn: (m) => this.warnLine(m) },
    });
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        void svc.close().then(resolve);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
  }
}
