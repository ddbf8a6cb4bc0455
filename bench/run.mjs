#!/usr/bin/env node
// `npm run bench [name…]`: runs bench/<name>.bench.mjs (all of them without names).
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const all = readdirSync(dir).filter((f) => f.endsWith('.bench.mjs')).map((f) => f.replace(/\.bench\.mjs$/, ''));
const names = process.argv.slice(2).length ? process.argv.slice(2) : all;
for (const name of names) {
  if (!all.includes(name)) {
    console.error(`unknown benchmark ${name}; available: ${all.join(', ')}`);
    process.exit(2);
  }
  const mod = await import(new URL(`./${name}.bench.mjs`, import.meta.url));
  await mod.default();
}
