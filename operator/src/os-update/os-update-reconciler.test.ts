// When the rollout engine plans, over an in-memory API and in-memory agents: at start, on a
// change of a selected node's agent (not on a heartbeat that repeats it), never on a timer of
// its own; reasons that arrive during a pass cause exactly one more; its own write's echo none;
// MonogonNodes listed again only once their watch said something a plan reads changed.
import test from 'ava';
import { silentLogger } from '@metropolis/logging';
import type { OSUpdateStatus } from '@metropolis/api';
import { eventually, neverWithin } from '@metropolis/testing';
import type { EventSink } from '../kube/event-recorder.js';
import { OperatorMetrics } from '../metrics/operator-metrics.js';
import type { NodeResource } from '../monogon-node/monogon-node-resource.js';
import { AgentObserver } from '../node-client/agent-observer.js';
import { FakeAgents } from '../node-client/fake-agents.js';
import type { OSUpdateList, OSUpdateStore, OSUpdateWriteResult } from './os-update-api.js';
import { OSUpdateReconciler } from './os-update-reconciler.js';
import { parseOSUpdate, type OSUpdateResource } from './os-update-resource.js';

const node = 'metropolis-00112233445566778899aabbccddeeff';

/** One paused OSUpdate over one node: planning it writes a status once and acts on nothing. */
class FakeStore implements OSUpdateStore {
  passes = 0;
  readonly writes: OSUpdateStatus[] = [];
  /** While set, list() waits for it: a pass in progress. */
  gate: Promise<void> | undefined;
  #update: OSUpdateResource = parseOSUpdate({
    metadata: {
      name: 'to-v0-2-0',
      uid: 'u1',
      resourceVersion: '1',
      generation: 1,
      creationTimestamp: '2026-01-01T00:00:00Z',
    },
    spec: {
      version: 'v0.2.0',
      bundle: {
        url: 'https://releases.example.com/v0.2.0.bundle',
        sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      },
      paused: true,
    },
  });

  get update(): OSUpdateResource {
    return this.#update;
  }

  async list(): Promise<OSUpdateList> {
    this.passes++;
    await this.gate;
    return { updates: [this.#update], malformed: [] };
  }

  replaceStatus(update: OSUpdateResource, status: OSUpdateStatus): Promise<OSUpdateWriteResult> {
    if (update.metadata.resourceVersion !== this.#update.metadata.resourceVersion) {
      return Promise.resolve({ kind: 'conflict' });
    }
    this.writes.push(status);
    const resourceVersion = String(Number(update.metadata.resourceVersion) + 1);
    this.#update = { ...update, metadata: { ...update.metadata, resourceVersion }, status };
    return Promise.resolve({ kind: 'written', update: this.#update });
  }

  /** How often the MonogonNodes were listed. */
  nodeLists = 0;
  health: NonNullable<NodeResource['status']['health']> = 'HEALTHY';

  selectNodes(): Promise<NodeResource[]> {
    this.nodeLists++;
    return Promise.resolve([this.node()]);
  }

  /** The one node as the API has it now. */
  node(): NodeResource {
    return {
      metadata: { name: node, uid: 'n1', resourceVersion: '1', generation: 1 },
      spec: { approved: true },
      status: { state: 'UP', health: this.health, address: '10.1.0.9' },
    };
  }
}

const events: EventSink = { record: () => Promise.resolve(true) };

function setup() {
  const store = new FakeStore();
  const agents = new FakeAgents();
  const metrics = new OperatorMetrics();
  const observer = new AgentObserver({
    dialer: agents,
    metrics,
    logger: silentLogger,
    heartbeatTimeoutMs: 60_000,
  });
  const engine = new OSUpdateReconciler({
    store,
    events,
    agents: observer,
    consensus: undefined,
    metrics,
    logger: silentLogger,
    operatorNode: undefined,
  });
  const controller = new AbortController();
  observer.track(node, '10.1.0.9');
  const running = Promise.all([observer.run(controller.signal), engine.run(controller.signal)]);
  const stop = async (): Promise<void> => {
    controller.abort();
    await running;
  };
  return { store, agents, engine, stop };
}

/** Waits until `check` holds (polled every 10 ms, for at most 3 s). */
function until(check: () => boolean, what: string): Promise<void> {
  return eventually(
    () => {
      if (!check()) throw new Error(`not reached: ${what}`);
    },
    3_000,
    10,
  );
}

/** No pass beyond `passes` for a while. */
function noPassBeyond(store: FakeStore, passes: number): Promise<void> {
  return neverWithin(
    400,
    () => (store.passes > passes ? `pass ${String(store.passes)}` : undefined),
    20,
  );
}

test('a pass at start, one per change of a selected agent, none for a repeated heartbeat', async (t) => {
  const { store, agents, stop } = setup();
  t.teardown(stop);
  await until(() => agents.streams(node).length === 1, 'the stream');
  agents.send(node, { version: 'v0.1.0' });
  await until(() => store.writes.length === 1, 'the Paused status written');
  t.is(store.writes[0]?.phase, 'Paused');
  const settled = store.passes;
  await noPassBeyond(store, settled);

  agents.send(node, { version: 'v0.1.0' });
  agents.send(node, { version: 'v0.1.0' });
  await noPassBeyond(store, settled);
  t.is(store.passes, settled, 'a heartbeat with nothing new plans nothing');

  agents.send(node, { version: 'v0.1.0', health: 'UNHEALTHY', healthMessage: 'etcd: down' });
  await until(() => store.passes === settled + 1, 'a pass for the change');
  await noPassBeyond(store, settled + 1);
});

test('reasons during a pass cause exactly one more pass; the echo of its own write none', async (t) => {
  const { store, engine, stop } = setup();
  t.teardown(stop);
  await until(() => store.writes.length === 1, 'the first status written');
  const settled = store.passes;
  await noPassBeyond(store, settled);

  // The echo of the write the engine made: no news.
  await engine.handleUpdate({ type: 'MODIFIED', object: store.update });
  await noPassBeyond(store, settled);

  let open: () => void = () => undefined;
  store.gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  engine.kick();
  await until(() => store.passes === settled + 1, 'a pass under way');
  engine.kick();
  engine.kick();
  await engine.handleUpdate({
    type: 'MODIFIED',
    object: { ...store.update, metadata: { ...store.update.metadata, resourceVersion: 'other' } },
  });
  store.gate = undefined;
  open();
  await until(() => store.passes === settled + 2, 'one more pass');
  await noPassBeyond(store, settled + 2);
  t.is(store.passes, settled + 2, 'three reasons during one pass: one more pass');
});

test('MonogonNodes are listed again only after a watch event changed what a plan reads', async (t) => {
  const { store, agents, engine, stop } = setup();
  t.teardown(stop);
  await until(() => agents.streams(node).length === 1, 'the stream');
  agents.send(node, { version: 'v0.1.0' });
  await until(() => store.writes.length === 1, 'the Paused status written');
  await engine.handleUpdate({ type: 'MODIFIED', object: store.update });
  engine.handleNode({ type: 'ADDED', object: store.node() });
  engine.kick();
  await until(() => store.nodeLists === 2, 'a list after the first event about the node');
  const lists = store.nodeLists;

  // Passes woken by the agent plan with the list they have.
  const passes = store.passes;
  agents.send(node, { version: 'v0.1.0', health: 'UNHEALTHY', healthMessage: 'etcd: down' });
  await until(() => store.passes === passes + 1, 'a pass for the agent');
  engine.handleNode({ type: 'MODIFIED', object: store.node() });
  engine.kick();
  await until(() => store.passes === passes + 2, 'a pass for a repeated node');
  t.is(store.nodeLists, lists, 'nothing a plan reads changed: no list');

  store.health = 'UNHEALTHY';
  engine.handleNode({ type: 'MODIFIED', object: store.node() });
  engine.kick();
  await until(() => store.nodeLists > lists, 'a list after the node changed');
  t.is(store.nodeLists, lists + 1);
});
