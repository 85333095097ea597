// Fixtures in the bundle builder's process format: a tiny node agent that reports what it booted
// and then exits, stays up, listens or forks as data/fake-agent.json tells it.
import { readFileSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { create } from 'tar';
import { encodeProcessLoader } from '@metropolis/api';
import type { ProcessNode } from '@metropolis/process-node';

/** What the fake agent does after it has reported itself; keyed by release version. */
export interface FakeBehaviour {
  /** Exit right away with this code, per version. */
  readonly exit?: Readonly<Record<string, number>>;
  /** Serve the version on this TCP port, on all addresses of the node. */
  readonly listen?: number;
  /** Start a child process (in the agent's process group) and write its PID to data/. */
  readonly child?: boolean;
}

/** One line of data/runs.jsonl: what one run of the fake agent saw. */
export interface FakeRun {
  readonly version: string;
  readonly cmdline: string;
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly pid: number;
  readonly childPid?: number;
}

const agentSource = `// Fake node agent: reports its version and kernel command line, then behaves as told.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const release = JSON.parse(readFileSync(join(here, 'release.json'), 'utf8'));
const argv = process.argv.slice(2);
const flag = (name) => argv[argv.indexOf(name) + 1];
const data = flag('--data');
const cmdline = readFileSync(flag('--cmdline'), 'utf8').trim();
const behaviourFile = join(data, 'fake-agent.json');
const behaviour = existsSync(behaviourFile) ? JSON.parse(readFileSync(behaviourFile, 'utf8')) : {};
console.log('fake-agent ' + release.version + ' cmdline: ' + cmdline);
process.on('SIGTERM', () => {
  console.log('fake-agent ' + release.version + ': SIGTERM, shutting down');
  process.exit(0);
});
let childPid;
if (behaviour.child) {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  childPid = child.pid;
}
appendFileSync(
  join(data, 'runs.jsonl'),
  JSON.stringify({ version: release.version, cmdline, argv, cwd: process.cwd(), pid: process.pid, childPid }) + '\\n',
);
const code = behaviour.exit?.[release.version];
if (code !== undefined) {
  console.log('fake-agent ' + release.version + ': exiting with ' + code);
  process.exit(code);
}
if (behaviour.listen) {
  createServer((socket) => socket.end(release.version + '\\n')).listen(behaviour.listen, '0.0.0.0');
}
setInterval(() => {}, 1 << 30);
`;

/** Writes a system image (tar) with the fake agent and a release.json of `version`. */
export async function fakeSystemImage(dir: string, version: string): Promise<string> {
  const source = join(dir, `image-${version}`);
  await mkdir(source, { recursive: true });
  await writeFile(join(source, 'node-agent.mjs'), agentSource);
  const release = { version, flavour: 'process', architecture: 'x86_64' };
  await writeFile(join(source, 'release.json'), `${JSON.stringify(release)}\n`);
  const path = join(dir, `system-${version}.tar`);
  await create({ file: path, cwd: source, portable: true }, ['node-agent.mjs', 'release.json']);
  return path;
}

/** Writes a process loader of `version` with the usual slot placeholder in its cmdline. */
export async function fakeLoader(dir: string, version: string): Promise<string> {
  const path = join(dir, `loader-${version}.efi`);
  await writeFile(
    path,
    encodeProcessLoader({ version, cmdline: 'console=ttyS0 root=PARTLABEL=METROPOLIS-SYSTEM-X' }),
  );
  return path;
}

export async function setBehaviour(node: ProcessNode, behaviour: FakeBehaviour): Promise<void> {
  await writeFile(join(node.layout.data, 'fake-agent.json'), JSON.stringify(behaviour));
}

/** Every run of the fake agent on `node` so far. */
export async function fakeRuns(node: ProcessNode): Promise<FakeRun[]> {
  const text = await readFile(join(node.layout.data, 'runs.jsonl'), 'utf8').catch(() => '');
  // A line without its newline yet is still being written.
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => JSON.parse(line) as FakeRun);
}

/** Waits until the fake agent has run `count` times in total and returns that run. */
export async function waitForRun(
  node: ProcessNode,
  count: number,
  timeoutMs = 20_000,
): Promise<FakeRun> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const run = (await fakeRuns(node))[count - 1];
    if (run !== undefined) return run;
    await sleep(50);
  }
  const console = await readFile(node.layout.consoleLog, 'utf8').catch(() => '');
  throw new Error(`the fake agent did not run ${String(count)} times; console:\n${console}`);
}

/** Appends a note to the node's console, so a failing test's log shows where it was. */
export async function note(node: ProcessNode, text: string): Promise<void> {
  await appendFile(node.layout.consoleLog, `test: ${text}\n`);
}

/**
 * Whether `pid` runs. A zombie counts as gone: it is dead, and this machine's PID 1 may take
 * its time to reap orphans.
 */
export function running(pid: number): boolean {
  const state = processState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** The state letter of `pid` in /proc (R, S, T for stopped, Z ...); undefined once it is gone. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    // Fields after "(comm)": state first; comm itself may hold spaces and parens.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}
