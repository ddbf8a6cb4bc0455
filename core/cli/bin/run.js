#!/usr/bin/env -S node --initial-old-space-size=64
// --initial-old-space-size: V8 otherwise starts the old generation small and, on a streaming
// import (fetch: 1 MiB chunks, stream objects promoted steadily), runs a full mark-compact every
// ~25 ms for as long as the stream lasts (~40 per GiB, ~0.25 s). 64 MB of initial old space is
// address space, not resident memory (peak RSS of a 1 GiB fetch is unchanged, ~125 MB).
// rkt entry point. `rkt version` (and --version/-v) is answered here without importing oclif or
// the DI container, and `rkt run` and `rkt fetch` go through a fast path without oclif: start-up is most of
// their cost (docs/architecture.md, "Start-up").
let argv = process.argv.slice(2);

// rkt's global flags may come before the command (`rkt --dir=/x --debug fetch IMG`), as with
// cobra's persistent flags; oclif wants them after it. Move them behind the command words.
const VALUE_FLAGS = new Set(['--dir', '--system-config', '--local-config', '--user-config', '--insecure-options']);
const TOPICS = new Set(['image', 'plugins']);
const FAST = new Set(['run', 'prepare', 'run-prepared', 'fetch']);
const fastCommand = async (id, args) => (await import('../dist/fast/index.js')).fastCommand(id, args);
if (argv.length > 0 && argv[0].startsWith('--') && argv[0] !== '--version' && argv[0] !== '--help') {
  const globals = [];
  let i = 0;
  while (i < argv.length && argv[i].startsWith('--')) {
    const a = argv[i++];
    globals.push(a);
    if (!a.includes('=') && VALUE_FLAGS.has(a) && i < argv.length) globals.push(argv[i++]);
  }
  const rest = argv.slice(i);
  const words = rest.length > 1 && TOPICS.has(rest[0]) && !rest[1].startsWith('-') ? 2 : Math.min(rest.length, 1);
  argv = [...rest.slice(0, words), ...globals, ...rest.slice(words)];
  process.argv = [...process.argv.slice(0, 2), ...argv];
}
if (argv.length === 1 && (argv[0] === 'version' || argv[0] === '--version' || argv[0] === '-v')) {
  const { versionText } = await import('../dist/version-info.js');
  process.stdout.write(versionText());
} else if (argv.length === 0) {
  process.stderr.write("missing command\nRun 'rkt help' for usage.\n");
  process.exitCode = 2;
} else if (!(FAST.has(argv[0]) && process.env.RKT_FAST_PATH !== '0' && (await fastCommand(argv[0], argv.slice(1))))) {
  // `rkt run`, `prepare`, `run-prepared` and `fetch` are tried without oclif first (src/fast/),
  // which declines what only oclif can do.
  const { execute } = await import('@oclif/core/execute');
  await execute({ dir: import.meta.url });
}
