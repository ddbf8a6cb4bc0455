/**
 * The `rkt run` and `rkt fetch` fast path (src/fast/) against oclif: the same flags for every pod argv it
 * accepts, a decline for what it cannot be sure of, and the same plugin list as oclif's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Args, Config, Parser } from '@oclif/core';
import { CLI_ROOT, corePluginSources, fastParseArgv, fastParseFlags, userPluginsConfigured } from '../src/fast/index.js';
import * as specs from '../src/runtime/flag-specs.js';
import { oclifFlags } from '../src/runtime/pods/flag-defs.js';
import { RUN_FLAGS, splitRunArgv } from '../src/runtime/pods/argv.js';

const defs = { ...specs.globalFlags, ...specs.prepareFlags, ...specs.runOnlyFlags };
const oclifDefs = oclifFlags({ ...defs, ...specs.appFlags });

async function viaOclif(podArgv: string[]): Promise<Record<string, unknown>> {
  const out = await Parser.parse(podArgv, { flags: oclifDefs, strict: false, args: {} });
  return Object.fromEntries(Object.entries(out.flags).filter(([, v]) => v !== undefined));
}

// Whole `rkt run` argvs, as users write them: the splitter normalises the pod flags first.
const accepted: string[][] = [
  ['img.aci'],
  ['--net=none', 'img.aci'],
  ['--net', 'img.aci'],
  ['--net=host', '--dns=8.8.8.8', '--dns', '1.1.1.1', '--dns-search=a.test', 'img.aci', '--exec=/bin/sh', '--', '-c', 'true', '---'],
  ['--debug', '--dir=/var/lib/x', '--insecure-options=image,ondisk', '--local-config', '/etc/x', 'img.aci'],
  ['--interactive=true', '--no-overlay', '--private-users=false', 'img.aci'],
  ['--volume=data,kind=host,source=/srv', '--volume', 'tmp,kind=empty', '--mount=volume=data,target=/data', 'a.aci', '---', 'b.aci'],
  ['--pull-policy=update', '--ipc=parent', '--hostname=h', '--uuid-file-save=/tmp/u', '--stage1-from-dir=stage1-fly.aci', 'img.aci'],
  ['--set-env=A=1', '--set-env=B=x=y', '--set-env-file=/e', '--inherit-env', '--port=http:8080', '--hosts-entry=1.2.3.4=h', 'img.aci'],
  ['--store-only', '--mds-register', '--trust-keys-from-https', '--user-config=/u', '--system-config=/s', 'img.aci'],
  ['--dns-opt=ndots:3', '--dns-domain=pod.test', '--pod-manifest=/p.json', 'img.aci', '--name=x', '--memory=10M'],
];
// ...and what it must leave to oclif (which reports it, or shows help).
const declined: string[][] = [
  ['--hostname=a', '--hostname=b', 'img.aci'],
  ['--pull-policy=sometimes', 'img.aci'],
  ['--ipc=', 'img.aci'],
  ['--help'],
  ['-h', 'img.aci'],
];

test('the fast path parses every accepted pod argv exactly as oclif does', async () => {
  for (const argv of accepted) {
    const split = splitRunArgv(argv, RUN_FLAGS);
    const fast = fastParseFlags(split.podArgv, defs);
    assert.ok(fast, `declined ${JSON.stringify(argv)} (pod argv ${JSON.stringify(split.podArgv)})`);
    assert.deepEqual(fast, await viaOclif(split.podArgv), JSON.stringify(argv));
  }
});

test('the fast path declines repeated single flags, values outside the options, empty values and help', async () => {
  for (const argv of declined) {
    const split = splitRunArgv(argv, RUN_FLAGS);
    assert.equal(fastParseFlags(split.podArgv, defs), undefined, JSON.stringify(argv));
  }
  // oclif itself refuses the first two (so the user gets oclif's message)
  for (const argv of declined.slice(0, 2)) await assert.rejects(viaOclif(splitRunArgv(argv, RUN_FLAGS).podArgv));
  assert.equal(fastParseFlags(['--not-a-flag=1'], defs), undefined);
  assert.equal(fastParseFlags(['-x'], defs), undefined);
  assert.equal(fastParseFlags(['--debug=true'], defs), undefined);
});

test('the fast path lists the same plugins (with their contributions) as oclif', async () => {
  const config = await Config.load({ root: CLI_ROOT });
  const key = (p: { name: string; version: string; root: string; type: string }) => `${p.name}@${p.version} ${p.type} ${fs.realpathSync(p.root)}`;
  const contributing = (ps: readonly { pjson: unknown }[]) => ps.filter((p) => (p.pjson as { rkt?: unknown }).rkt !== undefined);
  const fromOclif = contributing(config.getPluginsList()).map((p) => key(p)).sort();
  const fast = corePluginSources();
  assert.ok(fast);
  assert.deepEqual(contributing(fast).map(key).sort(), fromOclif);
  assert.ok(fromOclif.length >= 9, 'the CLI, store, fetchers, stage1 flavors and net plugins');
  for (const p of contributing(fast)) {
    const o = config.getPluginsList().find((x) => x.name === p.name)!;
    assert.deepEqual((p.pjson as { rkt?: unknown }).rkt, (o.pjson as { rkt?: unknown }).rkt, p.name);
  }
});

test('installed or linked plugins (oclif data dir with a package.json) send rkt run through oclif', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-fast-'));
  try {
    assert.equal(userPluginsConfigured({ RKT_DATA_DIR: dir }), false);
    assert.equal(userPluginsConfigured({ XDG_DATA_HOME: dir }), false);
    fs.mkdirSync(path.join(dir, 'rkt'));
    fs.writeFileSync(path.join(dir, 'rkt', 'package.json'), '{"oclif":{"plugins":[]}}');
    assert.equal(userPluginsConfigured({ XDG_DATA_HOME: dir }), true);
    assert.equal(userPluginsConfigured({ HOME: dir, XDG_DATA_HOME: '' }), false);
    fs.writeFileSync(path.join(dir, 'package.json'), '{}');
    assert.equal(userPluginsConfigured({ RKT_DATA_DIR: dir }), true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// `rkt fetch`: flags and images interspersed, rkt's --bool=true|false spelling.
const fetchDefs = { ...specs.globalFlags, ...specs.fetchFlags };
async function fetchViaOclif(argv: string[]): Promise<{ flags: Record<string, unknown>; args: string[] }> {
  // RktCommand.parse's translation of --bool=true|false, then oclif
  const translated = argv.flatMap((a) => {
    const m = /^--([^=]+)=(true|false)$/i.exec(a);
    if (!m || fetchDefs[m[1]!]?.type !== 'boolean') return [a];
    return m[2]!.toLowerCase() === 'true' ? [`--${m[1]}`] : [];
  });
  const out = await Parser.parse(translated, {
    flags: oclifFlags(fetchDefs),
    args: { image: Args.string({ required: true }) },
    strict: false,
  });
  return { flags: Object.fromEntries(Object.entries(out.flags).filter(([, v]) => v !== undefined)), args: out.argv as string[] };
}

test('the fast path parses rkt fetch command lines exactly as oclif does, and declines the rest', async () => {
  const accepted = [
    ['img.aci'],
    ['--full', 'a.aci', 'b.aci'],
    ['--signature=a.asc', 'a.aci', '--signature', 'b.asc', 'b.aci'],
    ['--pull-policy', 'never', 'example.com/app:v1,os=linux', '--full=false'],
    ['--insecure-options=image', '--dir=/x', '--debug=true', 'https://example.com/a.aci'],
    ['--store-only', '--trust-keys-from-https', 'file:///tmp/a.aci', '--system-config', '/s'],
  ];
  for (const argv of accepted) {
    const fast = fastParseArgv(argv, fetchDefs);
    assert.ok(fast, `declined ${JSON.stringify(argv)}`);
    assert.deepEqual(fast, await fetchViaOclif(argv), JSON.stringify(argv));
  }
  const declined = [
    ['--pull-policy=sometimes', 'a.aci'],
    ['--pull-policy', '--full', 'a.aci'],
    ['--dir=/a', '--dir=/b', 'a.aci'],
    ['--full', '--full', 'a.aci'],
    ['--full=maybe', 'a.aci'],
    ['-x', 'a.aci'],
    ['--', 'a.aci'],
    ['--nope', 'a.aci'],
    ['--signature'],
  ];
  for (const argv of declined) assert.equal(fastParseArgv(argv, fetchDefs), undefined, JSON.stringify(argv));
  await assert.rejects(fetchViaOclif(['--pull-policy=sometimes', 'a.aci']));
  await assert.rejects(fetchViaOclif(['--dir=/a', '--dir=/b', 'a.aci']));
});

test('rkt prepare and rkt run-prepared: the fast path parses as oclif does, and declines the rest', async () => {
  const { PREPARE_FLAGS } = await import('../src/runtime/pods/argv.js');
  const prepDefs = { ...specs.globalFlags, ...specs.prepareFlags, ...specs.prepareOnlyFlags };
  for (const argv of [['--quiet', 'img.aci'], ['--no-overlay', '--private-users', '--volume=d,kind=empty', 'a.aci', '--mount=volume=d,target=/d'], ['--pull-policy=never', '--stage1-name=coreos.com/rkt/stage1-fly', 'a.aci']]) {
    const split = splitRunArgv(argv, PREPARE_FLAGS);
    const fast = fastParseFlags(split.podArgv, prepDefs);
    assert.ok(fast, JSON.stringify(argv));
    const out = await Parser.parse(split.podArgv, { flags: oclifFlags({ ...prepDefs, ...specs.appFlags }), strict: false, args: {} });
    assert.deepEqual(fast, Object.fromEntries(Object.entries(out.flags).filter(([, v]) => v !== undefined)), JSON.stringify(argv));
  }
  const rpDefs = { ...specs.globalFlags, ...specs.runPreparedFlagSpecs() };
  assert.equal(rpDefs['uuid-file-save'], undefined, 'run-prepared has no --uuid-file-save');
  for (const argv of [['5f3a9d2c'], ['--net=host', '--dns', '10.0.0.1', '5f3a9d2c'], ['--interactive', '--hostname=h', '--mds-register=false', '5f3a9d2c', '--debug']]) {
    const fast = fastParseArgv(argv, rpDefs);
    assert.ok(fast, JSON.stringify(argv));
    const translated = argv.flatMap((a) => (a === '--mds-register=false' ? [] : [a]));
    const out = await Parser.parse(translated, { flags: oclifFlags(rpDefs), args: { uuid: Args.string({ required: true }) } });
    assert.deepEqual(fast.flags, Object.fromEntries(Object.entries(out.flags).filter(([, v]) => v !== undefined)), JSON.stringify(argv));
    assert.deepEqual(fast.args, [out.args.uuid]);
  }
  const { bareNetIsDefault } = await import('../src/fast/prepare.js');
  assert.deepEqual(fastParseArgv(bareNetIsDefault(['--net', 'u']), rpDefs)?.flags.net, ['default'], 'a bare --net is the default network, not a flag eating the uuid');
  assert.equal(fastParseArgv(['--uuid-file-save=/x', 'u'], rpDefs), undefined);
  assert.equal(fastParseArgv(['--ipc=sometimes', 'u'], rpDefs), undefined);
});
