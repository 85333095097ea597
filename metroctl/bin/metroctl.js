#!/usr/bin/env node
// Runs metroctl from its TypeScript source: re-executes node with tsx and the `source`
// condition, so workspace imports resolve to src/ without a build.
import { spawnSync } from 'node:child_process';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

// Resolved from here, so the CLI also works when started from outside the checkout.
const tsx = import.meta.resolve('tsx');
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const result = spawnSync(
  process.execPath,
  [`--import=${tsx}`, '--conditions=source', main, ...process.argv.slice(2)],
  // Ctrl-C reaches the child through the terminal's process group; metroctl decides the code.
  { stdio: 'inherit' },
);
if (result.error !== undefined) throw result.error;
if (result.signal !== null) process.kill(process.pid, result.signal);
process.exitCode = result.status ?? 1;
