import { Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';

const USAGE = `Usage:
  rkt trust [--prefix=PREFIX] [--insecure-allow-http] [--skip-fingerprint-review] [--root] [PUBKEY ...] [flags]

Flags:
      --insecure-allow-http       allow HTTP use for key discovery and/or retrieval
      --prefix string             prefix to limit trust to
      --root                      add root key from filesystem without a prefix
      --skip-fingerprint-review   accept key without fingerprint confirmation
`;

const UNBOUNDED = `aborting due to implicit unbounded trust (root domain)
Please provide a specific domain prefix to trust:
    rkt trust --prefix "example.com/foo" [PUBKEY]
    rkt trust --prefix "example.com/foo/*" [PUBKEY]
Otherwise, trust at the root domain (not recommended) must be explicitly requested:
    rkt trust --root PUBKEY`;

export default class Trust extends RktCommand {
  static override description = `Trust a key for image verification

Adds keys to the local keystore for use in verifying signed images.

PUBKEY may be either a local file or URL.

PREFIX scopes the applicability of PUBKEY to image names sharing PREFIX.

Meta discovery of PUBKEY at PREFIX will be attempted if no PUBKEY is specified.

To trust a key for all images instead of for specific images, --root can be
specified. Path to a key file must be given (no discovery).`;

  static override usage = 'trust [--prefix=PREFIX] [--insecure-allow-http] [--skip-fingerprint-review] [--root] [PUBKEY ...]';
  static override examples = [
    '<%= config.bin %> trust --prefix=example.com/hello https://example.com/pubkeys.gpg',
    '<%= config.bin %> trust --prefix=example.com/hello',
    '<%= config.bin %> trust --root ./root-key.asc',
  ];
  static override strict = false;
  static override flags = {
    prefix: Flags.string({ description: 'prefix to limit trust to', default: '' }),
    root: Flags.boolean({ description: 'add root key from filesystem without a prefix', default: false }),
    'skip-fingerprint-review': Flags.boolean({ description: 'accept key without fingerprint confirmation', default: false }),
    'insecure-allow-http': Flags.boolean({ description: 'allow HTTP use for key discovery and/or retrieval', default: false }),
  };

  async run(): Promise<void> {
    const { flags, argv } = await this.parse(Trust);
    const args = argv as string[];
    const prefix = flags.prefix ?? '';
    if (prefix === '' && !flags.root) {
      if (args.length !== 0) this.warnLine(UNBOUNDED);
      else process.stderr.write(USAGE);
      return this.exit(254);
    }
    if (prefix !== '' && flags.root) {
      this.warnLine('--root and --prefix usage mutually exclusive');
      return this.exit(254);
    }
    const opts = await this.globalOptions(flags);
    const { Keystore, validatePrefix } = await import('../runtime/keystore.js');
    if (prefix !== '') validatePrefix(prefix);
    const { addKeys, closePrompt, discoverPubkeyLocations } = await import('../runtime/trust/pubkey.js');
    const { RktError } = await import('@rkt/api');
    const keystore = new Keystore(
      { systemConfigDir: opts.systemConfig, localConfigDir: opts.localConfig },
      { warn: (m) => this.debugLine(m) },
    );
    const pubkeyOpts = {
      keystore,
      insecureAllowHttp: flags['insecure-allow-http'],
      insecureSkipTlsCheck: opts.insecure.tls,
      trustKeysFromHttps: opts.trustKeysFromHttps,
      debug: opts.debug,
      // As rkt's trust: no auth.d credentials for key discovery or key downloads.
    };

    let locations = args;
    if (locations.length === 0) {
      try {
        locations = await discoverPubkeyLocations(prefix, pubkeyOpts);
      } catch (e) {
        const inner = e as Error & { code?: string };
        throw new RktError((inner.code as never) ?? 'E_UNAVAILABLE', `error determining key location: ${inner.message}`, { cause: e });
      }
    }
    try {
      await addKeys(locations, prefix, flags['skip-fingerprint-review'] ? 'force' : 'ask', pubkeyOpts);
    } catch (e) {
      const inner = e as Error & { code?: string };
      throw new RktError((inner.code as never) ?? 'E_INTERNAL', `error adding keys: ${inner.message}`, { cause: e });
    } finally {
      closePrompt();
    }
  }
}
