/**
 * The appc ACE validator (appc-spec.md §8): ace-validator-main and ace-validator-sidekick built
 * from the Go source in Debian's golang-github-appc-spec-dev with Debian's Go (GOPATH mode,
 * CGO_ENABLED=0, so the binary is static and needs nothing from the image), packed into the two
 * ACIs with the upstream manifests (§8.4: the -dev package does not ship them), and a runner that
 * starts them as one pod with a given stage1 flavor and parses what every validator mode printed.
 *
 * Built once per source: `build/ace/<hash>/` (gitignored) keyed by the sha256 of the validator's
 * Go sources (ace/ and schema/ of appc/spec), `go version` and the two manifests; a build goes to
 * a temporary directory renamed into place, so concurrent test files never see half a build.
 */
import { stage1Image } from './images.js';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './cli.js';

export const APPC_SPEC_SRC = '/usr/share/gocode/src/github.com/appc/spec';
export const ACE_VERSION = '0.8.11';

/** The main image's manifest (upstream ace/image_manifest_main.json.in). */
function mainManifest(os: string, arch: string): object {
  return {
    acVersion: ACE_VERSION,
    acKind: 'ImageManifest',
    name: 'coreos.com/ace-validator-main',
    labels: [
      { name: 'version', value: ACE_VERSION },
      { name: 'os', value: os },
      { name: 'arch', value: arch },
    ],
    app: {
      exec: ['/ace-validator', 'main'],
      eventHandlers: [
        { name: 'pre-start', exec: ['/ace-validator', 'prestart'] },
        { name: 'post-stop', exec: ['/ace-validator', 'poststop'] },
      ],
      user: '0',
      group: '0',
      workingDirectory: '/opt/acvalidator',
      environment: [{ name: 'IN_ACE_VALIDATOR', value: 'correct' }],
      mountPoints: [{ name: 'database', path: '/db', readOnly: false }],
      ports: [{ name: 'www', protocol: 'tcp', port: 80 }],
      isolators: [{ name: 'resource/memory', value: { limit: '1G' } }],
    },
    annotations: [
      { name: 'created', value: '2014-10-27T19:32:27.67021798Z' },
      { name: 'authors', value: 'Carly Container <carly@example.com>, Nat Network <nat@example.com>' },
      { name: 'homepage', value: 'https://github.com/appc/spec' },
      { name: 'documentation', value: 'https://github.com/appc/spec/blob/master/README.md' },
      { name: 'lorem', value: 'ipsum' },
    ],
  };
}

/** The sidekick image's manifest (upstream ace/image_manifest_sidekick.json.in). */
function sidekickManifest(os: string, arch: string): object {
  return {
    acVersion: ACE_VERSION,
    acKind: 'ImageManifest',
    name: 'coreos.com/ace-validator-sidekick',
    labels: [
      { name: 'version', value: ACE_VERSION },
      { name: 'os', value: os },
      { name: 'arch', value: arch },
    ],
    app: {
      exec: ['/ace-validator', 'sidekick'],
      user: '0',
      group: '0',
      mountPoints: [{ name: 'database', path: '/db', readOnly: false }],
    },
  };
}

function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GO111MODULE: 'off', GOPATH: `${APPC_SPEC_SRC.replace(/\/src\/.*$/, '')}`, GOFLAGS: '', CGO_ENABLED: '0' };
}

function hashTree(h: ReturnType<typeof createHash>, dir: string, rel = ''): void {
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const p = join(dir, rel, name);
    const st = statSync(p);
    if (st.isDirectory()) hashTree(h, dir, join(rel, name));
    else if (name.endsWith('.go')) h.update(`${join(rel, name)}\0`).update(readFileSync(p));
  }
}

export interface AceImages {
  dir: string;
  validator: string;
  main: string;
  sidekick: string;
}

/**
 * Build (or reuse) the validator binary and the two ACIs. Throws with the reason when Debian's Go
 * or golang-github-appc-spec-dev is missing (config/setup.sh installs both).
 */
