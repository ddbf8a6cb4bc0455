// Metadata service throughput/latency from inside a pod: a static C client (bench/mds-client.c,
// gcc -static) runs in a real native-stage1 pod (--net=host, --mds-register) and sends 10,000
// GET …/acMetadata/v1/pod/uuid to `rkt metadata-service`, then the same to a Node `http`
// hello-world on 127.0.0.1 (the reference), each with a new connection per request and on one
// keep-alive connection. Reports p50/p99 latency, requests/s and the ratios to the reference.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, rktBin } from './lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond, what) {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function firstLine(child) {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.once('exit', (c) => reject(new Error(`exited ${c}`)));
  });
}

export default async function mds({ count = 10_000 } = {}) {
  const base = mkdtempSync(join(tmpdir(), 'rkt-mds-bench-'));
  const data = join(base, 'data');
  const local = join(base, 'local');
  const s1 = join(base, 'stage1-images');
  const args = [`--dir=${data}`, `--system-config=${join(base, 'system')}`, `--local-config=${local}`];
  const env = { ...process.env, RKT_DATA_DIR: join(base, 'plugin-data'), RKT_SETTINGS: '' };
  const children = [];
  try {
    mkdirSync(s1, { recursive: true });
    execFileSync(process.execPath, [join(repoRoot, 'stage1-flavors', 'native', 'dist', 'build-image.js'), s1]);
    mkdirSync(join(local, 'paths.d'), { recursive: true });
    writeFileSync(join(local, 'paths.d', 'paths.json'), JSON.stringify({ rktKind: 'paths', rktVersion: 'v1', 'stage1-images': s1 }));
    // the client image: one static binary
    const work = join(base, 'aci');
    mkdirSync(join(work, 'rootfs'), { recursive: true });
    execFileSync('gcc', ['-O2', '-static', '-o', join(work, 'rootfs', 'client'), join(repoRoot, 'bench', 'mds-client.c')]);
    const arch = { x64: 'amd64', arm64: 'aarch64' }[process.arch] ?? process.arch;
    writeFileSync(
      join(work, 'manifest'),
      JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/mds-client', labels: [{ name: 'os', value: 'linux' }, { name: 'arch', value: arch }], app: { exec: ['/client'], user: '0', group: '0' } }),
    );
    const aci = join(base, 'client.aci');
    execFileSync('tar', ['-C', work, '-cf', aci, 'manifest', 'rootfs']);

    // the reference: a Node http hello-world in its own process
    const hello = spawn(process.execPath, ['-e', "const s=require('http').createServer((q,r)=>r.end('hello')).listen(0,'127.0.0.1',()=>console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(hello);
    const helloPort = Number(await firstLine(hello));

    const svc = spawn(rktBin, ['metadata-service', ...args, '--listen-port=0'], { env, stdio: ['ignore', 'ignore', 'ignore'] });
    children.push(svc);
    await waitFor(() => existsSync(join(data, 'mds', 'registration.sock')), 'the metadata service');

    const r = spawnSync(
      rktBin,
      ['run', ...args, '--insecure-options=image', '--stage1-from-dir=stage1-native.aci', '--net=host', '--mds-register', aci, '--', String(count), 'mds=mds', `node-http=http://127.0.0.1:${helloPort}/`],
      { env, encoding: 'utf8', timeout: 600_000 },
    );
    if (r.status !== 0) throw new Error(`pod failed (${r.status}): ${r.stderr}`);
    const rows = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const by = (label, mode) => rows.find((x) => x.label === label && x.mode === mode);
    const lines = [
      `## mds`,
      '',
      `${count} sequential GET /acMetadata/v1/pod/uuid from inside a native pod (--net=host), static C client; reference: Node http hello-world on 127.0.0.1, same client, same pod.`,
      '',
      '| server | connection | p50 µs | p99 µs | req/s | req/s vs node http |',
      '|---|---|---|---|---|---|',
    ];
    for (const mode of ['close', 'keepalive'])
      for (const label of ['mds', 'node-http']) {
        const x = by(label, mode);
        const ref = by('node-http', mode);
        lines.push(`| ${label === 'mds' ? 'rkt metadata-service' : 'node http hello-world'} | ${mode === 'close' ? 'new per request' : 'keep-alive'} | ${x.p50_us} | ${x.p99_us} | ${x.rps} | ${(x.rps / ref.rps).toFixed(2)} |`);
      }
    const text = lines.join('\n') + '\n';
    process.stdout.write(text);
    mkdirSync(join(repoRoot, 'bench', 'results'), { recursive: true });
    writeFileSync(join(repoRoot, 'bench', 'results', 'mds.md'), text);
    return rows;
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await sleep(300);
    spawnSync(rktBin, ['gc', ...args, '--grace-period=0s'], { env, stdio: 'ignore' });
    rmSync(base, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await mds();
