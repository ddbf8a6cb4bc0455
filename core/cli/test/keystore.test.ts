import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isInvalidArgument } from '@rkt/api';
import { Keystore, formatFingerprint, isAcIdentifier, readPublicKeys, validatePrefix } from '../src/runtime/keystore.js';
import { Gpg, configDirs, type GpgKey } from './keystore-helpers.js';

const gpg = new Gpg();
let a: GpgKey; // vendor key
let b: GpgKey; // app key
let c: GpgKey; // another key
before(() => {
  a = gpg.genKey('Vendor <vendor@example.com>');
  b = gpg.genKey('App <app@example.com>');
  c = gpg.genKey('Other <other@example.com>');
});
after(() => gpg.cleanup());

function store(d: ReturnType<typeof configDirs>, warnings: string[] = []): Keystore {
  return new Keystore({ systemConfigDir: d.system, localConfigDir: d.local }, { warn: (m) => warnings.push(m) });
}

async function fprs(ks: Keystore, name: string): Promise<string[]> {
  return (await ks.keyringFor(name)).map((k) => k.fingerprint);
}

test('prefix keys apply at path-segment boundaries only (not rkt\'s string prefix)', async (t) => {
  const d = configDirs();
  t.after(() => d.cleanup());
  d.put('local', `prefix.d/example.com/app/${b.fingerprint}`, b.publicKey);
  const ks = store(d);
  assert.deepEqual(await fprs(ks, 'example.com/app'), [b.fingerprint]);
  assert.deepEqual(await fprs(ks, 'example.com/app/sub'), [b.fingerprint]);
  assert.deepEqual(await fprs(ks, 'example.com/app/sub/deeper'), [b.fingerprint]);
  for (const sibling of ['example.com/app-evil', 'example.com/apple', 'example.com/ap', 'example.com', 'example.comx/app', 'other.com/example.com/app'])
    assert.deepEqual(await fprs(ks, sibling), [], sibling);
  assert.equal(await ks.hasPrefixKeysFor('example.com/app/sub'), true);
  assert.equal(await ks.hasPrefixKeysFor('example.com/apple'), false);
});

test('keyring = root.d keys then each prefix level, system before local', async (t) => {
  const d = configDirs();
  t.after(() => d.cleanup());
  d.put('system', `root.d/${a.fingerprint}`, a.publicKey);
  d.put('local', `prefix.d/example.com/${c.fingerprint}`, c.publicKey);
  d.put('system', `prefix.d/example.com/app/${b.fingerprint}`, b.publicKey);
  const ring = await store(d).keyringFor('example.com/app');
  assert.deepEqual(
    ring.map((k) => [k.fingerprint, k.layer, k.prefix]),
    [
      [a.fingerprint, 'system', ''],
      [c.fingerprint, 'local', 'example.com'],
      [b.fingerprint, 'system', 'example.com/app'],
    ],
  );
  assert.equal(ring[0]!.path, join(d.system, 'trustedkeys', 'root.d', a.fingerprint));
  assert.deepEqual(ring[0]!.key.getUserIDs(), ['Vendor <vendor@example.com>']);
  // A root key applies to every name; prefix keys only below their prefix.
  assert.deepEqual(await fprs(store(d), 'unrelated.org/x'), [a.fingerprint]);
  // The same key in two places is listed once.
  d.put('local', `root.d/${c.fingerprint}`, c.publicKey);
  assert.deepEqual(await fprs(store(d), 'example.com/app'), [a.fingerprint, c.fingerprint, b.fingerprint]);
});

