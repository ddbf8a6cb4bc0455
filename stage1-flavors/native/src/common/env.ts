/** The app environment (appc §6.4, rkt.md §1.7): defaults < image/pod app env < AC_* variables. */
import type { App } from '@rkt/api';
import { Stage1Error } from './log.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface EnvOptions {
  /** Base URL of the metadata service with the pod token, when registered. */
  metadataUrl?: string;
}

export function appEnvironment(appName: string, app: App, opts: EnvOptions = {}): [string, string][] {
  const env = new Map<string, string>([
    ['PATH', DEFAULT_PATH],
    ['SHELL', '/bin/sh'],
    ['USER', 'root'],
    ['LOGNAME', 'root'],
    ['HOME', '/root'],
    ['container', 'rkt'],
  ]);
  for (const e of app.environment ?? []) {
    if (typeof e.name !== 'string' || !/^[A-Za-z_][A-Za-z_0-9.-]*$/.test(e.name) || typeof e.value !== 'string') {
      throw new Stage1Error(`app "${appName}": invalid environment variable ${JSON.stringify(e.name)}`);
    }
    env.set(e.name, e.value);
  }
  env.set('AC_APP_NAME', appName);
  if (opts.metadataUrl) env.set('AC_METADATA_URL', opts.metadataUrl);
  return [...env];
}
