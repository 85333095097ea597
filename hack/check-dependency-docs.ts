// Keeps docs/dependencies.md true: every third-party package a package.json declares has its
// line (runtime ones in "Runtime", dev ones in "Development and test"), no line names a package
// nobody declares, and a runtime line's "used by" names exactly the workspaces that declare it.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface Manifest {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const root = join(import.meta.dirname, '..');
const docPath = 'docs/dependencies.md';
const workspaces = [
  '.',
  ...readdirSync(join(root, 'lib')).map((name) => `lib/${name}`),
  'crds',
  'node-agent',
  'operator',
  'metroctl',
  'os-image',
  'e2e',
];

const thirdParty = (deps: Record<string, string> | undefined): string[] =>
  Object.keys(deps ?? {}).filter((name) => !name.startsWith('@metropolis/'));

/** Package name -> the workspaces that declare it. */
const runtime = new Map<string, Set<string>>();
const dev = new Map<string, Set<string>>();
for (const dir of workspaces) {
  const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Manifest;
  for (const [deps, into] of [
    [manifest.dependencies, runtime],
    [manifest.devDependencies, dev],
  ] as const) {
    for (const name of thirdParty(deps)) into.set(name, (into.get(name) ?? new Set()).add(dir));
  }
}

/** The table rows of one `## ` section: cells without the outer pipes. */
function rows(doc: string, heading: string): string[][] {
  const section = doc.split(/^## /m).find((part) => part.startsWith(`${heading}\n`)) ?? '';
  return section
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|\s*-/.test(line))
    .slice(1) // the header
    .map((line) =>
      line
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
}

/** The npm packages a first cell names: backticked, except Debian packages. */
const packagesIn = (cell: string): string[] =>
  [...cell.matchAll(/(?<!Debian )`([^`\s]+)`/g)].map((match) => match[1] ?? '');

const doc = readFileSync(join(root, docPath), 'utf8');
const problems: string[] = [];
const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>): boolean =>
  a.size === b.size && [...a].every((item) => b.has(item));

function check(section: string, declared: Map<string, Set<string>>, withUsers: boolean): void {
  const documented = new Set<string>();
  for (const [first = '', second = ''] of rows(doc, section)) {
    for (const name of packagesIn(first)) {
      documented.add(name);
      const declaredBy = declared.get(name);
      if (declaredBy === undefined) {
        problems.push(`${section}: ${name} is listed, but no package.json declares it there`);
        continue;
      }
      if (!withUsers) continue;
      const users = new Set(
        second
          .replaceAll(/\([^)]*\)/g, '')
          .split(',')
          .map((user) => user.trim())
          .filter((user) => user !== ''),
      );
      if (!sameSet(users, declaredBy)) {
        problems.push(
          `${section}: ${name} is used by ${[...declaredBy].sort().join(', ')}, ` +
            `the doc says ${[...users].sort().join(', ')}`,
        );
      }
    }
  }
  for (const [name, by] of declared) {
    if (!documented.has(name)) {
      const where = [...by].map((dir) => (dir === '.' ? 'the root' : dir)).join(', ');
      problems.push(`${section}: ${name} (declared by ${where}) has no line`);
    }
  }
}

check('Runtime', runtime, true);
check('Development and test', dev, false);

if (problems.length > 0) {
  for (const problem of problems) process.stderr.write(`${docPath}: ${problem}\n`);
  process.exit(1);
}