test('an empty local file masks the system key with that fingerprint, whatever the order', async (t) => {
  const d = configDirs();
  t.after(() => d.cleanup());
  d.put('system', `root.d/${a.fingerprint}`, a.publicKey);
  d.put('system', `prefix.d/example.com/app/${b.fingerprint}`, b.publicKey);
  const ks = store(d);
  assert.deepEqual(await fprs(ks, 'example.com/app'), [a.fingerprint, b.fingerprint]);
  // Mask the vendor root key in local root.d, and the prefix key from a shorter local prefix level
  // (read before the system key's level).
  d.put('local', `root.d/${a.fingerprint}`, '');
  d.put('local', `prefix.d/example.com/${b.fingerprint}`, '');
  assert.deepEqual(await fprs(ks, 'example.com/app'), []);
  // A mask applies only to keyrings whose scope contains it.
  d.put('system', `prefix.d/other.org/${b.fingerprint}`, b.publicKey);
  assert.deepEqual(await fprs(ks, 'other.org/x'), [b.fingerprint]);
  // Masks never hide local keys, and an empty system file masks nothing.
  d.put('local', `prefix.d/example.com/app/${a.fingerprint}`, a.publicKey);
  d.put('system', `root.d/${c.fingerprint}`, '');
  d.put('local', `root.d/${c.fingerprint}`, c.publicKey);
  assert.deepEqual(await fprs(ks, 'example.com/app'), [c.fingerprint, a.fingerprint]);
});

test('key files whose name is not the key\'s fingerprint, or that are not keys, are ignored with a warning', async (t) => {
  const d = configDirs();
  t.after(() => d.cleanup());
  const warnings: string[] = [];
  const wrong = d.put('local', `root.d/${a.fingerprint}`, b.publicKey); // b's key under a's name
  const upper = d.put('local', `root.d/${c.fingerprint.toUpperCase()}`, c.publicKey);
  const garbage = d.put('local', `prefix.d/example.com/${'0'.repeat(40)}`, 'not a key');
  d.put('local', 'root.d/.tmp-file', 'whatever'); // dotfiles are skipped silently
  d.put('local', `prefix.d/example.com/${b.fingerprint}`, b.publicKey);
  const ks = store(d, warnings);
  assert.deepEqual(await fprs(ks, 'example.com/x'), [b.fingerprint]);
  assert.equal(warnings.length, 3, warnings.join('\n'));
  assert.match(warnings.find((w) => w.includes(wrong))!, new RegExp(`fingerprint mismatch.*${a.fingerprint}.*${b.fingerprint}`));
  assert.match(warnings.find((w) => w.includes(upper))!, /not a key fingerprint/);
  assert.match(warnings.find((w) => w.includes(garbage))!, /not a valid OpenPGP public key/);
});

test('keyringFor refuses names that are not AC identifiers', async (t) => {
  const d = configDirs();
  t.after(() => d.cleanup());
  const ks = store(d);
  for (const bad of ['', '../etc', '/abs', 'Example.com/app', 'example.com//app', 'example.com/../x', 'https://example.com/x']) {
    await assert.rejects(ks.keyringFor(bad), (e) => isInvalidArgument(e), bad);
  }
});

