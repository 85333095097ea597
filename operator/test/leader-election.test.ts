// Leader election against a real kube-apiserver: two operators, one leader; the other takes
// over when the leader stops, or when a crashed leader's lease runs out; a deposed leader stops.
import test from 'ava';
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import { systemNamespace } from '@metropolis/api';
import { OperatorError } from '../src/errors.js';
import { eventuallyDefined } from '@metropolis/testing';
import { TestCluster, leaseName, metricValue, type RunningOperator } from './test-cluster.js';

const nodeName = 'metropolis-0000000000000000000000000000000a';

/**
 * A lease time in ms since the epoch; NaN (failing every comparison) when absent. The client
 * hands over the MicroTime string as read, whatever its type says: new Date() takes both.
 */
function millis(time: Date | undefined): number {
  return time === undefined ? Number.NaN : new Date(time).getTime();
}

async function leaders(operators: readonly RunningOperator[]): Promise<string[]> {
  const leading: string[] = [];
  for (const operator of operators) {
    if ((await metricValue(operator.metrics, 'metropolis_operator_leader')) === 1) {
      leading.push(operator.identity);
    }
  }
  return leading;
}

test('two operators: one leads and reconciles; when it stops the other takes over', async (t) => {
  const cluster = await TestCluster.start(t);
  // No address: the leader has no agent to call, but still owns this node's status.
  await cluster.createNode(nodeName, { approved: true }, { state: 'NEW' });
  const a = await cluster.startOperator(t, 'operator-a');
  const b = await cluster.startOperator(t, 'operator-b');

  const first = await eventuallyDefined('a leader', 15_000, async () => {
    const holder = (await cluster.lease()).spec?.holderIdentity;
    const leading = await leaders([a, b]);
    return leading.length === 1 && leading[0] === holder ? holder : undefined;
  });
  // Stays exactly one over several retry periods.
  for (let i = 0; i < 6; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    t.deepEqual(await leaders([a, b]), [first]);
  }
  const status = await eventuallyDefined('the leader reconciles', 15_000, async () => {
    const node = await cluster.node(nodeName);
    return node.status?.state === 'STANDBY' ? node.status : undefined;
  });
  t.like(
    status.conditions?.find((c) => c.type === 'Heartbeat'),
    {
      status: 'Unknown',
      reason: 'NoAddress',
    },
  );
  // The event follows the status write: it may arrive a moment later.
  const approved = await eventuallyDefined('NodeApproved', 10_000, async () =>
    (await cluster.events(nodeName)).find((e) => e.reason === 'NodeApproved'),
  );
  t.is(approved.reportingInstance, first, 'events name the instance that acted');

  const [leader, follower] = first === a.identity ? [a, b] : [b, a];
  // The leader's record before it stops: its last renewal is this one or a later one.
  const held = (await cluster.lease()).spec ?? {};
  const transitions = held.leaseTransitions ?? 0;
  await leader.stop();
  // Released (no holder) or already taken by the follower: either way not the stopped one.
  t.not((await cluster.lease()).spec?.holderIdentity, leader.identity);
  await eventuallyDefined('the other takes over', 10_000, async () =>
    (await cluster.lease()).spec?.holderIdentity === follower.identity ? true : undefined,
  );
  const taken = (await cluster.lease()).spec ?? {};
  t.true(
    millis(taken.acquireTime) < millis(held.renewTime) + (held.leaseDurationSeconds ?? 0) * 1000,
    'released: taken before the lease of the stopped leader would have run out',
  );
  t.is(taken.leaseTransitions, transitions + 1);
  t.deepEqual(await leaders([a, b]), [follower.identity]);

  // The new leader reconciles: a spec change shows up as observedGeneration.
  await cluster.patchSpec(nodeName, { approved: true, roles: ['KubernetesWorker'] });
  await eventuallyDefined('the new leader reconciles the spec change', 15_000, async () => {
    const node = await cluster.node(nodeName);
    return node.status?.observedGeneration === node.metadata.generation ? true : undefined;
  });
});

test('the lease of a crashed leader is taken over only after it runs out', async (t) => {
  const cluster = await TestCluster.start(t);
  const api = cluster.kubeConfig.makeApiClient(CoordinationV1Api);
  // A leader that died without releasing: its last renewal, a 3 s lease.
  const renewed = new Date();
  await api.createNamespacedLease({
    namespace: systemNamespace,
    body: {
      metadata: { name: leaseName, namespace: systemNamespace },
      spec: {
        holderIdentity: 'crashed',
        leaseDurationSeconds: 3,
        acquireTime: new V1MicroTime(renewed),
        renewTime: new V1MicroTime(renewed),
        leaseTransitions: 4,
      },
    },
  });
  const successor = await cluster.startOperator(t, 'successor');
  await eventuallyDefined('the successor leads', 15_000, async () =>
    (await metricValue(successor.metrics, 'metropolis_operator_leader')) === 1 ? true : undefined,
  );
  const spec = (await cluster.lease()).spec;
  t.is(spec?.holderIdentity, 'successor');
  t.true(
    millis(spec?.acquireTime) >= renewed.getTime() + 3_000,
    `acquired at ${new Date(millis(spec?.acquireTime)).toISOString()}, not before the lease renewed at ${renewed.toISOString()} ran out`,
  );
  t.is(spec?.leaseTransitions, 5);
});

test('a leader whose lease is taken stops with LEADERSHIP_LOST (crash-only)', async (t) => {
  const cluster = await TestCluster.start(t);
  const leader = await cluster.startOperator(t, 'deposed');
  await eventuallyDefined('it leads', 15_000, async () =>
    (await cluster.lease()).spec?.holderIdentity === 'deposed' ? true : undefined,
  );
  // Someone (an operator's bug, an admin) writes another holder over it.
  const api = cluster.kubeConfig.makeApiClient(CoordinationV1Api);
  // The leader renews in between: read and replace again until the write lands.
  await eventuallyDefined('the lease is usurped', 10_000, async () => {
    const lease = await cluster.lease();
    await api.replaceNamespacedLease({
      name: leaseName,
      namespace: systemNamespace,
      body: {
        metadata: lease.metadata ?? {},
        spec: {
          holderIdentity: 'usurper',
          leaseDurationSeconds: 60,
          renewTime: new V1MicroTime(),
          leaseTransitions: 1,
        },
      },
    });
    return true;
  });
  const error = await t.throwsAsync(leader.done, { instanceOf: OperatorError });
  t.is(error.code, 'OPERATOR_LEADERSHIP_LOST');
  t.is(await metricValue(leader.metrics, 'metropolis_operator_leader'), 0);
  t.is((await cluster.lease()).spec?.holderIdentity, 'usurper', 'it does not write the lease back');
});
