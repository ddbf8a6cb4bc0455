/**
 * The nspawn flavor on a host where systemd is PID 1 (rkt.md §1.6 and §10.1): registration with
 * systemd-machined and the pod's journal. This machine (and CI) has no systemd as PID 1, so the
 * test boots one: systemd-nspawn --boot of the machine's own root through an overlay (writes go to
 * a tmpfs), with a private network namespace (only loopback) and a pure cgroup2 tree, as current
 * systemd distributions have (on this hybrid host nspawn would otherwise mount the v1 controllers
 * read-only). Inside, systemd runs a script as a transient unit (`systemd.run=`) that drives the
 * real `rkt` binary of this checkout and records what machinectl and journalctl say; then it
 * powers the container off and the test checks the records:
 * - `machinectl` lists `rkt-<uuid>`, class container, service rkt, in its machine scope when
 *   started as from a terminal, in the service's own unit when started from a system service
 *   (`--keep-unit`), and `systemctl stop` of that service stops the pod;
 * - a `Type=notify` service running `rkt run` becomes active once the pod is ready;
 * - `journalctl -M rkt-<uuid> -t <app>` shows the app's stdout and stderr while the pod runs,
 *   while rkt's own stdout gets the app's output unchanged;
 * - `rkt enter` reaches the app;
 * - `machinectl poweroff` stops the pod (the app gets SIGTERM, rkt exits 143);
 * - after the pod exits the journal stays readable with `journalctl --dir=/var/log/journal/<id>`;
 * - a failing app's exit status is rkt's, registered as well;
 * - the pod journal works with --private-users too (journald is the container's root);
 * - `rkt gc` leaves no machine, no journal link and no machine scope.
 * Skipped where systemd, machined, dbus or systemd-nspawn is missing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { stage1Image } from '../lib/images.js';
import { repoRoot, rktBin, rktDirs, run } from '../lib/cli.js';
import { buildAppAci } from './pods-lib.js';

const need = ['/usr/bin/systemd-nspawn', '/lib/systemd/systemd', '/lib/systemd/systemd-machined', '/usr/bin/dbus-daemon', '/usr/bin/machinectl'];
const missing = need.filter((p) => !existsSync(p));
const skip = process.getuid?.() !== 0 ? 'needs root' : missing.length ? `missing ${missing.join(', ')}` : false;

const dirs = rktDirs('rkt-systemd-');
const share = join(dirs.base, 'share');
const out = join(share, 'out');
const ovl = join(dirs.base, 'ovl');
const root = join(ovl, 'root');
const machine = `rkt-e2e-systemd-${process.pid}`;

after(() => {
  for (const m of [root, join(ovl, 't')]) if (existsSync(m)) spawnSync('umount', ['-l', m]);
  rmSync(join('/run/systemd/nspawn/propagate', machine), { recursive: true, force: true });
  dirs.cleanup();
});

/** The script systemd runs in the booted container (everything it records goes to `out`). */
function innerScript(): string {
  const r = [rktBin, `--dir=${join(share, 'data')}`, `--local-config=${join(share, 'local')}`, `--system-config=${join(share, 'sys')}`, '--insecure-options=image'].join(' ');
  const s1 = '--stage1-from-dir=stage1-nspawn.aci --net=none';
  return `#!/bin/sh
O=${out}
exec >$O/script.log 2>&1
set -x
systemctl start dbus.service systemd-machined.service
export RKT_DATA_DIR=${join(share, 'plugin-data')} RKT_SETTINGS=
cd /
# as from a terminal: in a scope of its own, not a service
systemd-run --quiet --scope ${r} run ${s1} --uuid-file-save=${share}/uuid ${share}/talker.aci >$O/run1.out 2>$O/run1.err &
RUN=$!
i=0; while [ ! -s ${share}/uuid ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
U=$(cat ${share}/uuid); M=rkt-$U; ID=$(echo $U | tr -d -)
i=0; while [ $i -lt 300 ]; do journalctl -M $M -t talker -o cat --no-pager 2>/dev/null | grep -q oops && break; sleep 0.1; i=$((i+1)); done
machinectl show $M -p Class -p Service -p Unit >$O/machine
journalctl -M $M -t talker -o cat --no-pager >$O/journal-running
${r} enter $U /bin/busybox echo entered >$O/enter.out 2>&1
machinectl poweroff $M
wait $RUN; echo $? >$O/run1.status
journalctl --dir=/var/log/journal/$ID -t talker -o cat --no-pager >$O/journal-after
echo $ID >$O/id
${r} run ${s1} ${share}/failer.aci >$O/run2.out 2>$O/run2.err; echo $? >$O/run2.status
${r} run ${s1} --private-users --no-overlay --uuid-file-save=${share}/uuid3 ${share}/priv.aci >$O/run3.out 2>$O/run3.err; echo $? >$O/run3.status
journalctl --dir=/var/log/journal/$(tr -d - < ${share}/uuid3) -t priv -o cat --no-pager >$O/journal3
# from a system service: the pod stays in the service's unit; stopping the service stops the pod
systemd-run --quiet --unit=rkt-e2e-svc -p Delegate=yes -p KillMode=mixed -E RKT_DATA_DIR -E RKT_SETTINGS= ${r} run ${s1} --uuid-file-save=${share}/uuid2 ${share}/talker.aci
i=0; while [ $i -lt 300 ]; do [ -s ${share}/uuid2 ] && machinectl show rkt-$(cat ${share}/uuid2) >/dev/null 2>&1 && break; sleep 0.1; i=$((i+1)); done
U2=$(cat ${share}/uuid2)
machinectl show rkt-$U2 -p Unit >$O/machine2
systemctl stop rkt-e2e-svc
${r} status $U2 >$O/status2 2>&1
# a Type=notify service (rkt's quick start): started once the pod is ready, with the default
# NotifyAccess=main although stage0 stays the main process
systemd-run --quiet --unit=rkt-e2e-notify --service-type=notify -p TimeoutStartSec=30 -E RKT_DATA_DIR -E RKT_SETTINGS= ${r} run ${s1} ${share}/talker.aci; echo $? >$O/notify.status
systemctl is-active rkt-e2e-notify >$O/notify.active
systemctl stop rkt-e2e-notify
${r} gc --grace-period=0s >$O/gc.out 2>&1; echo $? >$O/gc.status
machinectl list --no-legend >$O/machines-after
ls /var/log/journal >$O/journal-dirs-after
find /sys/fs/cgroup -name 'machine-rkt*' >$O/cgroups-after
echo done >$O/done
`;
}

