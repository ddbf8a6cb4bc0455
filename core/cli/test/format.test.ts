import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goJson, ibytes, relativeTime, tabwrite } from '../src/runtime/format.js';
import { parseDuration } from '../src/runtime/duration.js';

test('tabwrite pads columns with tabs to multiples of 8, like Go tabwriter with padchar \\t', () => {
  const out = tabwrite([
    ['ID', 'NAME', 'SIZE'],
    ['sha512-0123456789ab', 'example.com/app:v1', '12 MiB'],
  ]);
  assert.equal(out, 'ID\t\t\tNAME\t\t\tSIZE\nsha512-0123456789ab\texample.com/app:v1\t12 MiB\n');
});

test('go-humanize style sizes and relative times', () => {
  assert.equal(ibytes(5), '5 B');
  assert.equal(ibytes(1536), '1.5 KiB');
  assert.equal(ibytes(12 * 1024 * 1024), '12 MiB');
  const now = new Date('2026-01-01T12:00:00Z');
  assert.equal(relativeTime(new Date(now.getTime() - 500), now), 'now');
  assert.equal(relativeTime(new Date(now.getTime() - 30_000), now), '30 seconds ago');
  assert.equal(relativeTime(new Date(now.getTime() - 150_000), now), '2 minutes ago');
  assert.equal(relativeTime(new Date(now.getTime() - 90 * 60_000), now), '1 hour ago');
  assert.equal(relativeTime(new Date(now.getTime() - 3 * 86400_000), now), '3 days ago');
});

test('Go JSON escaping and durations', () => {
  assert.equal(goJson({ a: '<b>&' }), '{"a":"\\u003cb\\u003e\\u0026"}');
  assert.equal(parseDuration('24h0m0s', '--x'), 86_400_000);
  assert.equal(parseDuration('1.5h', '--x'), 5_400_000);
  assert.equal(parseDuration('0', '--x'), 0);
  assert.equal(parseDuration('90s', '--x'), 90_000);
  assert.throws(() => parseDuration('5 minutes', '--grace-period'), /invalid duration "5 minutes" for --grace-period/);
  assert.throws(() => parseDuration('', '--x'), /invalid duration/);
});
