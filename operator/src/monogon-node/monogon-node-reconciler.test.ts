// The reconciler's loop with in-memory fakes of the API, the agent and the event sink:
// idempotence, ApplyRoles once per agent boot, heartbeat timeouts, the heartbeat Lease, write
// conflicts, deletion.
import test from 'ava';
import { silentLogger } from '@metropolis/logging';
import { neverWithin } from '@metropolis/testing';
import type { MonogonNodeSpec, MonogonNodeStatus } from '@metropolis/api';
import type { ConsensusMembership } from '../consensus/etcd-membership.js';
import { OperatorError } from '../errors.js';
import type { EventSink, EventSubject, NodeEvent } from '../kube/event-recorder.js';
import type { MonogonNodeStore, StatusWriteResult } from './monogon-node-api.js';
import { OperatorMetrics } from '../metrics/operator-metrics.js';
import { AgentObserver } from '../node-client/agent-observer.js';
import { FakeAgents } from '../node-client/fake-agents.js';
import type { NodeResource } from './monogon-node-resource.js';
import type { LeaseOwner, NodeLeaseSink } from './node-lease.js';
import { MonogonNodeReconciler } from './monogon-node-reconciler.js';
import { findCondition } from '../kube/set-condition.js';

const name = 'metropolis-00112233445566778899aabbccddeeff';

/** An API server of one kind, in memory, with resourceVersion preconditions. */
class FakeStore implements MonogonNodeStore {
  readonly objects = new Map<string, NodeResource>();
  readonly writes: MonogonNodeStatus[] = [];
  #version = 1;

