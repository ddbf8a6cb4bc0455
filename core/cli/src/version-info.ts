/**
 * `rkt version` text. Imported by bin/run.js's fast path: keep it free of heavy imports.
 */
import { readFileSync } from 'node:fs';
import { APPC_SPEC_VERSION } from '@rkt/appc/version';

export interface VersionInfo {
  rktVersion: string;
  appcVersion: string;
  runtime: string;
  osArch: string;
  features: string[];
}

function goArch(arch: string): string {
  return { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' }[arch] ?? arch;
}

export function versionInfo(): VersionInfo {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return {
    rktVersion: pkg.version,
    appcVersion: APPC_SPEC_VERSION,
    runtime: process.version,
    osArch: `${process.platform}/${goArch(process.arch)}`,
    // Neither TPM measurement nor journald linking is built in.
    features: ['-TPM', '-SDJOURNAL'],
  };
}

export function versionText(info: VersionInfo = versionInfo()): string {
  return (
    `rkt Version: ${info.rktVersion}\n` +
    `appc Version: ${info.appcVersion}\n` +
    `Node Version: ${info.runtime}\n` +
    `Node OS/Arch: ${info.osArch}\n` +
    `Features: ${info.features.join(' ')}\n`
  );
}
