#!/usr/bin/env node
// rkt entry point. `rkt version` (and --version/-v) is answered here without importing oclif or
// the DI container: startup is most of its cost (docs/architecture.md, "Start-up").
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === 'version' || argv[0] === '--version' || argv[0] === '-v')) {
  const { versionText } = await import('../dist/version-info.js');
  process.stdout.write(versionText());
} else if (argv.length === 0) {
  process.stderr.write("missing command\nRun 'rkt help' for usage.\n");
  process.exitCode = 2;
} else {
  const { execute } = await import('@oclif/core/execute');
  await execute({ dir: import.meta.url });
}
