// Benchmark: the agent of a real process node with no roles, as the operator sees a fresh
// worker: time from its process start to its management API serving, and its resident memory
// idle after a start and after a StageUpdate. Medians over runs (each run a power cut).
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BundleServer,
  TestNode,
  agentPid,
  buildRelease,
  largeBundle,
  residentMiB,
} from '../test/fixture-node.js';

const runs = Number(process.argv[2] ?? '5');
const imageMiB = Number(process.argv[3] ?? '128');
/**
 * Idle means after V8's memory reducer has run: it shrinks the heap left by start-up some 8 s
 * after allocation calms down, so RSS 5 s after serving is still start-up's (printed too).
 */
const settleMs = 15_000;
const earlyMs = 5_000;
/** Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`; 100 on Linux everywhere). */
const clockTicks = 100;
const median = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

const teardowns: (() => Promise<unknown>)[] = [];
const scope = { teardown: (fn: () => Promise<unknown>) => teardowns.unshift(fn) };
const dir = await mkdtemp(join(tmpdir(), 'bench-idle-'));
try {
  const v1 = await buildRelease(dir, 'v0.1.0');
  const node = await TestNode.start(scope, { release: v1 });
  const consoleLog = join(node.dir, 'console.log');

  const startMs: number[] = [];
  const early: number[] = [];
  const idle: { rss: number; anon: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const offset = (await stat(consoleLog)).size;
    const previous = await agentPid(node.dir);
    await node.node.powerCut();
    const pid = await nextAgentPid(node.dir, previous);
    const started = await processStartMs(pid);
    const serving = await logTime(consoleLog, offset, 'management API serving');
    startMs.push(serving - started);
    await sleep(Math.max(0, serving + earlyMs - Date.now()));
    early.push((await residentMiB(pid)).rss);
    await sleep(Math.max(0, serving + settleMs - Date.now()));
    idle.push(await sampleResident(pid));
  }

  // After staging a large bundle: what the stager leaves behind, if anything.
  const big = await largeBundle(dir, v1, 'v0.9.0', imageMiB);
  const server = await BundleServer.start(node.network.hostAddress, scope);
  await node.stage(server.file('/big', big.path), big.sha256);
  await sleep(settleMs);
  const pid = await agentPid(node.dir);
  if (pid === undefined) throw new Error('agent process not found');
  const staged = await sampleResident(pid);

  const mib = (value: number): string => `${value.toFixed(1)} MiB`;
  process.stdout.write(
    [
      `node agent, no roles: process start to management API serving:`,
      `  median ${median(startMs).toFixed(0)} ms over ${String(runs)} boots (${startMs.map((ms) => ms.toFixed(0)).join(', ')})`,
      `RSS ${String(earlyMs / 1000)} s after serving (start-up garbage not yet collected): median ${mib(median(early))}`,
      `idle RSS ${String(settleMs / 1000)} s after serving: median ${mib(median(idle.map((s) => s.rss)))} (anonymous ${mib(median(idle.map((s) => s.anon)))}); per boot ${idle.map((s) => s.rss.toFixed(1)).join(', ')}`,
      `idle RSS ${String(settleMs / 1000)} s after a StageUpdate of ${String(imageMiB)} MiB: ${mib(staged.rss)} (anonymous ${mib(staged.anon)})`,
      '',
    ].join('\n'),
  );
} finally {
  for (const teardown of teardowns) await teardown();
  await rm(dir, { recursive: true, force: true });
}

/** The agent's PID once it is another process than `previous` (a new boot). */
async function nextAgentPid(nodeDir: string, previous: number | undefined): Promise<number> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const pid = await agentPid(nodeDir);
    if (pid !== undefined && pid !== previous) return pid;
    await sleep(10);
  }
  throw new Error('the agent did not start again');
}

/** When `pid` started, in Date.now() time (to 10 ms: the kernel counts clock ticks). */
async function processStartMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${String(pid)}/stat`, 'utf8');
  // Fields after the command name, which may hold spaces: state is field 3, starttime field 22.
  const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  const now = Date.now();
  const uptimeSeconds = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
  return now - (uptimeSeconds - startTicks / clockTicks) * 1000;
}

/** The time of the first JSON log line with `message` written to `file` after `offset`. */
async function logTime(file: string, offset: number, message: string): Promise<number> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const text = (await readFile(file)).subarray(offset).toString('utf8');
    for (const line of text.split('\n')) {
      if (!line.includes(message)) continue;
      const parsed = JSON.parse(line) as { message?: string; timestamp?: string };
      if (parsed.message === message && parsed.timestamp !== undefined)
        return Date.parse(parsed.timestamp);
    }
    await sleep(50);
  }
  throw new Error(`no log line ${JSON.stringify(message)}`);
}

/** Median of 5 samples, a second apart. */
async function sampleResident(pid: number): Promise<{ rss: number; anon: number }> {
  const samples: { rss: number; anon: number }[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(await residentMiB(pid));
    await sleep(1000);
  }
  return {
    rss: median(samples.map((s) => s.rss)),
    anon: median(samples.map((s) => s.anon)),
  };
}
