import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RktError,
  ErrorCodes,
  EXIT_RKT_FAILURE,
  exitCodeOf,
  formatError,
  isNotFound,
  isSkipPlugin,
  isRktError,
  notFound,
  skipPlugin,
  invalidArgument,
} from '../src/errors.js';

test('errors carry a stable code, rkt exit status 254 by default, and a cause', () => {
  const cause = new Error('ENOENT: no such file');
  const e = notFound('image not found', { cause });
  assert.equal(e.code, 'E_NOT_FOUND');
  assert.equal(e.exit, EXIT_RKT_FAILURE);
  assert.equal(e.cause, cause);
  assert.equal(exitCodeOf(e), 254);
  assert.equal(exitCodeOf(new Error('plain')), 254);
  assert.equal(exitCodeOf(new RktError(ErrorCodes.APP_EXIT, 'app failed', { exit: 3 })), 3);
});

test('classification is by code, not instanceof (a copy from another package instance)', () => {
  const foreign = Object.assign(new Error('gone'), { code: 'E_NOT_FOUND', rktError: true });
  assert.ok(!(foreign instanceof RktError));
  assert.ok(isNotFound(foreign));
  assert.ok(isRktError(foreign));
  assert.ok(!isNotFound(invalidArgument('x')));
  assert.ok(!isNotFound({ code: 'E_NOT_FOUND' }), 'objects without the marker are not rkt errors');
  assert.ok(isSkipPlugin(skipPlugin('no systemd-nspawn')));
});

test('formatError prints msg: innermost without debug, and the chain as a tree with it', () => {
  const e = invalidArgument('cannot fetch image', { cause: new Error('signature mismatch', { cause: new Error('bad key') }) });
  assert.equal(formatError(e), 'cannot fetch image: bad key');
  assert.equal(formatError(e, true), 'cannot fetch image\n  └─signature mismatch\n    └─bad key');
  assert.equal(formatError(notFound('alone')), 'alone');
});
