import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
const r = await build({ entryPoints: [{in: process.argv[2], out: 'node-agent'}], absWorkingDir: process.cwd(), outdir: '/tmp/lean/split', splitting: true, chunkNames: 'node-agent-chunks/[name]-[hash]', outExtension: {'.js': '.mjs'}, bundle: true, platform: 'node', format: 'esm', target: 'node20', conditions: ['source'], keepNames: true, write: false, logLevel: 'silent', banner: { js: "import { createRequire as __c } from 'node:module'; const require = __c(import.meta.url);" }});
for (const f of r.outputFiles) { mkdirSync(dirname(f.path), {recursive: true}); writeFileSync(f.path, f.contents); }
