import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { isUntrusted } from '@rkt/api';
import { Keystore } from '../src/runtime/keystore.js';
import { parseAciSignature, prepareSignatureCheck, verifyAciSignature } from '../src/runtime/signature.js';
import { Gpg, configDirs, type GpgKey } from './keystore-helpers.js';

const gpg = new Gpg();
const d = configDirs('rkt-sig-');
const aci = join(d.base, 'app.aci');
const data = randomBytes(3 * 1024 * 1024 + 17);
let rsa: GpgKey;
let ed: GpgKey;
let other: GpgKey;
let ks: Keystore;

before(() => {
  writeFileSync(aci, data);
  rsa = gpg.genKey('RSA Signer <rsa@example.com>', 'rsa2048');
  ed = gpg.genKey('Ed Signer <ed@example.com>', 'ed25519');
  other = gpg.genKey('Other <other@example.com>', 'ed25519');
  d.put('local', `prefix.d/example.com/app/${rsa.fingerprint}`, rsa.publicKey);
  d.put('system', `prefix.d/example.com/${ed.fingerprint}`, ed.publicKey);
  ks = new Keystore({ systemConfigDir: d.system, localConfigDir: d.local }, { warn: () => {} });
});
after(() => {
  gpg.cleanup();
  d.cleanup();
});

function untrustedMatching(re: RegExp) {
  return (e: unknown) => {
    assert.ok(isUntrusted(e), `expected an untrusted error, got ${String(e)}`);
    assert.match((e as Error).message, re);
    return true;
  };
}

test('gpg RSA and ed25519 detached signatures verify (path, stream, incremental)', async () => {
  const sigRsa = gpg.sign(aci, rsa.fingerprint);
  const who = await verifyAciSignature(ks, 'example.com/app', aci, Buffer.from(sigRsa));
  assert.equal(who.fingerprint, rsa.fingerprint);
  assert.equal(who.signingKeyFingerprint, rsa.fingerprint);
  assert.deepEqual(who.identities, ['RSA Signer <rsa@example.com>']);
  assert.equal(who.keyPath, join(d.local, 'trustedkeys', 'prefix.d', 'example.com', 'app', rsa.fingerprint));
  assert.equal(who.prefix, 'example.com/app');

  const sigEd = gpg.sign(aci, ed.fingerprint);
  const viaStream = await verifyAciSignature(ks, 'example.com/app/sub', createReadStream(aci, { highWaterMark: 4096 }), sigEd);
  assert.equal(viaStream.fingerprint, ed.fingerprint);
  assert.equal(viaStream.prefix, 'example.com');

  const check = await prepareSignatureCheck(ks, 'example.com/app', sigEd);
  for (let i = 0; i < data.length; i += 65536) check.update(data.subarray(i, i + 65536));
  assert.equal((await check.verify()).fingerprint, ed.fingerprint);
});

test('a hash the caller computes anyway (sha512 of the ACI) is shared, not recomputed', async () => {
  const sig = await parseAciSignature(gpg.sign(aci, rsa.fingerprint, ['--digest-algo', 'SHA512']));
  assert.deepEqual(sig.hashAlgorithms, ['sha512']);
  const h = createHash('sha512').update(data);
  const who = await sig.verifyWithHashes(ks, 'example.com/app', { sha512: h });
  assert.equal(who.hashAlgorithm, 'sha512');
  // The caller's hash is still usable (copied, not finalised).
  assert.equal(h.digest('hex'), createHash('sha512').update(data).digest('hex'));
  await assert.rejects(
    sig.verifyWithHashes(ks, 'example.com/app', { sha512: createHash('sha512').update(data.subarray(1)) }),
    untrustedMatching(/bad signature/),
  );
  // Concurrent verifications of one parsed signature do not see each other's digest.
  const [good, bad] = await Promise.allSettled([
    sig.verifyWithHashes(ks, 'example.com/app', { sha512: createHash('sha512').update(data) }),
    sig.verifyWithHashes(ks, 'example.com/app', { sha512: createHash('sha512').update('other') }),
  ]);
  assert.equal(good.status, 'fulfilled');
  assert.equal(bad.status, 'rejected');
});

