// Benchmark: what the rollout engine adds. On a launched three-node cluster, first each node is
// rebooted on its own (Reboot as the owner) and timed until its agent is back, healthy and runs
// its roles; then an OSUpdate v0.1.0 -> v0.2.0 is timed from creation to Succeeded. The
// difference between the rollout and the sum of the plain reboots is the operator's overhead
// (staging, SetNextBoot, verification, commit, polling). Medians over runs; docs/benchmarks.md.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, credentials, type ServiceError } from '@grpc/grpc-js';
import { CustomObjectsApi } from '@kubernetes/client-node';
import {
  Health,
  NodeManagementClient,
  nodeManagementPort,
  osUpdateResource,
  type NodeStatus,
  type OSUpdate,
} from '@metropolis/api';
import { BundleHttpServer } from '@metropolis/bundle';
import {
  buildBundle,
  createOSUpdate,
  eventually,
  launchLeasedCluster,
  type LaunchedCluster,
} from '../harness/index.js';

const runs = Number(process.argv[2] ?? '3');
const totals: number[] = [];
const sums: number[] = [];

/** GetStatus as the owner; undefined while the agent does not answer. */
function status(client: NodeManagementClient): Promise<NodeStatus | undefined> {
  return new Promise((resolve) => {
    client.getStatus(
      {},
      new Metadata(),
      { deadline: Date.now() + 2_000 },
      (error: ServiceError | null, response: NodeStatus) => {
        resolve(error === null ? response : undefined);
      },
    );
  });
}

/** Reboots the node at `address` and times until it is back, healthy and running its roles. */
async function rebootToHealthy(cluster: LaunchedCluster, address: string): Promise<number> {
  const read = (file: string) => readFile(join(cluster.configDir, file));
  const client = new NodeManagementClient(
    `${address}:${String(nodeManagementPort)}`,
    credentials.createSsl(
      await read('ca.pem'),
      await read('owner-key.pem'),
      await read('owner.pem'),
    ),
  );
  try {
    const before = await status(client);
    if (before === undefined) throw new Error(`${address} does not answer`);
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      client.reboot({ expectedBootTimeUnixMs: before.bootTimeUnixMs }, (error) => {
        if (error) reject(error);
        else resolve();
      });
    });
    await eventually(
      async () => {
        const now = await status(client);
        const back =
          now !== undefined &&
          now.bootTimeUnixMs !== before.bootTimeUnixMs &&
          now.health === Health.HEALTH_HEALTHY &&
          now.appliedRoles
            .filter((role) => role !== 'KubernetesWorker')
            .every((role) => now.roles.includes(role));
        if (!back) throw new Error('not back yet');
      },
      120_000,
      100,
    );
    return performance.now() - started;
  } finally {
    client.close();
  }
}

for (let run = 1; run <= runs; run++) {
  const leased = await launchLeasedCluster({ name: 'bench-rollout' });
  const { cluster } = leased;
  let server: BundleHttpServer | undefined;
  try {
    const reboots: number[] = [];
    for (const address of cluster.endpoints) reboots.push(await rebootToHealthy(cluster, address));
    const sum = reboots.reduce((a, b) => a + b, 0);

    server = await BundleHttpServer.start({ host: leased.lease.hostAddress });
    const bundle = await server.serve(await buildBundle(leased.dir, 'v0.2.0'));
    const objects = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
    const resource = osUpdateResource;
    const started = performance.now();
    await createOSUpdate(cluster.kubeConfig, 'bench', {
      version: 'v0.2.0',
      bundle: { url: bundle.url, sha256: bundle.sha256 },
    });
    await eventually(
      async () => {
        const update = (await objects.getClusterCustomObject({
          ...resource,
          name: 'bench',
        })) as OSUpdate;
        const phase = update.status?.phase;
        if (phase === 'Halted') throw new Error(`halted: ${update.status?.summary ?? ''}`);
        if (phase !== 'Succeeded') throw new Error(`phase ${String(phase)}`);
      },
      600_000,
      100,
    );
    const total = performance.now() - started;
    totals.push(total);
    sums.push(sum);
    process.stdout.write(
      `run ${String(run)}: plain reboots ${reboots.map(seconds).join(' + ')} = ${seconds(sum)} s; ` +
        `rollout ${seconds(total)} s; overhead ${seconds(total - sum)} s\n`,
    );
  } finally {
    await server?.close();
    await leased.stop();
  }
}

const median = (samples: readonly number[]): number =>
  [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)] ?? Number.NaN;
const overheads = totals.map((total, index) => total - (sums[index] ?? 0));
process.stdout.write(
  `three-node rollout: median ${seconds(median(totals))} s; sum of plain reboot-to-healthy: ` +
    `median ${seconds(median(sums))} s; operator overhead: median ${seconds(median(overheads))} s ` +
    `over ${String(runs)} runs\n`,
);

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
