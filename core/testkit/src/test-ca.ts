/**
 * A throw-away certificate authority for tests, generated with the host's `openssl`.
 *
 * Each call makes a fresh CA and a server certificate signed by it, valid for the loopback names
 * (`127.0.0.1`, `localhost`). Nothing is trusted globally: a client trusts the CA by passing
 * `caPem` as `ca` to node:https/node:tls, or a child process gets `NODE_EXTRA_CA_CERTS=caPath`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificate {
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
}

export interface TestCa {
  /** Temporary directory holding every file below. */
  readonly dir: string;
  /** The CA certificate (PEM): what a client must trust. */
  readonly caPem: string;
  /** Path of the CA certificate, e.g. for `NODE_EXTRA_CA_CERTS`. */
  readonly caPath: string;
  /** A server certificate for the loopback names, signed by this CA. */
  readonly server: TestCertificate;
  /** Issue another server certificate signed by this CA (e.g. for a name that does not match). */
  issue(name: string, altNames: string[]): Promise<TestCertificate>;
  /** Remove the temporary directory. */
  cleanup(): Promise<void>;
}

export interface TestCaOptions {
  /** Subject alternative names of the default server certificate. */
  altNames?: string[];
  /** Common name of the CA (handy to tell two CAs apart in error messages). */
  caName?: string;
}

const DEFAULT_ALT_NAMES = ['IP:127.0.0.1', 'DNS:localhost'];

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Create a CA and a loopback server certificate in a fresh temporary directory. */
export async function createTestCa(options: TestCaOptions = {}): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'rkt-test-ca-'));
  let serial = 1;
  try {
    const caName = options.caName ?? 'rkt-ts test CA';
    await openssl(dir, [
      'req', '-x509', ...ecKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2',
      '-subj', `/CN=${caName}`,
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    const caPath = join(dir, 'ca.crt');
    const caPem = await readFile(caPath, 'utf8');

    const issue = async (name: string, altNames: string[]): Promise<TestCertificate> => {
      const base = `cert-${serial++}`;
      await writeFile(
        join(dir, `${base}.ext`),
        [
          'basicConstraints=CA:FALSE',
          'keyUsage=critical,digitalSignature,keyEncipherment',
          'extendedKeyUsage=serverAuth',
          `subjectAltName=${altNames.join(',')}`,
          '',
        ].join('\n'),
      );
      await openssl(dir, [
        'req', '-new', ...ecKey, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${name}`,
      ]);
      await openssl(dir, [
        'x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial',
        String(serial * 1000 + Math.floor(Math.random() * 1000)), '-days', '2', '-sha256',
        '-extfile', `${base}.ext`, '-out', `${base}.crt`,
      ]);
      const certPath = join(dir, `${base}.crt`);
      const keyPath = join(dir, `${base}.key`);
      return {
        certPath,
        keyPath,
        certPem: await readFile(certPath, 'utf8'),
        keyPem: await readFile(keyPath, 'utf8'),
      };
    };

    const server = await issue('localhost', options.altNames ?? DEFAULT_ALT_NAMES);
    return {
      dir,
      caPem,
      caPath,
      server,
      issue,
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
