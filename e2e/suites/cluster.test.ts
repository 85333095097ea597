// A launched three-node cluster as its user sees it: every node UP and HEALTHY in kubectl and
// metroctl, the bootstrap node running its roles, role requests that are not built yet
// reported as such, and a node that loses power coming back by itself.
import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CustomObjectsApi } from '@kubernetes/client-node';
import {
  monogonNodeGroup,
  monogonNodePlural,
  monogonNodeVersion,
  type MonogonNode,
} from '@metropolis/api';
import { leaseSubnet, type SubnetLease } from '@metropolis/process-node';
import { eventually, launchCluster, type LaunchedCluster } from '../harness/index.js';

const run = promisify(execFile);
let cluster: LaunchedCluster;
let lease: SubnetLease;
let dir: string;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'e2e-cluster-'));
  lease = await leaseSubnet(28);
  cluster = await launchCluster({
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
    namePrefix: `e2e${randomBytes(2).toString('hex')}`,
  });
});

test.after.always(async () => {
  await cluster.stop();
  await lease.release();
  await rm(dir, { recursive: true, force: true });
});

async function node(id: string): Promise<MonogonNode> {
  return (await cluster.kubeConfig.makeApiClient(CustomObjectsApi).getClusterCustomObject({
    group: monogonNodeGroup,
    version: monogonNodeVersion,
    plural: monogonNodePlural,
    name: id,
  })) as MonogonNode;
}

test.serial('kubectl and metroctl show three nodes UP and HEALTHY', async (t) => {
  const kubectl = process.env['METROPOLIS_KUBECTL'] ?? 'kubectl';
  const kube = ['--kubeconfig', cluster.kubeconfigPath, '--context', cluster.contextName];
  const { stdout: ready } = await run(kubectl, [...kube, 'get', '--raw', '/readyz']);
  t.is(ready, 'ok');
  const { stdout: table } = await run(kubectl, [...kube, 'get', 'mn']);
  for (const id of cluster.nodeIds)
    t.regex(table, new RegExp(`${id}\\s+UP\\s+10\\.1\\.0\\.\\d+\\s+HEALTHY`));

  const { stdout: described } = await run(join(cluster.configDir, 'metroctl.sh'), [
    'node',
    'describe',
  ]);
  const rows = described.split('\n').filter((line) => line.startsWith('metropolis-'));
  t.is(rows.length, 3);
  for (const row of rows) t.regex(row, /\sUP\s+10\.1\.0\.\d+\s+HEALTHY\s/);
  t.regex(
    described,
    /NODE ID\s+STATE\s+ADDRESS\s+HEALTH\s+ROLES\s+TPM\s+VERSION\s+HEARTBEAT\s+SLOT/,
  );
});

test.serial('the bootstrap node reports the roles it runs; joined nodes run none', async (t) => {
  const [first, second] = cluster.nodeIds;
  const bootstrap = await eventually(async () => {
    const found = await node(first ?? '');
    if ((found.status?.runningRoles ?? []).length === 0) throw new Error('no roles reported yet');
    return found;
  });
  t.deepEqual(bootstrap.status?.runningRoles, ['ConsensusMember', 'KubernetesController']);
  t.deepEqual((await node(second ?? '')).status?.runningRoles ?? [], []);
});

test.serial('a role the node cannot run yet is reported as not running, never faked', async (t) => {
  const id = cluster.nodeIds[1] ?? '';
  const { stdout } = await run(join(cluster.configDir, 'metroctl.sh'), [
    'node',
    'add',
    'role',
    'kw',
    id,
  ]);
  t.regex(stdout, new RegExp(`Updated node ${id}`));
  const updated = await eventually(async () => {
    const found = await node(id);
    const condition = found.status?.conditions?.find((c) => c.type === 'RolesApplied');
    if (condition?.status !== 'False') throw new Error('no RolesApplied=False condition yet');
    return { found, condition };
  });
  t.deepEqual(updated.found.spec.roles, ['KubernetesWorker']);
  t.deepEqual(updated.found.status?.runningRoles ?? [], []);
  t.regex(updated.condition.message, /not built yet/);
});

test.serial(
  'a joined node that loses power times out its heartbeat and comes back UP',
  async (t) => {
    const id = cluster.nodeIds[2] ?? '';
    const target = cluster.nodes[2];
    if (!target) throw new Error('no third node');
    const boots = (await target.boots()).length;
    await target.shutdown();
    await eventually(async () => {
      if ((await node(id)).status?.health !== 'HEARTBEAT_TIMEOUT') throw new Error('still healthy');
    }, 60_000);
    t.pass('heartbeat timed out while the node was off');
    await target.powerOn();
    await target.waitForBoot(boots + 1, 30_000);
    const back = await eventually(async () => {
      const found = await node(id);
      if (found.status?.health !== 'HEALTHY') {
        throw new Error(`not healthy yet: ${JSON.stringify(found.status)}`);
      }
      return found;
    }, 120_000);
    t.is(back.status?.state, 'UP');
  },
);
