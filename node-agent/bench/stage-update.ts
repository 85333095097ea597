// Benchmark: StageUpdate of a large bundle on a real process node against a plain download of the
// same bundle over the same link (`curl | dd conv=fsync` inside the node's network namespace, onto
// the slot's disk), alternating in one run; and the agent's idle RSS. Results: docs/benchmarks.md.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  BundleServer,
  TestNode,
  agentPid,
  buildRelease,
  largeBundle,
  residentMiB,
} from '../test/fixture-node.js';

const runs = Number(process.argv[2] ?? '3');
const imageMiB = Number(process.argv[3] ?? '128');
const run = promisify(execFile);
const median = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

const teardowns: (() => Promise<unknown>)[] = [];
const scope = { teardown: (fn: () => Promise<unknown>) => teardowns.unshift(fn) };
const dir = await mkdtemp(join(tmpdir(), 'bench-stage-'));
try {
  const v1 = await buildRelease(dir, 'v0.1.0');
  const big = await largeBundle(dir, v1, 'v0.9.0', imageMiB);
  const bundleBytes = (await stat(big.path)).size;
  const node = await TestNode.start(scope, { release: v1 });
  const server = await BundleServer.start(node.network.hostAddress, scope);
  const url = server.file('/big', big.path);

  const netns = node.node.netns;
  if (netns === undefined) throw new Error('the bench node has no network namespace');
  // The baseline: what any download-and-write of these bytes over this link costs, durably.
  const download = async (): Promise<void> => {
    const copy = join(node.dir, 'data', 'curl-bench.bundle');
    const pipeline = `curl -sSf ${url} | dd of=${copy} bs=1M conv=fsync status=none`;
    await run('ip', ['netns', 'exec', netns, 'bash', '-o', 'pipefail', '-c', pipeline]);
    const { size } = await stat(copy);
    await rm(copy);
    if (size !== bundleBytes)
      throw new Error(`curl | dd wrote ${String(size)} of ${String(bundleBytes)} bytes`);
  };
  const stage = async (): Promise<void> => {
    await node.stage(url, big.sha256);
  };
  // CPU time as well as wall time: on a busy machine the wall times follow the CPU each needs.
  const stagePid = await agentPid(node.dir);
  if (stagePid === undefined) throw new Error('agent process not found');
  const stageCpu = (): Promise<number> => cpuMs(`/proc/${String(stagePid)}/stat`, 'self');
  const downloadCpu = (): Promise<number> => cpuMs('/proc/self/stat', 'children');
  const timed = async (
    fn: () => Promise<void>,
    cpu: () => Promise<number>,
    into: { ms: number[]; cpuMs: number[] },
  ): Promise<void> => {
    const cpuBefore = await cpu();
    const start = performance.now();
    await fn();
    into.ms.push(performance.now() - start);
    into.cpuMs.push((await cpu()) - cpuBefore);
  };

  const staged = { ms: [] as number[], cpuMs: [] as number[] };
  const downloaded = { ms: [] as number[], cpuMs: [] as number[] };
  for (let i = 0; i < runs; i++) {
    // Alternating which goes first, so neither always runs on a cooler page cache.
    if (i % 2 === 0) {
      await timed(stage, stageCpu, staged);
      await timed(download, downloadCpu, downloaded);
    } else {
      await timed(download, downloadCpu, downloaded);
      await timed(stage, stageCpu, staged);
    }
  }
  const stageMs = staged.ms;
  const downloadMs = downloaded.ms;

  // Idle RSS of the agent process: sampled after the node has settled.
  await new Promise((resolve) => setTimeout(resolve, 5000));
  const rss: number[] = [];
  const pid = await agentPid(node.dir);
  if (pid === undefined) throw new Error('agent process not found');
  for (let i = 0; i < 5; i++) {
    rss.push((await residentMiB(pid)).rss);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }

  const bundleMiB = bundleBytes / (1 << 20);
  const mibPerS = (ms: number): string => ((bundleMiB / ms) * 1000).toFixed(1);
  const stageMedian = median(stageMs);
  const downloadMedian = median(downloadMs);
  // Per-run ratios of throughput (download time / stage time): both ran back to back.
  const ratios = stageMs.map((ms, i) => (downloadMs[i] ?? Number.NaN) / ms);
  const list = (values: readonly number[]): string => values.map((v) => v.toFixed(0)).join(', ');
  process.stdout.write(
    [
      `StageUpdate of a ${bundleMiB.toFixed(1)} MiB bundle (${String(imageMiB)} MiB system image; download over the bridge, verify, write slot, fsync):`,
      `  median ${stageMedian.toFixed(0)} ms = ${mibPerS(stageMedian)} MiB/s over ${String(runs)} runs (${list(stageMs)})`,
      `curl | dd conv=fsync of the same bundle in the node's network namespace, onto the slot's disk:`,
      `  median ${downloadMedian.toFixed(0)} ms = ${mibPerS(downloadMedian)} MiB/s (${list(downloadMs)})`,
      `  StageUpdate throughput / download throughput: median ${median(ratios).toFixed(2)} (${ratios.map((r) => r.toFixed(2)).join(', ')})`,
      `CPU time per run: StageUpdate (the agent, all threads) median ${median(staged.cpuMs).toFixed(0)} ms (${list(staged.cpuMs)}); curl | dd median ${median(downloaded.cpuMs).toFixed(0)} ms (${list(downloaded.cpuMs)}); the HTTP server's is not counted`,
      `node agent idle RSS: median ${median(rss).toFixed(1)} MiB over ${String(rss.length)} samples`,
      '',
    ].join('\n'),
  );
} finally {
  for (const teardown of teardowns) await teardown();
  await rm(dir, { recursive: true, force: true });
}

/** utime + stime of a process (`self`) or of the children it waited for, in ms. */
async function cpuMs(statPath: string, whose: 'self' | 'children'): Promise<number> {
  const text = await readFile(statPath, 'utf8');
  // Fields after the command name, which may hold spaces: state is field 3, utime field 14.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const first = whose === 'self' ? 11 : 13;
  const ticks = Number(fields[first]) + Number(fields[first + 1]);
  // USER_HZ is 100 on Linux.
  return ticks * 10;
}
