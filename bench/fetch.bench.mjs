// `rkt fetch` of a ~1 GiB local, signed, uncompressed ACI vs `openssl dgst -sha512` of the same file
// (the hashing floor). Goal (issue 4): ≥ 80% of openssl's throughput, peak RSS ≤ 150 MB.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compare, report, rktBin } from './lib.mjs';

export default function fetchBench({ sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 1024), rounds = 3 } = {}) {
  const work = mkdtempSync(join(tmpdir(), 'rkt-bench-fetch-'));
  const shm = existsSync('/dev/shm') ? join('/dev/shm', `rkt-bench-fetch-${process.pid}`) : undefined;
  try {
    const rootfs = join(work, 'layout', 'rootfs');
    mkdirSync(rootfs, { recursive: true });
    // Large incompressible files plus a few small ones.
    const files = Math.max(1, Math.round(sizeMiB / 64));
    for (let i = 0; i < files; i++) execFileSync('sh', ['-c', `head -c ${64 << 20} /dev/urandom > '${join(rootfs, `blob${i}`)}'`]);
    writeFileSync(join(work, 'layout', 'manifest'), JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/bench', labels: [{ name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }] }));
    const aci = join(work, 'bench.aci');
    execFileSync('tar', ['-C', join(work, 'layout'), '-cf', aci, 'manifest', 'rootfs']);
    const gnupg = join(work, 'gnupg');
    mkdirSync(gnupg, { mode: 0o700 });
    const gpg = (...a) => execFileSync('gpg', ['--batch', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', '', ...a], { env: { ...process.env, GNUPGHOME: gnupg } });
    gpg('--quick-gen-key', 'bench <bench@example.com>', 'rsa2048', 'sign', 'never');
    gpg('--armor', '--detach-sign', '--output', `${aci}.asc`, aci);
    writeFileSync(join(work, 'key.asc'), gpg('--armor', '--export', 'bench@example.com'));
    const flags = [`--dir=${join(work, 'data')}`, `--local-config=${join(work, 'etc')}`, `--system-config=${join(work, 'sys')}`];
    execFileSync(rktBin, [...flags, 'trust', '--prefix=example.com/bench', '--skip-fingerprint-review', join(work, 'key.asc')], { stdio: 'ignore' });
    const bytes = statSync(aci).size;
    const results = compare(
      [
        { name: 'openssl dgst -sha512', argv: ['openssl', 'dgst', '-sha512', aci] },
        // The durable-write floor: the store must write the image and fsync it before it is visible.
        {
          name: 'dd conv=fsync (copy)',
          argv: ['dd', `if=${aci}`, `of=${join(work, 'copy')}`, 'bs=1M', 'conv=fsync', 'status=none'],
          after: () => rmSync(join(work, 'copy'), { force: true }),
        },
        {
          name: 'rkt fetch',
          argv: [rktBin, ...flags, 'fetch', aci],
          before: () => rmSync(join(work, 'data'), { recursive: true, force: true }),
        },
        // The same with the store on tmpfs (fsync is free there): what hashing, verifying and
        // copying cost without this machine's (shared, noisy) disk.
        ...(shm
          ? [
              {
                name: 'rkt fetch (store on tmpfs)',
                argv: [rktBin, `--dir=${shm}`, ...flags.slice(1), 'fetch', aci],
                before: () => rmSync(shm, { recursive: true, force: true }),
              },
            ]
          : []),
      ],
      { rounds, warmup: 1 },
    );
    rmSync(join(work, 'data'), { recursive: true, force: true });
    if (shm) rmSync(shm, { recursive: true, force: true });
    const rss = spawnSync('/usr/bin/time', ['-f', '%M', rktBin, ...flags, 'fetch', aci], { encoding: 'utf8' });
    const peakKiB = Number(rss.stderr.trim().split('\n').pop());
    const mbps = (ms) => (bytes / (1 << 20) / (ms / 1000)).toFixed(0);
    const o = results['openssl dgst -sha512'].median;
    const r = results['rkt fetch'].median;
    return report('fetch', results, [
      `image: ${(bytes / (1 << 20)).toFixed(0)} MiB uncompressed, RSA-2048/SHA-512 signature`,
      `throughput: openssl ${mbps(o)} MiB/s, rkt fetch ${mbps(r)} MiB/s → ${(o / r).toFixed(2)} of openssl (goal ≥ 0.80: ${o / r >= 0.8 ? 'met' : 'NOT met'})`,
      ...(shm
        ? [
            `store on tmpfs: rkt fetch ${mbps(results['rkt fetch (store on tmpfs)'].median)} MiB/s → ${(o / results['rkt fetch (store on tmpfs)'].median).toFixed(2)} of openssl (the same work without the disk)`,
          ]
        : []),
      `durable copy (dd conv=fsync) ${mbps(results['dd conv=fsync (copy)'].median)} MiB/s: rkt fetch (hash + verify + write + fsync) runs at ${(results['dd conv=fsync (copy)'].median / r).toFixed(2)}× the speed of a plain durable copy on this disk`,
      `rkt fetch peak RSS: ${(peakKiB / 1024).toFixed(0)} MiB (goal ≤ 150 MB: ${peakKiB / 1024 <= 143 ? 'met' : 'NOT met'})`,
    ]);
  } finally {
    rmSync(work, { recursive: true, force: true });
    if (shm) rmSync(shm, { recursive: true, force: true });
  }
}
