// Benchmark: launch-cluster from nothing to three nodes UP and HEALTHY (binaries cached,
// release built each time, as hack/launch-cluster.sh does), then role-change latency: a patch
// of spec.roles until status.runningRoles reports the change. Medians over runs; results are
// recorded in docs/benchmarks.md.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { monogonNodeResource, type MonogonNode, type MonogonNodeRole } from '@metropolis/api';
import { eventually, launchLeasedCluster, type LaunchedCluster } from '../harness/index.js';

const runs = Number(process.argv[2] ?? '3');
const changes: readonly { readonly label: string; readonly roles: MonogonNodeRole[] }[] = [
  { label: 'add ConsensusMember', roles: ['ConsensusMember'] },
  { label: 'add KubernetesController', roles: ['ConsensusMember', 'KubernetesController'] },
  { label: 'remove both', roles: [] },
];
const launches: number[] = [];
const latencies = new Map<string, number[]>(changes.map((change) => [change.label, []]));

/** Patches spec.roles of `id` and resolves with the time until runningRoles equals them. */
async function roleChange(
  cluster: LaunchedCluster,
  id: string,
  roles: MonogonNodeRole[],
): Promise<number> {
  const objects = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
  const resource = monogonNodeResource;
  const started = performance.now();
  await objects.patchClusterCustomObject(
    { ...resource, name: id, body: { spec: { roles } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  await eventually(
    async () => {
      const node = (await objects.getClusterCustomObject({ ...resource, name: id })) as MonogonNode;
      const running = [...(node.status?.runningRoles ?? [])].sort().join();
      if (running !== [...roles].sort().join()) throw new Error(`running: ${running}`);
    },
    180_000,
    100,
  );
  return performance.now() - started;
}

for (let run = 1; run <= runs; run++) {
  const started = performance.now();
  const leased = await launchLeasedCluster({ name: 'bench-launch' });
  try {
    const ms = performance.now() - started;
    launches.push(ms);
    process.stdout.write(`run ${String(run)}: ${seconds(ms)} s to 3 nodes UP and HEALTHY\n`);
    const id = leased.cluster.nodeIds[1] ?? '';
    for (const change of changes) {
      const latency = await roleChange(leased.cluster, id, change.roles);
      latencies.get(change.label)?.push(latency);
      process.stdout.write(`run ${String(run)}: ${change.label}: ${seconds(latency)} s\n`);
    }
  } finally {
    await leased.stop();
  }
}

process.stdout.write(`launch-cluster to 3 UP+HEALTHY nodes: ${summary(launches)}\n`);
for (const [label, samples] of latencies) {
  process.stdout.write(`role change (${label}) to running in status: ${summary(samples)}\n`);
}

function summary(samples: readonly number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  return (
    `median ${seconds(median)} s over ${String(samples.length)} runs ` +
    `(min ${seconds(sorted[0] ?? 0)} s, max ${seconds(sorted.at(-1) ?? 0)} s)`
  );
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
