/** fly specifics: the app is a child of the run process, in the host's namespaces; contribution. */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as api from '@rkt/api';
import type { ActivationContext } from '@rkt/api';
import { TestPod, extractAci, mountsUnder, waitFor, withTimeout } from '@rkt/testkit';
import { FlyStage1 } from '../src/index.js';
import contribution from '../src/contribution.js';

describe('stage1 fly', { concurrency: false }, () => {
  let work: string;
  let tree: string;
  const pods: TestPod[] = [];
  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-fly-'));
    extractAci(await new FlyStage1().buildImage(work), (tree = path.join(work, 'tree')));
  });
  afterEach(async () => {
    while (pods.length) await pods.pop()!.destroy();
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it('runs the app as a child of the run process, in the host namespaces, chrooted, with its own process group', async () => {
    const pod = new TestPod(work, tree, {
      apps: [{ name: 'app', app: { exec: ['/bin/sh', '-c', 'for n in net pid ipc uts; do readlink /proc/self/ns/$n; done; ls /; echo up; exec sleep 600'], user: '0', group: '0' } }],
    });
    pods.push(pod);
    const running = pod.start(['--net=none']);
    await waitFor(() => running.stdout().includes('up') || (running.child.exitCode !== null ? assert.fail(running.stderr()) : false), 20000, 'app start');
    const lines = running.stdout().split('\n');
    for (const [i, n] of ['net', 'pid', 'ipc', 'uts'].entries()) assert.equal(lines[i], fs.readlinkSync(`/proc/self/ns/${n}`), `${n} namespace is the host's (--net ignored)`);
    assert.ok(lines.includes('etc') && lines.includes('bin') && !lines.includes('stage1'), 'the app sees its own rootfs');
    const pid = pod.readPid('pid')!;
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').slice(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
    assert.equal(Number(stat[1]), running.child.pid, 'the app is a child of the run entrypoint process');
    assert.equal(Number(stat[2]), pid, 'the app leads its own process group');
    assert.equal(pod.readPid('pgid'), pid);
    assert.equal(fs.readlinkSync(`/proc/${pid}/root`), pod.appRootfs('app'));
    assert.ok(mountsUnder(pod.appRootfs('app')).length >= 4, 'dev, proc, sys and tmp are mounted under the app rootfs');
    const fds = fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    });
    assert.equal(fds.includes(pod.dir), false, 'the pod lock fd does not reach the app');
    await pod.stop();
    const r = await withTimeout(running.done, 20000, 'exit');
    assert.equal(r.code, 128 + 15);
    assert.equal(pod.status('app'), String(128 + 15));
  });

  it('contribution: declared with its tools, skips without them', async () => {
    const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    assert.equal(pkg.rkt.contributes[0].id, 'fly');
    const mk = (which: (n: string) => string | undefined): ActivationContext => ({
      point: 'rkt.stage1.v1', id: 'fly', pluginName: '@rkt/stage1-fly', pluginRoot: '.', config: {},
      paths: { dataDir: '/var/lib/rkt', systemConfigDir: '/usr/lib/rkt', localConfigDir: '/etc/rkt', stage1ImagesDir: '/x' },
      debug: false, api, get: () => { throw new Error('none'); }, which, log: () => undefined,
    });
    const s = await contribution.init(mk((n) => `/usr/bin/${n}`));
    assert.equal(s.imageFileName, 'stage1-fly.aci');
    assert.deepEqual([...s.interfaceVersions], [5]);
    await assert.rejects(Promise.resolve().then(() => contribution.init(mk((n) => (n === 'setpriv' ? undefined : `/usr/bin/${n}`)))), (e: unknown) => api.isSkipPlugin(e) && /setpriv/.test((e as Error).message));
  });
});