test('binary (non-armored) signatures verify too', async () => {
  const out = join(d.base, 'bin.sig');
  gpg.run(['--yes', '--local-user', ed.fingerprint, '--detach-sign', '--output', out, aci]);
  const { readFileSync } = await import('node:fs');
  assert.equal((await verifyAciSignature(ks, 'example.com/x', aci, readFileSync(out))).fingerprint, ed.fingerprint);
});

test('tampered data is refused', async () => {
  const sig = gpg.sign(aci, rsa.fingerprint);
  const bad = Buffer.from(data);
  bad[12345] ^= 1;
  const check = await prepareSignatureCheck(ks, 'example.com/app', sig);
  check.update(bad);
  await assert.rejects(check.verify(), untrustedMatching(/signature verification failed for image "example\.com\/app": bad signature by key/));
  // Appended and truncated data too.
  const appended = await parseAciSignature(sig);
  appended.update(data).update(Buffer.from('x'));
  await assert.rejects(appended.verify(ks, 'example.com/app'), untrustedMatching(/bad signature/));
});

test('a corrupted signature value is refused by the public-key check (not only the 16-bit quick check)', async () => {
  for (const key of [rsa, ed]) {
    const openpgp = await import('openpgp');
    const { data: raw } = await openpgp.unarmor(gpg.sign(aci, key.fingerprint));
    const bytes = Buffer.from(raw as Uint8Array);
    bytes[bytes.length - 1] ^= 0x01; // inside the last signature MPI; the hashed part is intact
    await assert.rejects(
      verifyAciSignature(ks, 'example.com/app', aci, bytes),
      untrustedMatching(/bad signature by key .*: Signature verification failed/),
      key.uid,
    );
  }
});

test('a signature by a key not trusted for the name is refused, with the rkt trust hint', async () => {
  const sig = gpg.sign(aci, other.fingerprint);
  await assert.rejects(
    verifyAciSignature(ks, 'example.com/app', aci, sig),
    untrustedMatching(new RegExp(`signed by key ${other.fingerprint.toUpperCase()}, which is not trusted for "example.com/app": to trust a key for it, run: rkt trust --prefix "example.com/app"`)),
  );
  // The check happens before any data: prepareSignatureCheck refuses at once.
  await assert.rejects(prepareSignatureCheck(ks, 'example.com/app', sig), untrustedMatching(/not trusted/));
});

test('a key trusted for example.com/app does not verify example.com/app-evil or example.com/apple', async () => {
  const only = configDirs('rkt-sig-prefix-');
  after(() => only.cleanup());
  only.put('local', `prefix.d/example.com/app/${rsa.fingerprint}`, rsa.publicKey);
  const ks2 = new Keystore({ systemConfigDir: only.system, localConfigDir: only.local });
  const sig = gpg.sign(aci, rsa.fingerprint);
  assert.equal((await verifyAciSignature(ks2, 'example.com/app/sub', aci, sig)).fingerprint, rsa.fingerprint);
  for (const name of ['example.com/app-evil', 'example.com/apple'])
    await assert.rejects(verifyAciSignature(ks2, name, aci, sig), untrustedMatching(new RegExp(`no keys are trusted for image "${name}"`)));
});

test('a masked system key no longer verifies', async () => {
  const m = configDirs('rkt-sig-mask-');
  after(() => m.cleanup());
  m.put('system', `root.d/${ed.fingerprint}`, ed.publicKey);
  const ks2 = new Keystore({ systemConfigDir: m.system, localConfigDir: m.local });
  const sig = gpg.sign(aci, ed.fingerprint);
  assert.equal((await verifyAciSignature(ks2, 'any.org/thing', aci, sig)).prefix, '');
  m.put('local', `root.d/${ed.fingerprint}`, '');
  await assert.rejects(verifyAciSignature(ks2, 'any.org/thing', aci, sig), untrustedMatching(/no keys are trusted/));
});

