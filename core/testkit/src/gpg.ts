/**
 * Real gpg keys and detached signatures in a throw-away GNUPGHOME, for tests of trust and fetch.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface GpgKey {
  uid: string;
  /** Primary fingerprint, lowercase hex. */
  fingerprint: string;
  /** Armored public key. */
  publicKey: string;
}

export class Gpg {
  readonly home: string;
  constructor() {
    this.home = mkdtempSync(join(tmpdir(), 'rkt-gpg-'));
  }

  run(args: string[], input?: string | Buffer): Buffer {
    return execFileSync('gpg', ['--batch', '--no-tty', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], {
      env: { ...process.env, GNUPGHOME: this.home },
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  }

  /** algo: rsa2048, ed25519, …; expire: `never`, `1d`, `seconds=N`; fakedTime: gpg's `YYYYMMDDThhmmss`. */
  genKey(uid: string, algo = 'ed25519', expire = 'never', fakedTime?: string): GpgKey {
    this.run([...(fakedTime ? ['--faked-system-time', fakedTime] : []), '--quick-gen-key', uid, algo, 'sign', expire]);
    return this.key(uid);
  }

  key(uid: string): GpgKey {
    const colons = this.run(['--with-colons', '--list-keys', uid]).toString();
    const fpr = /^fpr:+([0-9A-F]+):/m.exec(colons)![1]!.toLowerCase();
    return { uid, fingerprint: fpr, publicKey: this.run(['--armor', '--export', fpr]).toString() };
  }

  /** Add a signing subkey to `fpr`; returns the subkey's fingerprint. */
  addSigningSubkey(fpr: string, algo = 'ed25519'): string {
    this.run(['--quick-add-key', fpr, algo, 'sign', 'never']);
    const colons = this.run(['--with-colons', '--list-keys', fpr]).toString();
    const fprs = [...colons.matchAll(/^fpr:+([0-9A-F]+):/gm)].map((m) => m[1]!.toLowerCase());
    return fprs[fprs.length - 1]!;
  }

  /** Import the revocation certificate gpg made at key generation: the key becomes revoked. */
  revoke(fpr: string): GpgKey {
    const dir = join(this.home, 'openpgp-revocs.d');
    const file = readdirSync(dir).find((f) => f.toLowerCase().startsWith(fpr))!;
    const cert = readFileSync(join(dir, file), 'utf8').replace(/^:-----/gm, '-----');
    this.run(['--import'], cert);
    return { uid: '', fingerprint: fpr, publicKey: this.run(['--armor', '--export', fpr]).toString() };
  }

  /** `gpg --armor --detach-sign` of `file` by `signer` (fingerprint; `!` forces a subkey). */
  sign(file: string, signer: string, extra: string[] = []): string {
    const out = `${file}.${Math.random().toString(36).slice(2)}.asc`;
    this.run(['--yes', ...extra, '--local-user', signer, '--armor', '--detach-sign', '--output', out, file]);
    const s = readFileSync(out, 'utf8');
    rmSync(out);
    return s;
  }

  cleanup(): void {
    try {
      execFileSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: this.home }, stdio: 'ignore' });
    } catch {
      // no agent was started
    }
    rmSync(this.home, { recursive: true, force: true });
  }
}