test('nspawn under systemd: machined registration, the pod journal, poweroff, exit status, gc', { skip, timeout: 240_000 }, () => {
  for (const d of [out, join(share, 'local', 'paths.d'), join(share, 's1'), join(ovl, 't'), root]) mkdirSync(d, { recursive: true });
  stage1Image('nspawn', join(share, 's1'));
  writeFileSync(join(share, 'local', 'paths.d', 'paths.json'), JSON.stringify({ rktKind: 'paths', rktVersion: 'v1', 'stage1-images': join(share, 's1') }));
  buildAppAci(join(share, 'talker.aci'), { name: 'example.com/talker', exec: ['/bin/busybox', 'sh', '-c', 'echo hello-journal; echo oops >&2; exec /bin/busybox sleep 600'] });
  buildAppAci(join(share, 'priv.aci'), { name: 'example.com/priv', exec: ['/bin/busybox', 'sh', '-c', 'echo in-a-user-namespace'] });
  buildAppAci(join(share, 'failer.aci'), { name: 'example.com/failer', exec: ['/bin/busybox', 'sh', '-c', 'echo failing; exit 5'] });
  const script = join(share, 'inner.sh');
  writeFileSync(script, innerScript());
  chmodSync(script, 0o755);

  // The machine's root through an overlay whose upper layer is a tmpfs: the booted system writes
  // nothing to the disk.
  assert.equal(run('mount', ['-t', 'tmpfs', 'tmpfs', join(ovl, 't')]).status, 0);
  for (const d of ['up', 'wk']) mkdirSync(join(ovl, 't', d));
  const m = run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=/,upperdir=${join(ovl, 't', 'up')},workdir=${join(ovl, 't', 'wk')}`, root]);
  assert.equal(m.status, 0, m.stderr);

  const boot = run(
    'systemd-nspawn',
    [
      '-q', `--directory=${root}`, `--machine=${machine}`, '--register=no', '--keep-unit', '--link-journal=no', '--private-network',
      `--bind-ro=${repoRoot}`, `--bind=${share}`,
      '--boot', `systemd.run=${script}`, 'systemd.run_success_action=poweroff', 'systemd.run_failure_action=poweroff', 'systemd.show_status=0',
    ],
    { env: { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1' }, timeout: 200_000 },
  );
  const rec = (n: string) => (existsSync(join(out, n)) ? readFileSync(join(out, n), 'utf8') : '');
  assert.equal(rec('done'), 'done\n', `the script did not finish (nspawn ${boot.status}):\n${rec('script.log')}\n${boot.stderr.slice(-3000)}`);

  const uuid = readFileSync(join(share, 'uuid'), 'utf8').trim();
  const unit = `machine-rkt\\x2d${uuid.replace(/-/g, '\\x2d')}.scope`;
  assert.deepEqual(rec('machine').trim().split('\n').sort(), ['Class=container', 'Service=rkt', `Unit=${unit}`]);
  assert.equal(rec('journal-running'), 'hello-journal\noops\n', rec('run1.err'));
  assert.equal(rec('enter.out'), 'entered\n');
  assert.equal(rec('run1.out'), 'hello-journal\n', 'the console gets the app output unchanged');
  assert.match(rec('run1.err'), /^oops$/m);
  assert.equal(rec('run1.status'), '143\n', rec('run1.err'));
  assert.equal(rec('journal-after'), 'hello-journal\noops\n');
  assert.equal(rec('run2.status'), '5\n', rec('run2.err'));
  assert.equal(rec('run2.out'), 'failing\n');
  assert.equal(rec('machine2'), 'Unit=rkt-e2e-svc.service\n', rec('script.log'));
  assert.match(rec('status2'), /^state=exited$/m);
  assert.equal(rec('notify.status'), '0\n', rec('script.log'));
  assert.equal(rec('notify.active'), 'active\n');
  assert.match(rec('status2'), /^app-talker=143$/m);
  assert.equal(rec('run3.status'), '0\n', rec('run3.err'));
  assert.equal(rec('run3.out'), 'in-a-user-namespace\n');
  assert.equal(rec('journal3'), 'in-a-user-namespace\n', 'the pod journal with --private-users');
  assert.equal(rec('gc.status'), '0\n', rec('gc.out'));
  assert.equal(rec('machines-after'), '');
  assert.ok(!rec('journal-dirs-after').includes(rec('id').trim()), rec('journal-dirs-after'));
  assert.equal(rec('cgroups-after'), '');
});