  put(spec: MonogonNodeSpec, status: MonogonNodeStatus, generation = 1): NodeResource {
    const node: NodeResource = {
      metadata: { name, uid: 'uid-1', resourceVersion: String(++this.#version), generation },
      spec,
      status,
    };
    this.objects.set(name, node);
    return node;
  }

  get(key: string): Promise<NodeResource | undefined> {
    return Promise.resolve(this.objects.get(key));
  }

  replaceStatus(node: NodeResource, status: MonogonNodeStatus): Promise<StatusWriteResult> {
    const stored = this.objects.get(node.metadata.name);
    if (stored === undefined) return Promise.resolve({ kind: 'notFound' });
    if (stored.metadata.resourceVersion !== node.metadata.resourceVersion) {
      return Promise.resolve({ kind: 'conflict' });
    }
    this.writes.push(status);
    const put = this.put(stored.spec, structuredClone(status), stored.metadata.generation);
    const written = { ...put, metadata: { ...stored.metadata, ...put.metadata } };
    this.objects.set(name, written);
    return Promise.resolve({ kind: 'written', node: written });
  }

  replaceFinalizers(node: NodeResource, finalizers: readonly string[]): Promise<StatusWriteResult> {
    const stored = this.objects.get(node.metadata.name);
    if (stored === undefined) return Promise.resolve({ kind: 'notFound' });
    if (stored.metadata.resourceVersion !== node.metadata.resourceVersion) {
      return Promise.resolve({ kind: 'conflict' });
    }
    const written = this.put(stored.spec, stored.status, stored.metadata.generation);
    const marked = { ...written, metadata: { ...written.metadata, finalizers } };
    this.objects.set(name, marked);
    return Promise.resolve({ kind: 'written', node: marked });
  }
}

class FakeEvents implements EventSink {
  readonly recorded: NodeEvent[] = [];
  record(_subject: EventSubject, event: NodeEvent): Promise<boolean> {
    this.recorded.push(event);
    return Promise.resolve(true);
  }
}

/** Lease renewals by node, and the deleted ones. */
class FakeLeases implements NodeLeaseSink {
  readonly renewals: { readonly owner: LeaseOwner; readonly heardAtMs: number }[] = [];
  readonly removed: string[] = [];
  renew(owner: LeaseOwner, heardAtMs: number): Promise<boolean> {
    this.renewals.push({ owner, heardAtMs });
    return Promise.resolve(true);
  }
  remove(node: string): Promise<void> {
    this.removed.push(node);
    return Promise.resolve();
  }
}

async function eventually(check: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not reached in ${String(timeoutMs)} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

/** etcd membership that records removals and refuses the first `refusals` of them. */
class FakeConsensus implements ConsensusMembership {
  readonly removed: string[] = [];
  refusals = 0;

  join(): Promise<string> {
    return Promise.resolve('');
  }

  promote(): Promise<'voting'> {
    return Promise.resolve('voting');
  }

  remove(address: string): Promise<void> {
    if (this.refusals > 0) {
      this.refusals--;
      return Promise.reject(new OperatorError('OPERATOR_QUORUM', 'would lose quorum'));
    }
    this.removed.push(address);
    return Promise.resolve();
  }

  members(): Promise<[]> {
    return Promise.resolve([]);
  }
}

function setup(
  heartbeatTimeoutMs = 5_000,
  store = new FakeStore(),
  leaseRenewMs = 60_000,
  consensus?: ConsensusMembership,
) {
  const agents = new FakeAgents();
  const events = new FakeEvents();
  const leases = new FakeLeases();
  const metrics = new OperatorMetrics();
  const observer = new AgentObserver({
    dialer: agents,
    metrics,
    logger: silentLogger,
    heartbeatTimeoutMs,
    reconnectBackoff: { minMs: 10, maxMs: 50 },
  });
  const reconciler = new MonogonNodeReconciler({
    store,
    events,
    leases,
    leaseRenewMs,
    agents: observer,
    metrics,
    logger: silentLogger,
    heartbeatTimeoutMs,
    statusRefreshMs: 60_000,
    ...(consensus === undefined ? {} : { consensus }),
  });
  const controller = new AbortController();
  const running = Promise.all([observer.run(controller.signal), reconciler.run(controller.signal)]);
  const stop = async () => {
    controller.abort();
    await running;
  };
  // The one node of these tests, as a test drives it.
  const agent = {
    send: () => agents.send(name),
    get streams() {
      return agents.streams(name).length;
    },
    get dials() {
      return agents.dials.length;
    },
    get applyCalls() {
      return agents.applyCalls;
    },
  };
  /** Adds the approved UP node and waits for its status stream. */
  const addUpNode = async (): Promise<void> => {
    const node = store.put({ approved: true }, { state: 'UP', address: '10.1.0.9' });
    await reconciler.handle({ type: 'ADDED', object: node });
    await eventually(() => agent.streams === 1, 'stream open');
  };
  return { store, agent, events, leases, reconciler, addUpNode, stop };
}

const current = (store: FakeStore): NodeResource => {
  const node = store.objects.get(name);
  if (node === undefined) throw new Error('gone');
  return node;
};

test('a report brings an approved node UP once; repeats change nothing', async (t) => {
  const { store, agent, events, reconciler, stop } = setup();
  t.teardown(stop);
  await reconciler.handle({
    type: 'ADDED',
    object: store.put({ approved: true }, { address: '10.1.0.9' }),
  });
  await eventually(() => agent.streams === 1, 'stream open');
  await eventually(() => store.writes.length === 1, 'STANDBY written');
  t.is(current(store).status.state, 'STANDBY');

  agent.send();
  await eventually(() => current(store).status.state === 'UP', 'UP');
  t.is(current(store).status.health, 'HEALTHY');
  t.deepEqual(
    events.recorded.map((event) => event.reason),
    ['NodeApproved', 'NodeUp'],
  );

  const writes = store.writes.length;
  // The watch echo of our write, the same object again, and more identical reports.
  await reconciler.handle({ type: 'MODIFIED', object: current(store) });
  await reconciler.handle({ type: 'MODIFIED', object: current(store) });
  agent.send();
  agent.send();
  await settle();
  t.is(store.writes.length, writes, 'no write');
  t.is(events.recorded.length, 2, 'no event');
  t.is(agent.dials, 1, 'one connection');
});

test('a NEW node is never dialled: its address is only what it claimed; approval dials it', async (t) => {
  const { store, agent, reconciler, stop } = setup();
  t.teardown(stop);
  await reconciler.handle({
    type: 'ADDED',
    object: store.put({ approved: false }, { state: 'NEW', address: '10.1.0.9' }),
  });
  await neverWithin(500, () => (agent.dials > 0 ? 'the NEW node was dialled' : undefined));
  await reconciler.handle({
    type: 'MODIFIED',
    object: store.put({ approved: true }, { state: 'NEW', address: '10.1.0.9' }, 2),
  });
  await eventually(() => agent.streams === 1, 'stream open once approved');
  t.is(agent.dials, 1);
});

test('roles the agent cannot apply: one call, NotBuilt, one warning event', async (t) => {
  const { store, agent, events, reconciler, addUpNode, stop } = setup();
  t.teardown(stop);
  await addUpNode();
  agent.send();
  await eventually(() => current(store).status.health === 'HEALTHY', 'healthy');

  const worker = store.put(
    { approved: true, roles: ['KubernetesWorker'] },
    current(store).status,
    2,
  );
  await reconciler.handle({ type: 'MODIFIED', object: worker });
  await eventually(
    () => findCondition(current(store).status.conditions, 'RolesApplied')?.reason === 'NotBuilt',
    'NotBuilt',
  );
  const condition = findCondition(current(store).status.conditions, 'RolesApplied');
  t.like(condition, {
    status: 'False',
    message: 'node roles are not built yet',
    observedGeneration: 2,
  });
  t.deepEqual(current(store).status.runningRoles, []);
  t.is(current(store).status.observedGeneration, 2);

  for (let i = 0; i < 5; i++) agent.send();
  await reconciler.handle({ type: 'MODIFIED', object: current(store) });
  await settle();
  t.deepEqual(agent.applyCalls, [['KubernetesWorker']], 'asked once per agent boot');
  t.deepEqual(events.recorded.filter((event) => event.reason === 'RolesNotApplied').length, 1);
});

test('silence beyond the timeout: HEARTBEAT_TIMEOUT, then HEALTHY when reports return', async (t) => {
  const { store, agent, events, addUpNode, stop } = setup(300);
  t.teardown(stop);
  await addUpNode();
  agent.send();
  await eventually(() => current(store).status.health === 'HEALTHY', 'healthy');
  await eventually(() => current(store).status.health === 'HEARTBEAT_TIMEOUT', 'timeout', 2_000);
  t.like(findCondition(current(store).status.conditions, 'Heartbeat'), {
    status: 'False',
    reason: 'HeartbeatTimeout',
  });
  // The silent stream was given up and reopened; the agent speaks on the new one.
  await eventually(() => agent.streams === 1 && agent.send(), 'a report on a reopened stream');
  await eventually(() => current(store).status.health === 'HEALTHY', 'healthy again');
  t.deepEqual(
    events.recorded.map((event) => event.reason),
    ['HeartbeatLost', 'HeartbeatRestored'],
  );
});

test('a write on a stale copy conflicts, is re-read and retried; deletion closes the stream', async (t) => {
  const { store, agent, reconciler, addUpNode, stop } = setup();
  t.teardown(stop);
  await addUpNode();
  await eventually(() => store.writes.length === 1, 'first write');
  // Someone else changes the object; the watch event has not arrived yet.
  store.put(current(store).spec, { ...current(store).status, tpm: true });
  agent.send();
  await eventually(() => current(store).status.health === 'HEALTHY', 'written after the conflict');
  t.true(current(store).status.tpm, "the other writer's field survives");

  await reconciler.handle({ type: 'DELETED', object: current(store) });
  t.is(agent.streams, 0);
  t.deepEqual(reconciler.samples(), []);
});

test('heartbeats keep renewing the Lease, each renewal later than the last, and write no status; deletion deletes it', async (t) => {
  const { store, agent, leases, reconciler, addUpNode, stop } = setup(5_000, new FakeStore(), 200);
  t.teardown(stop);
  await addUpNode();
  agent.send();
  await eventually(() => current(store).status.health === 'HEALTHY', 'healthy');
  await eventually(() => leases.renewals.length === 1, 'the Lease is written at once');
  const writes = store.writes.length;
  const beats = setInterval(() => agent.send(), 20);
  t.teardown(() => {
    clearInterval(beats);
  });
  await eventually(() => leases.renewals.length >= 3, 'renewed again and again', 2_000);
  clearInterval(beats);
  const times = leases.renewals.map((renewal) => renewal.heardAtMs);
  for (let i = 1; i < times.length; i++) {
    t.true((times[i] ?? 0) > (times[i - 1] ?? 0), 'each renewal says the agent was heard later');
  }
  t.like(leases.renewals[0]?.owner, { name, uid: 'uid-1' });
  t.is(store.writes.length, writes, 'heartbeats alone write no status');

  await reconciler.handle({ type: 'DELETED', object: current(store) });
  t.deepEqual(leases.removed, [name]);
});

test('a silent agent: the Lease is no longer renewed, the status turns HEARTBEAT_TIMEOUT', async (t) => {
  const { store, agent, leases, addUpNode, stop } = setup(300, new FakeStore(), 100);
  t.teardown(stop);
  await addUpNode();
  agent.send();
  await eventually(() => leases.renewals.length === 1, 'the Lease is written');
  await eventually(() => current(store).status.health === 'HEARTBEAT_TIMEOUT', 'timeout', 2_000);
  const renewals = leases.renewals.length;
  // Observed for several renewal intervals: no renewal without a report.
  await settle();
  await settle();
  t.is(leases.renewals.length, renewals);
  t.is(
    Date.parse(current(store).status.lastHeartbeat ?? ''),
    Math.floor((leases.renewals.at(-1)?.heardAtMs ?? 0) / 1000) * 1000,
    'the timeout write names when the agent was last heard',
  );
});

test('crash-only: a new leader over the stored state writes nothing new and repeats no event', async (t) => {
  const first = setup();
  const { store } = first;
  await first.reconciler.handle({
    type: 'ADDED',
    object: store.put({ approved: true, roles: ['KubernetesWorker'] }, { address: '10.1.0.9' }),
  });
  await eventually(() => first.agent.streams === 1, 'stream open');
  first.agent.send();
  await eventually(
    () => findCondition(current(store).status.conditions, 'RolesApplied')?.reason === 'NotBuilt',
    'NotBuilt',
  );
  await first.stop();
  const writes = store.writes.length;

  const second = setup(5_000, store);
  t.teardown(second.stop);
  await second.reconciler.handle({ type: 'ADDED', object: current(store) });
  await eventually(() => second.agent.streams === 1, 'stream open');
  second.agent.send();
  await eventually(() => second.agent.applyCalls.length === 1, 'asks once itself');
  await settle();
  t.is(store.writes.length, writes, 'no write');
  t.deepEqual(second.events.recorded, [], 'no event');
});

const finalizer = 'metropolis.monogon.dev/etcd-member';

test('a deleted consensus member stays until its etcd member is removed; a refusal is retried', async (t) => {
  const consensus = new FakeConsensus();
  const { store, reconciler, stop } = setup(5_000, new FakeStore(), 60_000, consensus);
  t.teardown(stop);
  await reconciler.handle({
    type: 'ADDED',
    object: store.put(
      { approved: true, roles: ['ConsensusMember'] },
      { state: 'UP', address: '10.1.0.9' },
    ),
  });
  await eventually(
    () => current(store).metadata.finalizers?.includes(finalizer) === true,
    'finalizer set',
  );
  t.deepEqual(consensus.removed, [], 'nothing removed while the node stays');

  consensus.refusals = 1;
  const deleted = {
    ...current(store),
    metadata: { ...current(store).metadata, deletionTimestamp: '2026-01-01T00:00:00Z' },
  };
  store.objects.set(name, deleted);
  await reconciler.handle({ type: 'MODIFIED', object: deleted });
  await eventually(() => consensus.removed.length === 1, 'member removed after a refusal');
  t.deepEqual(consensus.removed, ['10.1.0.9']);
  await eventually(() => current(store).metadata.finalizers?.length === 0, 'finalizer removed');
});

test('a DECOMMISSIONED node leaves etcd once', async (t) => {
  const consensus = new FakeConsensus();
  const { store, reconciler, stop } = setup(5_000, new FakeStore(), 60_000, consensus);
  t.teardown(stop);
  await reconciler.handle({
    type: 'ADDED',
    object: store.put({ approved: true }, { state: 'DECOMMISSIONED', address: '10.1.0.9' }),
  });
  await eventually(() => consensus.removed.length === 1, 'member removed');
  await reconciler.handle({
    type: 'MODIFIED',
    object: store.put({ approved: true }, { state: 'DECOMMISSIONED', address: '10.1.0.9' }),
  });
  await settle();
  t.deepEqual(consensus.removed, ['10.1.0.9']);
});