export function aceImages(): AceImages {
  if (!existsSync(join(APPC_SPEC_SRC, 'ace', 'validator.go'))) throw new Error(`${APPC_SPEC_SRC}/ace is missing: install golang-github-appc-spec-dev`);
  const env = goEnv();
  const goVersion = execFileSync('go', ['version'], { env, encoding: 'utf8' });
  const [os, goArch] = execFileSync('go', ['env', 'GOOS', 'GOARCH'], { env, encoding: 'utf8' }).trim().split('\n') as [string, string];
  const arch = goArch === 'arm64' ? 'aarch64' : goArch;
  const manifests = { main: mainManifest(os, arch), sidekick: sidekickManifest(os, arch) };
  const h = createHash('sha256').update(goVersion).update(JSON.stringify(manifests));
  hashTree(h, join(APPC_SPEC_SRC, 'ace'));
  hashTree(h, join(APPC_SPEC_SRC, 'schema'));
  const root = join(repoRoot, 'build', 'ace');
  const dir = join(root, h.digest('hex').slice(0, 32));
  const out: AceImages = { dir, validator: join(dir, 'ace-validator'), main: join(dir, 'ace-validator-main.aci'), sidekick: join(dir, 'ace-validator-sidekick.aci') };
  if (existsSync(out.sidekick)) return out;

  mkdirSync(root, { recursive: true });
  const tmp = mkdtempSync(join(root, '.build-'));
  try {
    const bin = join(tmp, 'ace-validator');
    execFileSync('go', ['build', '-trimpath', '-o', bin, 'github.com/appc/spec/ace'], {
      env: { ...env, GOCACHE: join(root, 'gocache') },
      cwd: tmp,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    for (const typ of ['main', 'sidekick'] as const) {
      const layout = join(tmp, `layout-${typ}`);
      mkdirSync(join(layout, 'rootfs', 'opt', 'acvalidator'), { recursive: true });
      copyFileSync(bin, join(layout, 'rootfs', 'ace-validator'));
      chmodSync(join(layout, 'rootfs', 'ace-validator'), 0o755);
      writeFileSync(join(layout, 'manifest'), JSON.stringify(manifests[typ], null, 4) + '\n');
      // as scripts/build-ace-validator-acis: the rootfs and the binary dated at the epoch
      for (const p of [join(layout, 'rootfs', 'ace-validator'), join(layout, 'rootfs')]) utimesSync(p, 0, 0);
      execFileSync('tar', ['-C', layout, '--owner=0', '--group=0', '--numeric-owner', '-czf', join(tmp, `ace-validator-${typ}.aci`), 'rootfs', 'manifest']);
      rmSync(layout, { recursive: true });
    }
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // another test file built the same source first
      if (!existsSync(out.sidekick)) throw e;
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return out;
}

/** What one validator mode reported: `<mode> OK` or `<mode> FAIL` on stdout, `==> error` lines on stderr. */
export interface AceModeResult {
  mode: 'prestart' | 'main' | 'sidekick' | 'poststop';
  ok: boolean;
}

export interface AceReport {
  modes: AceModeResult[];
  /** Every `==> …` error line the validator wrote to stderr. */
  errors: string[];
}

/** Parse the validator output of a pod run (the four modes' lines interleaved with rkt's own). */
export function parseAceOutput(stdout: string, stderr: string): AceReport {
  const modes: AceModeResult[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(prestart|main|sidekick|poststop) (OK|FAIL)$/i.exec(line.trim());
    if (m) modes.push({ mode: m[1]!.toLowerCase() as AceModeResult['mode'], ok: m[2] === 'OK' });
  }
  const errors = stderr
    .split('\n')
    .map((l) => /^==> (.*)$/.exec(l.trim())?.[1])
    .filter((l): l is string => l !== undefined);
  return { modes, errors };
}

/** The stage1 flavor's image in `dir` (shared with the set-up's build, see images.ts). */
export function buildStage1(flavor: string, dir: string): string {
  return stage1Image(flavor, dir);
}
