// Benchmark: time from ControlPlane.start() to a ready kube-apiserver, over several runs with
// cached binaries. Prints each run and the median; results are recorded in docs/benchmarks.md.
import { cpus, totalmem } from 'node:os';
import { ControlPlane, controlPlaneBinariesFrom } from '@metropolis/testing';

const runs = Number(process.argv[2] ?? '5');
const binaries = controlPlaneBinariesFrom(process.env);
const samples: number[] = [];
for (let run = 1; run <= runs; run++) {
  const controlPlane = await ControlPlane.start({ binaries });
  samples.push(controlPlane.startupMs);
  await controlPlane.stop();
  process.stdout.write(`run ${String(run)}: ${String(controlPlane.startupMs)} ms\n`);
}
const sorted = [...samples].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
process.stdout.write(
  `control-plane start (etcd + kube-apiserver to /readyz ok): median ${String(median)} ms ` +
    `over ${String(runs)} runs (min ${String(sorted[0])}, max ${String(sorted.at(-1))}); ` +
    `${String(cpus().length)} cores, ${String(Math.round(totalmem() / 2 ** 30))} GiB\n`,
);
