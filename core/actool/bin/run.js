#!/usr/bin/env node
// actool entry point. Global flags, `help` and unknown commands are handled like the reference
// (Go flag package) before oclif; oclif then dispatches to ./dist/commands. `actool version` is
// answered here without loading anything.
const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === 'version') {
  process.stdout.write('actool version 0.8.11\n');
} else {
  const { prepare, processIo } = await import('../dist/cli.js');
  const p = prepare(argv, processIo);
  if ('exit' in p) process.exitCode = p.exit;
  else {
    const { Config } = await import('@oclif/core');
    const config = await Config.load(import.meta.url);
    await config.runCommand(p.command, p.args);
  }
}
