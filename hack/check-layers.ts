// Enforces the dependency rule (docs/ARCHITECTURE.md) on the graph npm actually links:
// lib/* -> lib/*; crds -> nothing; programs -> lib/* and crds; e2e -> anything but itself.
// It also checks that every @metropolis/* import is declared by the importing workspace
// (eslint-plugin-import cannot resolve workspaces through `exports` and skips them).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

type Layer = 'lib' | 'contract' | 'program' | 'e2e';

const root = join(import.meta.dirname, '..');
const read = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Manifest;

function layerOf(dir: string): Layer {
  if (dir.startsWith('lib/')) return 'lib';
  if (dir === 'crds') return 'contract';
  if (dir === 'e2e') return 'e2e';
  return 'program';
}

const allowed: Record<Layer, readonly Layer[]> = {
  lib: ['lib'],
  contract: [],
  program: ['lib', 'contract'],
  e2e: ['lib', 'contract', 'program'],
};

const dirs = [
  ...readdirSync(join(root, 'lib')).map((name) => `lib/${name}`),
  'crds',
  'node-agent',
  'operator',
  'metroctl',
  'os-image',
  'e2e',
].filter((dir) => existsSync(join(root, dir, 'package.json')));

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith('.ts')) yield path;
  }
}

const isTestFile = (path: string): boolean =>
  /\.test\.ts$|\/(test|bench)\//.test(path) || path.includes('/e2e/');

const byName = new Map(dirs.map((dir) => [read(dir).name, dir]));
const problems: string[] = [];
for (const dir of dirs) {
  const manifest = read(dir);
  const runtime = new Set(Object.keys(manifest.dependencies ?? {}));
  const dev = new Set(Object.keys(manifest.devDependencies ?? {}));
  for (const dep of [...runtime, ...dev]) {
    const target = byName.get(dep);
    if (target === undefined) continue;
    const from = layerOf(dir);
    const to = layerOf(target);
    if (!allowed[from].includes(to) || target === dir) {
      problems.push(`${dir} (${from}) depends on ${target} (${to}): not allowed`);
    }
  }
  for (const file of sourceFiles(join(root, dir))) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(@metropolis\/[a-z0-9-]+)/g)) {
      const name = match[1] ?? '';
      const declared = runtime.has(name) || (isTestFile(file) && dev.has(name));
      if (name !== manifest.name && !declared) {
        problems.push(
          `${relative(root, file)} imports ${name}, which ${dir}/package.json does not declare`,
        );
      }
    }
  }
}
if (problems.length > 0) {
  console.error(`dependency rule violated (docs/ARCHITECTURE.md):\n  ${problems.join('\n  ')}`);
  process.exitCode = 1;
}
