// Benchmark: StageUpdate of a large system image on a real process node against a plain `cp`
// (+ fsync) of the same image on the same disk, and the agent's idle RSS. Medians over runs;
// results are recorded in docs/benchmarks.md.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
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
  const image = join(dir, 'v0.9.0-system.img');
  const node = await TestNode.start(scope, { release: v1 });
  const server = await BundleServer.start(node.network.hostAddress, scope);
  const url = server.file('/big', big.path);

  const stageMs: number[] = [];
  const cpMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    let start = performance.now();
    await node.stage(url, big.sha256);
    stageMs.push(performance.now() - start);
    // Same disk, same bytes, same durability: cp, then fsync the copy.
    const copy = join(node.dir, 'data', 'cp-bench.img');
    start = performance.now();
    await run('cp', [image, copy]);
    await run('sync', ['-d', copy]);
    cpMs.push(performance.now() - start);
    await rm(copy);
  }

  // Idle RSS of the agent process: sampled after the node has settled.
  await new Promise((resolve) => setTimeout(resolve, 5000));
  const rss: number[] = [];
  const pid = await agentPid(node.dir);
  if (pid === undefined) throw new Error('agent process not found');
  for (let i = 0; i < 5; i++) {
    rss.push((await residentMiB(pid)).rss);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }

  const mibPerS = (ms: number): string => ((imageMiB / ms) * 1000).toFixed(1);
  const stage = median(stageMs);
  const cp = median(cpMs);
  process.stdout.write(
    [
      `StageUpdate of a ${String(imageMiB)} MiB system image (download over the bridge, verify, stage, write slot, fsync):`,
      `  median ${stage.toFixed(0)} ms = ${mibPerS(stage)} MiB/s over ${String(runs)} runs (${stageMs.map((ms) => ms.toFixed(0)).join(', ')})`,
      `cp + fsync of the same image on the same disk:`,
      `  median ${cp.toFixed(0)} ms = ${mibPerS(cp)} MiB/s (${cpMs.map((ms) => ms.toFixed(0)).join(', ')})`,
      `  StageUpdate takes ${(stage / cp).toFixed(2)}x the time of cp`,
      `node agent idle RSS: median ${median(rss).toFixed(1)} MiB over ${String(rss.length)} samples`,
      '',
    ].join('\n'),
  );
} finally {
  for (const teardown of teardowns) await teardown();
  await rm(dir, { recursive: true, force: true });
}
