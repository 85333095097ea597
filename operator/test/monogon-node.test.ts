// The MonogonNode reconciler against a real kube-apiserver and a real node agent in a process
// node: what a user sees with kubectl (status, conditions, events) and on /metrics.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MonogonNode } from '@metropolis/api';
import { silentLogger } from '@metropolis/logging';
import { MetricsServer } from '../src/metrics/metrics-server.js';
import { eventuallyDefined, neverWithin } from '@metropolis/testing';
import { TestCluster, metricValue } from './test-cluster.js';
import { TestNode, buildRelease } from './test-node.js';

const heartbeatTimeoutMs = 2_000;

const condition = (node: MonogonNode, type: string) =>
  node.status?.conditions?.find((c) => c.type === type);

/** The node's event with `reason`, once it is recorded (events follow status writes). */
function event(cluster: TestCluster, nodeId: string, reason: string) {
  return eventuallyDefined(`event ${reason}`, 10_000, async () =>
    (await cluster.events(nodeId)).find((e) => e.reason === reason),
  );
}

test('a real node: UP and HEALTHY, heartbeat Lease, timeout and recovery, roles not built, events', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'operator-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const [cluster, release] = await Promise.all([TestCluster.start(t), buildRelease(dir, 'v0.4.2')]);
  const node = await TestNode.start(t, {
    release,
    ca: cluster.controlPlane.ca,
    agentArgs: ['--heartbeat', '300'],
  });
  // As registration leaves it, approved by the owner.
  await cluster.createNode(
    node.nodeId,
    { approved: true },
    { state: 'NEW', address: node.address },
  );
  const operator = await cluster.startOperator(t, 'operator-1', { heartbeatTimeoutMs });
  let metricsPort = 0;
  const metricsServer = new MetricsServer({
    registry: operator.metrics.registry,
    host: '127.0.0.1',
    port: 0,
    logger: silentLogger,
    onListening: (port) => {
      metricsPort = port;
    },
  });
  const metricsStop = new AbortController();
  const serving = metricsServer.run(metricsStop.signal);
  t.teardown(async () => {
    metricsStop.abort();
    await serving;
  });

  // What the agent reports, as status.
  const up = await eventuallyDefined('UP and HEALTHY', 60_000, async () => {
    const current = await cluster.node(node.nodeId);
    return current.status?.state === 'UP' && current.status.health === 'HEALTHY'
      ? current
      : undefined;
  });
  t.is(up.status?.version, 'v0.4.2');
  t.is(up.status?.bootedSlot, 'A');
  t.deepEqual(up.status?.runningRoles, []);
  t.is(up.status?.rolesSummary, undefined, 'no roles, an empty ROLES cell');
  t.is(up.status?.address, node.address, 'the registration field is kept');
  t.like(condition(up, 'Ready'), { status: 'True', reason: 'NodeHealthy' });
  t.like(condition(up, 'Heartbeat'), { status: 'True', reason: 'StatusReceived' });
  t.is(up.status?.observedGeneration, up.metadata.generation);

  // The heartbeat is the node's Lease: its renewTime advances (every renewal, 1 s here), held by
  // the operator, owned by the node.
  // Typed a Date, read as the API's string.
  const ms = (time: Date | string | undefined) =>
    time instanceof Date ? time.getTime() : Date.parse(time ?? '');
  const renewTime = async () => ms((await cluster.nodeLease(node.nodeId))?.spec?.renewTime);
  const lease = await eventuallyDefined('the node Lease', 10_000, () =>
    cluster.nodeLease(node.nodeId),
  );
  t.like(lease.spec, { holderIdentity: 'operator-1', leaseDurationSeconds: 3 });
  t.like(lease.metadata?.ownerReferences?.[0], {
    kind: 'MonogonNode',
    name: node.nodeId,
    uid: up.metadata.uid,
  });
  const firstRenewal = ms(lease.spec?.renewTime);
  t.false(Number.isNaN(firstRenewal), 'renewTime is set');
  await eventuallyDefined('the Lease renewTime advances', 10_000, async () =>
    (await renewTime()) > firstRenewal ? true : undefined,
  );
  t.truthy(await event(cluster, node.nodeId, 'NodeUp'));

  // /metrics, as Prometheus scrapes it.
  const scrape = await (await fetch(`http://127.0.0.1:${String(metricsPort)}/metrics`)).text();
  t.regex(scrape, /metropolis_operator_nodes\{state="UP",health="HEALTHY"\} 1/);
  t.regex(scrape, /metropolis_operator_leader 1/);
  t.regex(scrape, /metropolis_operator_node_streams 1/);
  t.regex(
    scrape,
    /metropolis_operator_status_writes_total\{trigger="change",result="written"\} \d/,
  );
  t.regex(scrape, /metropolis_operator_reconciles_total\{kind="MonogonNode",result="success"\} \d/);

  // The node loses power (its agent killed, no goodbye): HEARTBEAT_TIMEOUT, and not before the
  // timeout has passed since the last heartbeat, as the status's own times show.
  await node.node.powerOff();
  const silent = await eventuallyDefined('HEARTBEAT_TIMEOUT', 15_000, async () => {
    const current = await cluster.node(node.nodeId);
    return current.status?.health === 'HEARTBEAT_TIMEOUT' ? current : undefined;
  });
  const heardMs = Date.parse(silent.status?.lastHeartbeat ?? '');
  const timedOutMs = Date.parse(condition(silent, 'Heartbeat')?.lastTransitionTime ?? '');
  t.true(
    timedOutMs >= heardMs + heartbeatTimeoutMs,
    `timed out at ${condition(silent, 'Heartbeat')?.lastTransitionTime ?? '?'}, last heard at ${silent.status?.lastHeartbeat ?? '?'}`,
  );
  t.is(silent.status?.state, 'UP', 'UP is membership, health is liveness');
  t.like(condition(silent, 'Heartbeat'), { status: 'False', reason: 'HeartbeatTimeout' });
  t.regex(condition(silent, 'Heartbeat')?.message ?? '', /since .*Z \(timeout 2s\)/);
  // The Lease says the same: renewed no later than the last heartbeat, and not since.
  const lastRenewal = await renewTime();
  t.true(Math.floor(lastRenewal / 1000) * 1000 <= heardMs, 'not renewed after the last report');
  await neverWithin(2_000, async () =>
    (await renewTime()) === lastRenewal ? undefined : 'the Lease of a silent node was renewed',
  );
  t.like(condition(silent, 'Ready'), { status: 'False', reason: 'HeartbeatTimeout' });
  t.truthy(await event(cluster, node.nodeId, 'HeartbeatLost'));

  // It comes back: HEALTHY again, through a reconnected stream.
  await node.node.powerOn();
  await eventuallyDefined('HEALTHY again', 60_000, async () =>
    (await cluster.node(node.nodeId)).status?.health === 'HEALTHY' ? true : undefined,
  );
  t.truthy(await event(cluster, node.nodeId, 'HeartbeatRestored'));
  t.true(
    (await metricValue(operator.metrics, 'metropolis_operator_node_stream_reconnects_total')) > 0,
  );

  // A role the agent cannot run yet: the condition says so in the agent's words.
  await cluster.patchSpec(node.nodeId, { approved: true, roles: ['KubernetesWorker'] });
  const notBuilt = await eventuallyDefined('RolesApplied NotBuilt', 20_000, async () => {
    const current = await cluster.node(node.nodeId);
    return condition(current, 'RolesApplied')?.reason === 'NotBuilt' ? current : undefined;
  });
  t.like(condition(notBuilt, 'RolesApplied'), {
    status: 'False',
    observedGeneration: notBuilt.metadata.generation,
  });
  t.regex(condition(notBuilt, 'RolesApplied')?.message ?? '', /not built yet/);
  t.deepEqual(notBuilt.status?.runningRoles, [], 'never pretends the role runs');
  t.is(
    notBuilt.status?.rolesSummary,
    'KubernetesWorker',
    'the ROLES column shows what is assigned',
  );
  t.is(notBuilt.status?.observedGeneration, notBuilt.metadata.generation);
  // Events follow the status write that caused them: they may arrive a moment later.
  t.truthy(await event(cluster, node.nodeId, 'RolesNotApplied'));

  // Idempotent: heartbeats keep coming, nothing new is asked, written as a change, or recorded.
  const calls = () =>
    // The agent records the worker role and says it does not run it: one applied call.
    metricValue(operator.metrics, 'metropolis_operator_apply_roles_calls_total', {
      result: 'applied',
    });
  const changes = () =>
    metricValue(operator.metrics, 'metropolis_operator_status_writes_total', {
      trigger: 'change',
    });
  const before = {
    calls: await calls(),
    changes: await changes(),
    events: (await cluster.events(node.nodeId)).length,
  };
  t.is(before.calls, 1);
  // Several heartbeats (300 ms) and status refreshes (1 s) long.
  await neverWithin(3_000, async () => {
    const now = {
      calls: await calls(),
      changes: await changes(),
      events: (await cluster.events(node.nodeId)).length,
    };
    return JSON.stringify(now) === JSON.stringify(before)
      ? undefined
      : `something changed: ${JSON.stringify(now)}, was ${JSON.stringify(before)}`;
  });
  t.pass('no call, change or event while nothing changed');

  // Deleting the resource closes the node's stream and deletes its Lease.
  await cluster.deleteNode(node.nodeId);
  await eventuallyDefined('stream closed', 10_000, async () =>
    (await metricValue(operator.metrics, 'metropolis_operator_node_streams')) === 0
      ? true
      : undefined,
  );
  await eventuallyDefined('Lease deleted', 10_000, async () =>
    (await cluster.nodeLease(node.nodeId)) === undefined ? true : undefined,
  );
});