test('unsigned images and unusable signatures are refused', async () => {
  await assert.rejects(verifyAciSignature(ks, 'example.com/app', aci, null), untrustedMatching(/image "example.com\/app" is not signed/));
  await assert.rejects(verifyAciSignature(ks, 'example.com/app', aci, new Uint8Array(0)), untrustedMatching(/is not signed: the signature is empty/));
  await assert.rejects(verifyAciSignature(ks, 'example.com/app', aci, 'garbage'), untrustedMatching(/no valid signatures found/));
  await assert.rejects(
    verifyAciSignature(ks, 'example.com/app', aci, gpg.sign(aci, rsa.fingerprint, ['--digest-algo', 'SHA1'])),
    untrustedMatching(/insecure hash algorithm SHA1/),
  );
  await assert.rejects(
    verifyAciSignature(ks, 'example.com/app', aci, gpg.sign(aci, rsa.fingerprint, ['--textmode'])),
    untrustedMatching(/text-mode signatures/),
  );
});

test('expired and revoked keys are refused', async () => {
  const g2 = new Gpg();
  after(() => g2.cleanup());
  // A key made in 2020 that expired a day later; the signature was made while it was valid.
  const expired = g2.genKey('Expired <expired@example.com>', 'ed25519', '1d', '20200101T000000');
  const old = join(d.base, 'old.asc');
  g2.run(['--yes', '--faked-system-time', '20200101T010000', '--local-user', expired.fingerprint, '--armor', '--detach-sign', '--output', old, aci]);
  const revoked = g2.genKey('Revoked <revoked@example.com>', 'ed25519');
  const sigRevoked = g2.sign(aci, revoked.fingerprint);
  const revokedKey = g2.revoke(revoked.fingerprint);
  const e = configDirs('rkt-sig-exp-');
  after(() => e.cleanup());
  e.put('local', `root.d/${expired.fingerprint}`, expired.publicKey);
  e.put('local', `root.d/${revoked.fingerprint}`, revokedKey.publicKey);
  const ks2 = new Keystore({ systemConfigDir: e.system, localConfigDir: e.local });
  const { readFileSync } = await import('node:fs');
  await assert.rejects(verifyAciSignature(ks2, 'example.com/app', aci, readFileSync(old)), untrustedMatching(/key [0-9A-F]{40} \(.*\) expired on 2020-01-02/));
  await assert.rejects(verifyAciSignature(ks2, 'example.com/app', aci, sigRevoked), untrustedMatching(/key [0-9A-F]{40} \(.*\) is revoked/));
  // Sanity: the same expired key verifies at a date when it was valid.
  const sig = await parseAciSignature(readFileSync(old));
  sig.update(data);
  assert.equal((await sig.verify(ks2, 'example.com/app', new Date('2020-01-01T12:00:00Z'))).fingerprint, expired.fingerprint);
});

test('a signature made by a signing subkey verifies against the trusted primary key', async () => {
  const g3 = new Gpg();
  after(() => g3.cleanup());
  const primary = g3.genKey('Sub Owner <sub@example.com>', 'ed25519');
  const sub = g3.addSigningSubkey(primary.fingerprint);
  const key = g3.key(primary.fingerprint);
  const s = configDirs('rkt-sig-sub-');
  after(() => s.cleanup());
  s.put('local', `prefix.d/example.com/${primary.fingerprint}`, key.publicKey);
  const ks2 = new Keystore({ systemConfigDir: s.system, localConfigDir: s.local });
  const who = await verifyAciSignature(ks2, 'example.com/app', aci, g3.sign(aci, `${sub}!`));
  assert.equal(who.fingerprint, primary.fingerprint);
  assert.equal(who.signingKeyFingerprint, sub);
  assert.deepEqual(who.identities, ['Sub Owner <sub@example.com>']);
});