test('validatePrefix: AC identifiers only, rkt wording for a scheme', () => {
  assert.equal(validatePrefix('example.com/app'), 'example.com/app');
  assert.equal(validatePrefix('coreos.com/etcd'), 'coreos.com/etcd');
  assert.throws(() => validatePrefix('https://example.com/app'), /--prefix must not contain a URL scheme, omit https:\/\//);
  for (const bad of ['', '..', '../x', 'a/../../b', '/etc/rkt', 'a//b', 'a/', './a', 'a/.', 'Example.com', 'a b', 'a\\b', 'a/*', 'a\0b'])
    assert.throws(() => validatePrefix(bad), (e) => isInvalidArgument(e), JSON.stringify(bad));
  assert.equal(isAcIdentifier('a.b-c_d~e/f'), true);
});

test('formatFingerprint groups by 4 with a double space in the middle', () => {
  assert.equal(formatFingerprint('8b86de38890ddb7291867b025210bd8888182190'), '8B86 DE38 890D DB72 9186  7B02 5210 BD88 8818 2190');
});

test('trust writes armored public keys 0644 in 0755 dirs of the local layer, atomically', async (t) => {
  const d = configDirs();
  t.after(() => d.cleanup());
  const old = process.umask(0o077);
  t.after(() => process.umask(old));
  const ks = store(d);
  const [stored] = await ks.trust({ prefix: 'example.com/app' }, b.publicKey);
  const expected = join(d.local, 'trustedkeys', 'prefix.d', 'example.com', 'app', b.fingerprint);
  assert.equal(stored!.path, expected);
  assert.equal(stored!.fingerprint, b.fingerprint);
  assert.equal(statSync(expected).mode & 0o777, 0o644);
  for (const dir of ['trustedkeys', 'trustedkeys/prefix.d', 'trustedkeys/prefix.d/example.com', 'trustedkeys/prefix.d/example.com/app'])
    assert.equal(statSync(join(d.local, dir)).mode & 0o777, 0o755, dir);
  assert.deepEqual(readdirSync(join(expected, '..')), [b.fingerprint], 'no temporary file left behind');
  assert.match(readFileSync(expected, 'utf8'), /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
  assert.equal(existsSync(join(d.system, 'trustedkeys')), false, 'nothing written to the system layer');
  assert.deepEqual(await fprs(ks, 'example.com/app/x'), [b.fingerprint]);

  const [root] = await ks.trust({ root: true }, a.publicKey);
  assert.equal(root!.path, join(d.local, 'trustedkeys', 'root.d', a.fingerprint));
  assert.deepEqual(await fprs(ks, 'anything.org/y'), [a.fingerprint]);
});

test('trust replaces a planted symlink instead of writing through it, and a mask by the key', async (t) => {
  const d = configDirs();
  t.after(() => d.cleanup());
  const ks = store(d);
  const victim = join(d.base, 'victim');
  writeFileSync(victim, 'precious');
  const target = d.put('local', `root.d/${a.fingerprint}`, ''); // a mask
  await ks.trust({ root: true }, a.publicKey);
  assert.match(readFileSync(target, 'utf8'), /PUBLIC KEY/);
  const link = join(d.local, 'trustedkeys', 'root.d', b.fingerprint);
  symlinkSync(victim, link);
  await ks.trust({ root: true }, b.publicKey);
  assert.equal(readFileSync(victim, 'utf8'), 'precious');
  assert.equal(lstatSync(link).isFile(), true);
});

test('trust stores each key of a keyring in its own file, public part only', async (t) => {
  const d = configDirs();
  t.after(() => d.cleanup());
  const ks = store(d);
  const ring = Buffer.concat([gpg.run(['--export', a.fingerprint]), gpg.run(['--export', c.fingerprint])]); // binary
  const stored = await ks.trust({ prefix: 'example.com' }, ring);
  assert.deepEqual(stored.map((s) => s.fingerprint), [a.fingerprint, c.fingerprint]);
  assert.deepEqual((await fprs(ks, 'example.com/z')).sort(), [a.fingerprint, c.fingerprint].sort()); // one directory: name order

  const secret = gpg.run(['--armor', '--export-secret-keys', b.fingerprint]).toString();
  const [s] = await ks.trust({ prefix: 'example.com' }, secret);
  const written = readFileSync(s!.path, 'utf8');
  assert.match(written, /PUBLIC KEY BLOCK/);
  assert.doesNotMatch(written, /PRIVATE KEY/);
  const [parsed] = await readPublicKeys(written);
  assert.equal(parsed!.isPrivate(), false);
});

test('trust refuses prefixes that could leave prefix.d, and non-keys', async (t) => {
  const d = configDirs();
  t.after(() => d.cleanup());
  const ks = store(d);
  for (const bad of ['../../escape', '/tmp/x', 'a/../../../b', 'http://example.com'])
    await assert.rejects(ks.trust({ prefix: bad }, a.publicKey), (e) => isInvalidArgument(e), bad);
  await assert.rejects(ks.trust({ prefix: 'example.com' }, 'hello'), /not a valid OpenPGP public key/);
  assert.equal(existsSync(join(d.local, 'trustedkeys', 'prefix.d', 'example.com')), false);
  assert.equal(existsSync(join(d.base, 'escape')), false);
});
