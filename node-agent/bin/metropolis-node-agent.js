#!/usr/bin/env node
// Runs the node agent (npx metropolis-node-agent ...) from its TypeScript source (see @metropolis/process/run-from-source).
import { URL } from 'node:url';
import { runFromSource } from '@metropolis/process/run-from-source';

runFromSource(new URL('../src/main.ts', import.meta.url));
