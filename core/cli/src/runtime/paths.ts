import { realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InsecureOptions, RuntimePaths } from '@rkt/api';
import type { RktConfig } from './rkt-config.js';

export const DEFAULT_DATA_DIR = '/var/lib/rkt';
export const DEFAULT_SYSTEM_CONFIG = '/usr/lib/rkt';
export const DEFAULT_LOCAL_CONFIG = '/etc/rkt';

export interface GlobalOptions {
  /** Explicit --dir, if given. */
  dir?: string;
  systemConfig: string;
  localConfig: string;
  userConfig?: string;
  debug: boolean;
  insecure: InsecureOptions;
  trustKeysFromHttps: boolean;
}

/** The CLI package's own directory (where a checkout's built stage1 images are found). */
export function installDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

function absolute(p: string): string {
  const abs = resolve(p);
  try {
    return realpathSync(abs);
  } catch {
    return abs;
  }
}

/** --dir > paths.d `data` > /var/lib/rkt; stage1 images: paths.d > <install dir>/stage1-images. */
export function resolvePaths(opts: GlobalOptions, cfg: RktConfig): RuntimePaths {
  return {
    dataDir: absolute(opts.dir ?? (cfg.paths.data || DEFAULT_DATA_DIR)),
    systemConfigDir: opts.systemConfig,
    localConfigDir: opts.localConfig,
    ...(opts.userConfig ? { userConfigDir: opts.userConfig } : {}),
    stage1ImagesDir: cfg.paths.stage1Images || join(installDir(), 'stage1-images'),
  };
}
