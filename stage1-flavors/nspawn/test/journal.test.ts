/**
 * The pod journal's plan (nspawn/journal.ts): how the host's journald is found and started inside
 * the container, over fake host trees (merged /usr or not) and stage1 trees with their own /lib.
 * The real thing runs in test/e2e/nspawn-systemd.e2e.test.ts, under systemd.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { elfInterpreter, podJournal } from '../src/nspawn/journal.js';

describe('nspawn pod journal', () => {
  let work: string;
  const dynamicExe = ['/usr/bin/true', '/bin/true'].find((p) => fs.existsSync(p))!;
  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-nspawn-journal-'));
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** A host tree with journald (a copy of a dynamic executable) and its dynamic linker. */
  function hostTree(name: string, merged: boolean): { root: string; interp: string } {
    const root = path.join(work, name);
    const interp = elfInterpreter(dynamicExe)!;
    fs.mkdirSync(path.join(root, 'usr', 'lib', 'systemd'), { recursive: true });
    fs.copyFileSync(dynamicExe, path.join(root, 'usr', 'lib', 'systemd', 'systemd-journald'));
    // the linker itself lives in /usr; /lib64 (or /lib) reaches it through a link or a real dir
    const linkerDir = path.dirname(interp).slice(1); // e.g. lib64
    if (merged) {
      fs.mkdirSync(path.join(root, 'usr', 'lib', 'x86_64-linux-gnu'), { recursive: true });
      fs.writeFileSync(path.join(root, 'usr', 'lib', 'x86_64-linux-gnu', path.basename(interp)), '');
      fs.symlinkSync('usr/lib', path.join(root, 'lib'));
      if (linkerDir !== 'lib') {
        fs.mkdirSync(path.join(root, 'usr', linkerDir), { recursive: true });
        fs.symlinkSync(`usr/${linkerDir}`, path.join(root, linkerDir));
      }
      // (relative links: the tree is not the machine's root)
      fs.symlinkSync(`../lib/x86_64-linux-gnu/${path.basename(interp)}`, path.join(root, 'usr', linkerDir, path.basename(interp)));
    } else {
      // the linker in the real /lib64 (or /lib) directory
      fs.mkdirSync(path.join(root, linkerDir), { recursive: true });
      fs.writeFileSync(path.join(root, linkerDir, path.basename(interp)), '');
    }
    return { root, interp };
  }

  it('reads the dynamic linker of an ELF executable; none for static binaries and other files', () => {
    assert.match(elfInterpreter(dynamicExe) ?? '', /^\/lib(64)?\/ld-linux.*\.so\.\d$/);
    if (fs.existsSync('/bin/busybox')) assert.equal(elfInterpreter('/bin/busybox'), undefined, 'busybox-static');
    const text = path.join(work, 'script');
    fs.writeFileSync(text, '#!/bin/sh\necho hi\n'.repeat(10));
    assert.equal(elfInterpreter(text), undefined);
  });

  it('merged /usr: binds /usr only, keeps the stage1 image’s /lib, starts journald through the linker in /usr', () => {
    const { root } = hostTree('merged', true);
    const stage1 = path.join(work, 'stage1-merged');
    fs.mkdirSync(path.join(stage1, 'lib', 'node_modules'), { recursive: true });
    const j = podJournal(stage1, root);
    assert.ok(typeof j !== 'string', String(j));
    assert.deepEqual(j.argv, [`/usr/lib/x86_64-linux-gnu/${path.basename(elfInterpreter(dynamicExe)!)}`, '/usr/lib/systemd/systemd-journald']);
    assert.deepEqual(j.binds, [{ source: path.join(root, 'usr'), target: '/usr', readOnly: true, recursive: true }]);
    // the stage1's own /lib (its node modules) stays: nothing is bound over it
  });

  it('without merged /usr the library dirs are bound, unless the stage1 image has its own', () => {
    const { root, interp } = hostTree('split', false);
    const linkerDir = path.dirname(interp).slice(1);
    const empty = path.join(work, 'stage1-empty');
    fs.mkdirSync(empty, { recursive: true });
    const j = podJournal(empty, root);
    assert.ok(typeof j !== 'string', String(j));
    assert.ok(j.binds.some((b) => b.target === `/${linkerDir}` && b.source === path.join(root, linkerDir) && b.readOnly));
    assert.deepEqual(j.argv, [interp, '/usr/lib/systemd/systemd-journald']);
    const own = path.join(work, 'stage1-own');
    fs.mkdirSync(path.join(own, linkerDir, 'x'), { recursive: true });
    assert.equal(podJournal(own, root), `the stage1 image has its own /${linkerDir}`);
  });

  it('a host without journald: no pod journal, and the reason', () => {
    const root = path.join(work, 'bare');
    fs.mkdirSync(path.join(root, 'usr'), { recursive: true });
    assert.equal(podJournal(path.join(work, 'stage1-empty'), root), 'the host has no systemd-journald');
  });
});
