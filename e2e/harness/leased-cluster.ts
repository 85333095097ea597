// A launched cluster on its own leased /28 of the lab network, in a fresh temporary directory,
// with the pinned binaries hack/test.sh and hack/bench.sh export: what every suite and bench
// starts from. Stopping it shuts the nodes down, returns the subnet and removes the directory.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leaseSubnet, type SubnetLease } from '@metropolis/process-node';
import { launchCluster, type LaunchedCluster } from './launch-cluster.js';

export interface LeasedCluster {
  readonly cluster: LaunchedCluster;
  readonly lease: SubnetLease;
  /** The temporary directory (the cluster lives in `<dir>/cluster`). */
  readonly dir: string;
  /** The node name prefix (node N is `<prefix>-N`, its directory `<dir>/cluster/<prefix>-N`). */
  readonly prefix: string;
  stop(): Promise<void>;
}

export async function launchLeasedCluster(options: {
  /** Names the temporary directory and, with a random suffix, the nodes. */
  readonly name: string;
  /** @default 3 */
  readonly nodes?: number;
  readonly agentArgs?: readonly string[];
}): Promise<LeasedCluster> {
  const dir = await mkdtemp(join(tmpdir(), `${options.name}-`));
  const lease = await leaseSubnet(28);
  const prefix = `${options.name.slice(0, 6)}${randomBytes(2).toString('hex')}`;
  const cleanUp = async (): Promise<void> => {
    await lease.release();
    await rm(dir, { recursive: true, force: true });
  };
  let cluster: LaunchedCluster;
  try {
    cluster = await launchCluster({
      dir: join(dir, 'cluster'),
      nodes: options.nodes ?? 3,
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
      namePrefix: prefix,
      ...(options.agentArgs === undefined ? {} : { agentArgs: options.agentArgs }),
    });
  } catch (error) {
    await cleanUp();
    throw error;
  }
  return {
    cluster,
    lease,
    dir,
    prefix,
    stop: async () => {
      await cluster.stop();
      await cleanUp();
    },
  };
}
