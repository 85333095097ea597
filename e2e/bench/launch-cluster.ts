// Benchmark: launch-cluster from nothing to three nodes UP and HEALTHY (binaries cached,
// release built each time, as hack/launch-cluster.sh does). Medians over runs; results are
// recorded in docs/benchmarks.md.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leaseSubnet } from '@metropolis/process-node';
import { launchCluster } from '../harness/index.js';

const runs = Number(process.argv[2] ?? '3');
const samples: number[] = [];
for (let run = 1; run <= runs; run++) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-launch-'));
  const lease = await leaseSubnet(28);
  try {
    const started = performance.now();
    const cluster = await launchCluster({
      dir: join(dir, 'cluster'),
      nodes: 3,
      binaries: {
        etcd: process.env['METROPOLIS_ETCD'] ?? '',
        kubeApiserver: process.env['METROPOLIS_KUBE_APISERVER'] ?? '',
      },
      kubeconfigPath: join(dir, 'kubeconfig'),
      network: {
        bridge: lease.bridge,
        hostAddress: lease.hostAddress,
        prefixLength: lease.prefixLength,
      },
      namePrefix: `bench${randomBytes(2).toString('hex')}`,
    });
    const ms = performance.now() - started;
    samples.push(ms);
    process.stdout.write(
      `run ${String(run)}: ${(ms / 1000).toFixed(1)} s to 3 nodes UP and HEALTHY\n`,
    );
    await cluster.stop();
  } finally {
    await lease.release();
    await rm(dir, { recursive: true, force: true });
  }
}
const sorted = [...samples].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
process.stdout.write(
  `launch-cluster to 3 UP+HEALTHY nodes: median ${(median / 1000).toFixed(1)} s over ${String(runs)} runs ` +
    `(min ${((sorted[0] ?? 0) / 1000).toFixed(1)} s, max ${((sorted.at(-1) ?? 0) / 1000).toFixed(1)} s)\n` +
    'role-change latency: not measured, changing roles is not built yet (docs/cluster.md)\n',
);
