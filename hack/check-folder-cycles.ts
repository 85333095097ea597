// Enforces that a program's folders import only downward (docs/ARCHITECTURE.md): the graph of
// relative imports between the top-level folders of each listed src/ must have no cycle, so no
// folder imports one that imports it back. Files at the src/ root (main.ts, errors.ts) are not nodes.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** The source roots whose folders are checked. */
const roots = ['operator/src', 'node-agent/src'];

const root = join(import.meta.dirname, '..');

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith('.ts')) yield path;
  }
}

/** The top-level folder of `path` under `src`, or undefined for a file at the root or outside. */
function folderOf(src: string, path: string): string | undefined {
  const parts = relative(src, path).split(sep);
  return parts.length < 2 || parts[0] === '..' ? undefined : parts[0];
}

/** Folder -> folder it imports -> one import that shows the arrow. */
type FolderGraph = Map<string, Map<string, string>>;

function folderGraph(src: string): FolderGraph {
  const graph: FolderGraph = new Map();
  for (const file of sourceFiles(src)) {
    const from = folderOf(src, file);
    if (from === undefined) continue;
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const specifier = match[1] ?? '';
      const to = folderOf(src, resolve(dirname(file), specifier));
      if (to === undefined || to === from) continue;
      const edges = graph.get(from) ?? new Map<string, string>();
      graph.set(from, edges);
      if (!edges.has(to)) edges.set(to, `${relative(src, file)} imports '${specifier}'`);
    }
  }
  return graph;
}

/** One cycle per strongly connected component of more than one folder (Tarjan). */
function cycles(graph: FolderGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node) ?? 0);
    stack.push(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (stack.includes(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
      component.push(top);
      if (top === node) break;
    }
    if (component.length > 1) found.push(cycleWithin(graph, new Set(component), node));
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return found;
}

/** A path from `start` back to itself inside one component (breadth-first: a shortest one). */
function cycleWithin(graph: FolderGraph, component: ReadonlySet<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  for (let node = queue.shift(); node !== undefined; node = queue.shift()) {
    for (const next of graph.get(node)?.keys() ?? []) {
      if (!component.has(next)) continue;
      if (next === start) {
        const path = [start];
        for (
          let at: string | undefined = node;
          at !== start && at !== undefined;
          at = previous.get(at)
        ) {
          path.unshift(at);
        }
        path.unshift(start);
        return path;
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start, start];
}

const problems: string[] = [];
for (const dir of roots) {
  const graph = folderGraph(join(root, dir));
  for (const cycle of cycles(graph)) {
    const arrows = cycle
      .slice(1)
      .map((to, i) => `    ${graph.get(cycle[i] ?? '')?.get(to) ?? `${cycle[i] ?? ''} -> ${to}`}`);
    problems.push(`${dir}: ${cycle.join(' -> ')}\n${arrows.join('\n')}`);
  }
}
if (problems.length > 0) {
  console.error(
    `folders import each other back (docs/ARCHITECTURE.md):\n  ${problems.join('\n  ')}`,
  );
  process.exitCode = 1;
}
