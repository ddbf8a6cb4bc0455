import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appcIsolator, runtimeSettings } from '../src/common/isolators.js';
import contribution from '../src/isolators-contribution.js';

test('the appc contribution covers the standard isolators this stage1 implements, and reports the others', () => {
  assert.deepEqual([...appcIsolator.names].sort(), [
    'os/linux/capabilities-remove-set',
    'os/linux/capabilities-retain-set',
    'os/linux/cpu-shares',
    'os/linux/no-new-privileges',
    'os/linux/oom-score-adj',
    'os/linux/seccomp-remove-set',
    'os/linux/seccomp-retain-set',
    'os/unix/sysctl',
    'resource/cpu',
    'resource/memory',
  ]);
  const other = ['resource/block-bandwidth', 'resource/block-iops', 'resource/network-bandwidth', 'os/linux/selinux-context'];
  assert.deepEqual(runtimeSettings(other.map((name) => ({ name, value: {} }))).ignored, other);
  assert.equal(contribution.point, 'rkt.isolator.v1');
});

test('appcIsolator validates with the caller\'s location and applies like runtimeSettings', () => {
  assert.throws(() => appcIsolator.validate({ name: 'resource/memory', value: { limit: '100' } }, 'apps[0].isolators[1]'), /apps\[0\]\.isolators\[1\].*below 4096/);
  assert.throws(() => appcIsolator.validate({ name: 'example.com/other', value: 1 }, 'here'), /not an appc standard isolator/);
  const s = {};
  appcIsolator.apply({ name: 'os/linux/oom-score-adj', value: 300 }, s);
  assert.deepEqual(s, runtimeSettings([{ name: 'os/linux/oom-score-adj', value: 300 }]).settings);
});

test('settings from stage0 are the starting point; the names it handled are not interpreted again', () => {
  const external = { settings: { oomScoreAdj: 900, unixSysctl: { 'net.ipv4.ip_forward': '0' } }, handled: ['os/unix/sysctl'] };
  const r = runtimeSettings(
    [
      { name: 'os/unix/sysctl', value: { 'kernel.x': '1' } },
      { name: 'os/linux/oom-score-adj', value: 100 },
    ],
    [],
    external,
  );
  assert.deepEqual(r.settings, { oomScoreAdj: 100, unixSysctl: { 'net.ipv4.ip_forward': '0' } }, "the app's own isolator wins; the handled one is not re-applied");
  assert.deepEqual(r.ignored, []);
  assert.equal(external.settings.oomScoreAdj, 900, 'the given settings are not modified');
});
