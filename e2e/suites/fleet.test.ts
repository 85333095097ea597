// Scale smoke test: fifty hollow nodes (the real agent over simulated hardware) join a launched
// one-node cluster, and an OSUpdate selecting them by label, 10% at a time, succeeds with every
// hollow node rebooted exactly once into its other slot, and the real node left alone.
import test from 'ava';
import { CustomObjectsApi } from '@kubernetes/client-node';
import {
  monogonNodeResource,
  osUpdateResource,
  type MonogonNode,
  type OSUpdate,
} from '@metropolis/api';
import { BundleHttpServer } from '@metropolis/bundle';
import {
  buildBundle,
  createOSUpdate,
  eventually,
  launchLeasedCluster,
  startHollowFleet,
  type HollowFleet,
  type LeasedCluster,
} from '../harness/index.js';

const count = 50;
const label = { 'e2e.metropolis.dev/fleet': 'hollow' };
let leased: LeasedCluster | undefined;
let fleet: HollowFleet | undefined;
let server: BundleHttpServer | undefined;

test.before(async () => {
  const cluster = await launchLeasedCluster({ name: 'e2e-fleet', nodes: 1 });
  leased = cluster;
  server = await BundleHttpServer.start({ host: cluster.lease.hostAddress });
  fleet = await startHollowFleet({
    cluster: cluster.cluster,
    count,
    dir: cluster.dir,
    rebootTime: '2s',
    labels: label,
  });
});

test.after.always(async () => {
  await fleet?.stop();
  await server?.close();
  await leased?.stop();
});

test('an OSUpdate over 50 hollow nodes, 10% at a time, succeeds; each rebooted exactly once', async (t) => {
  if (leased === undefined || fleet === undefined || server === undefined)
    throw new Error('no fleet');
  const objects = leased.cluster.kubeConfig.makeApiClient(CustomObjectsApi);
  const realBoots = (await leased.cluster.nodes[0]?.boots())?.length;
  const bundle = await server.serve(
    await buildBundle(leased.dir, 'v0.2.0', { hollow: true, fileName: 'hollow-v0.2.0' }),
  );
  await createOSUpdate(leased.cluster.kubeConfig, 'fleet-to-v0-2-0', {
    version: 'v0.2.0',
    bundle: { url: bundle.url, sha256: bundle.sha256 },
    nodeSelector: { matchLabels: label },
    strategy: { maxUnavailable: '10%' },
  });
  const done = await eventually(
    async () => {
      const update = (await objects.getClusterCustomObject({
        ...osUpdateResource,
        name: 'fleet-to-v0-2-0',
      })) as OSUpdate;
      const phase = update.status?.phase ?? '';
      if (!['Succeeded', 'Halted'].includes(phase)) {
        throw new Error(`${phase}: ${update.status?.summary ?? ''}`);
      }
      return update;
    },
    900_000,
    2000,
  );
  t.is(done.status?.phase, 'Succeeded', done.status?.summary);
  t.is(done.status?.updated, `${String(count)}/${String(count)}`);

  for (const [index, id] of fleet.nodeIds.entries()) {
    const boots = await fleet.boots(index);
    t.deepEqual(
      boots.map((boot) => [boot.slot, boot.version, boot.outcome]),
      [
        ['A', 'v0.1.0', 'started'],
        ['B', 'v0.2.0', 'started'],
      ],
      `${id} booted v0.1.0 from slot A, then rebooted exactly once, into v0.2.0 from slot B`,
    );
    const node = (await objects.getClusterCustomObject({
      ...monogonNodeResource,
      name: id,
    })) as MonogonNode;
    t.is(node.status?.version, 'v0.2.0', id);
  }
  t.is((await leased.cluster.nodes[0]?.boots())?.length, realBoots, 'the real node did not reboot');
});
