#!/usr/bin/env node
// Entry point of the `sealpost` command. Runs the compiled CLI (npm ci builds dist/ via `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(compiled)) {
  console.error('sealpost: dist/ is missing; run `npm run build` (npm ci does it for you)');
  process.exit(1);
}
const { main } = await import(pathToFileURL(compiled).href);
process.exitCode = await main(process.argv.slice(2));
