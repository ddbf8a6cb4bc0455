// actool build + validate of a ~500 MB rootfs: ours vs the reference actool 0.8.11, interleaved
// rounds, medians and ratios, plus peak RSS (GNU time). Run: `npm run bench actool` (or
// `node bench/actool.bench.mjs`). ACTOOL_BENCH_MB (default 500) and ACTOOL_BENCH_ROUNDS (3) tune it.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { actoolBin, compare, report } from './lib.mjs';

const REF = '/usr/bin/actool';
const MB = Number(process.env.ACTOOL_BENCH_MB ?? 500);
const ROUNDS = Number(process.env.ACTOOL_BENCH_ROUNDS ?? 3);
const base = join(tmpdir(), `actool-bench-v2-${MB}mb`);
const layout = join(base, 'layout');

/** A rootfs of mixed file sizes and contents (text-like and random), made once and kept. */
function generate() {
  const marker = join(base, '.complete');
  if (existsSync(marker)) return;
  rmSync(base, { recursive: true, force: true });
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const words = 'lorem ipsum dolor sit amet container image rootfs manifest kernel library binary config'.split(' ');
  let text = '';
  while (text.length < 4 << 20) text += Array.from({ length: 12 }, () => words[Math.floor(rand() * words.length)]).join(' ') + '\n';
  const textBuf = Buffer.from(text);
  const content = (size) => {
    if (rand() < 0.3) return randomBytes(size);
    const off = Math.floor(rand() * (textBuf.length - Math.min(size, textBuf.length)));
    if (size <= textBuf.length - off) return textBuf.subarray(off, off + size);
    return Buffer.concat(Array.from({ length: Math.ceil(size / textBuf.length) }, () => textBuf)).subarray(0, size);
  };
  const rootfs = join(layout, 'rootfs');
  mkdirSync(rootfs, { recursive: true });
  writeFileSync(join(layout, 'manifest'), JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/bench', labels: [{ name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }] }));
  const target = MB << 20;
  let total = 0;
  let n = 0;
  while (total < target) {
    const r = rand();
    const size = r < 0.95 ? Math.floor(rand() * 16384) : r < 0.999 ? 65536 + Math.floor(rand() * 1_000_000) : (16 << 20) + Math.floor(rand() * (16 << 20));
    const dir = join(rootfs, `d${n % 37}`, `s${n % 11}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${n}`), content(size));
    total += size;
    n++;
  }
  writeFileSync(marker, `${n} files, ${total} bytes\n`);
}

function peakRssKb(argv) {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = r.stderr.toString().trim().split('\n');
  return Number(lines.at(-1));
}

export default async function main() {
  generate();
  const out = join(base, 'out');
  mkdirSync(out, { recursive: true });
  const files = spawnSync('sh', ['-c', `find ${layout}/rootfs -type f | wc -l; du -sm ${layout}/rootfs | cut -f1`]).stdout.toString().trim().split('\n');
  const variants = (cmd, extra) => [
    { name: `ours ${cmd}`, argv: [process.execPath, actoolBin, ...extra('ours')] },
    { name: `reference ${cmd}`, argv: [REF, ...extra('ref')] },
  ];
  const aci = (who, kind) => join(out, `${who}-${kind}.aci`);
  const build = compare(variants('build', (w) => ['build', '--overwrite', layout, aci(w, 'gz')]), { rounds: ROUNDS, warmup: 1 });
  const buildPlain = compare(variants('build --no-compression', (w) => ['build', '--overwrite', '--no-compression', layout, aci(w, 'tar')]), {
    rounds: ROUNDS,
    warmup: 1,
  });
  // Both validate the same (reference-built) images.
  const validate = compare(variants('validate (gzip)', () => ['validate', aci('ref', 'gz')]), { rounds: ROUNDS, warmup: 1 });
  const validatePlain = compare(variants('validate (tar)', () => ['validate', aci('ref', 'tar')]), { rounds: ROUNDS, warmup: 1 });
  const ratio = (r, a) => (r[`ours ${a}`].median / r[`reference ${a}`].median).toFixed(2);
  const rss = {
    build: peakRssKb([process.execPath, actoolBin, 'build', '--overwrite', layout, aci('ours', 'gz')]),
    buildRef: peakRssKb([REF, 'build', '--overwrite', layout, aci('ref', 'gz')]),
    validate: peakRssKb([process.execPath, actoolBin, 'validate', aci('ref', 'gz')]),
    validateRef: peakRssKb([REF, 'validate', aci('ref', 'gz')]),
  };
  const size = (f) => (statSync(f).size / 1e6).toFixed(1);
  report('actool build and validate', { ...build, ...buildPlain, ...validate, ...validatePlain }, [
    `rootfs: ${files[0]} files, ${files[1]} MB; gzip image: ours ${size(aci('ours', 'gz'))} MB, reference ${size(aci('ref', 'gz'))} MB; ${ROUNDS} interleaved rounds (medians)`,
    '',
    `ratios ours/reference: build ${ratio(build, 'build')}×, build --no-compression ${ratio(buildPlain, 'build --no-compression')}×, validate gzip ${ratio(validate, 'validate (gzip)')}×, validate tar ${ratio(validatePlain, 'validate (tar)')}×`,
    '',
    `peak RSS: ours build ${(rss.build / 1024).toFixed(0)} MB (reference ${(rss.buildRef / 1024).toFixed(0)} MB), ours validate ${(rss.validate / 1024).toFixed(0)} MB (reference ${(rss.validateRef / 1024).toFixed(0)} MB)`,
  ]);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
