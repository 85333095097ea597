// The rollout's decisions, snapshot by snapshot, against a small fake cluster: nodes with A/B
// slots, BootNext, BootOrder and boot times, driven the way the engine will drive real agents.
import test from 'ava';
import fc from 'fast-check';
import {
  isTerminalOSUpdatePhase,
  type MonogonNodeRole,
  type OSUpdateNodeStatus,
  type OSUpdateSlot,
  type OSUpdateSpec,
  type OSUpdateStatus,
  type OSUpdateStrategy,
} from '@metropolis/api';
import { parseOSUpdate } from '../os-update-resource.js';
import type { EtcdView } from '../../consensus/etcd-view.js';
import {
  planRollout,
  type RolloutAction,
  type RolloutInput,
  type RolloutNodeView,
  type RolloutPlan,
  type StageResult,
} from './plan-rollout.js';

const t0 = Date.parse('2030-01-01T00:00:00Z');
const second = 1000;
const minute = 60 * second;

const worker: MonogonNodeRole[] = ['KubernetesWorker'];
const controller: MonogonNodeRole[] = ['ConsensusMember', 'KubernetesController'];

/** A node as its firmware and agent see it. */
interface FakeNode {
  readonly name: string;
  readonly roles: MonogonNodeRole[];
  slots: Record<OSUpdateSlot, string>;
  running: OSUpdateSlot;
  committed: OSUpdateSlot;
  next: OSUpdateSlot | undefined;
  bootTimeMs: number;
  /** The agent answers. */
  up: boolean;
  healthy: boolean;
  /** A Reboot was accepted and the node has not booted since. */
  goingDown: boolean;
  /** Versions whose trial boot does not last: the node falls back to its committed slot. */
  readonly badVersions: Set<string>;
  /** Real reboots, per node: the invariant "never twice for one step" counts these. */
  reboots: number;
}

/** A cluster of fake nodes, all on 0.1.0 in slot A, booted before t0. */
class FakeCluster {
  readonly nodes = new Map<string, FakeNode>();

  constructor(specs: readonly [name: string, roles: MonogonNodeRole[]][]) {
    for (const [name, roles] of specs) {
      this.nodes.set(name, {
        name,
        roles,
        slots: { A: '0.1.0', B: '' },
        running: 'A',
        committed: 'A',
        next: undefined,
        bootTimeMs: t0 - 3_600_000,
        up: true,
        healthy: true,
        goingDown: false,
        badVersions: new Set(),
        reboots: 0,
      });
    }
  }

  node(name: string): FakeNode {
    const node = this.nodes.get(name);
    if (node === undefined) throw new Error(`no node ${name}`);
    return node;
  }

  view(name: string): RolloutNodeView {
    const node = this.node(name);
    return {
      name,
      specRoles: node.roles,
      state: 'UP',
      health: !node.up ? 'HEARTBEAT_TIMEOUT' : node.healthy ? 'HEALTHY' : 'UNHEALTHY',
      agent: node.up
        ? {
            version: node.slots[node.running],
            bootTimeMs: node.bootTimeMs,
            runningSlot: node.running,
            committedSlot: node.committed,
            nextSlot: node.next,
            trial: node.running !== node.committed,
            slots: { A: { version: node.slots.A }, B: { version: node.slots.B } },
            healthy: node.healthy,
            healthMessage: node.healthy ? '' : 'kube-apiserver: not running: exited (exit code 1)',
            rolesServing: node.healthy,
          }
        : undefined,
    };
  }

  views(): RolloutNodeView[] {
    return [...this.nodes.keys()].map((name) => this.view(name));
  }

  etcd(): EtcdView {
    return {
      members: [...this.nodes.values()]
        .filter((node) => node.roles.includes('ConsensusMember'))
        .map((node) => ({ name: node.name, voting: true, healthy: node.up && node.healthy })),
    };
  }

  /** The agent's Reboot with expected_boot_time_unix_ms: refused for another boot, once only. */
  reboot(
    name: string,
    slot: OSUpdateSlot,
    expectedBootTimeMs: number,
  ): 'started' | 'already' | 'refused' {
    const node = this.node(name);
    if (!node.up || node.bootTimeMs !== expectedBootTimeMs) return 'refused';
    if (node.goingDown) return 'already';
    node.next = slot;
    node.goingDown = true;
    node.reboots += 1;
    return 'started';
  }

  /** The node goes down (after it accepted a reboot). */
  down(name: string): void {
    this.node(name).up = false;
  }

  /** Firmware boots BootNext once (deleting it first), else the committed slot. */
  boot(name: string, atMs: number): void {
    const node = this.node(name);
    const slot = node.next ?? node.committed;
    node.next = undefined;
    node.running = node.badVersions.has(node.slots[slot]) ? node.committed : slot;
    node.bootTimeMs = atMs;
    node.up = true;
    node.goingDown = false;
  }

  commit(name: string): void {
    const node = this.node(name);
    node.committed = node.running;
  }
}

const spec: OSUpdateSpec = {
  version: '0.2.0',
  bundle: { url: 'https://releases.example/0.2.0.bundle', sha256: 'a'.repeat(64) },
};

/** Plays the engine: plans, "writes" the status, performs the actions on the fake cluster. */
class Engine {
  status: OSUpdateStatus | undefined;
  staging = new Set<string>();
  stageResults: StageResult[] = [];
  rebootsRequested = new Map<string, number>();
  claims = new Map<string, string>();
  etcdReadable = true;
  last: RolloutPlan | undefined;

  readonly cluster: FakeCluster;
  spec: OSUpdateSpec;
  readonly generation: number;

  constructor(cluster: FakeCluster, spec: OSUpdateSpec, generation = 1) {
    this.cluster = cluster;
    this.spec = spec;
    this.generation = generation;
  }

  /** A new operator process: the status survives, nothing in memory does. */
  restart(): Engine {
    const next = new Engine(this.cluster, this.spec, this.generation);
    next.status = this.status;
    next.claims = this.claims;
    return next;
  }

  input(nowMs: number): RolloutInput {
    // Through the operator's parser, as the engine will: the status written last must parse.
    const update = parseOSUpdate({
      metadata: { name: 'to-0.2.0', uid: 'u1', resourceVersion: '1', generation: this.generation },
      spec: this.spec,
      status: this.status ?? {},
    });
    return {
      update,
      nowMs,
      nodes: this.cluster.views(),
      etcd: this.etcdReadable ? this.cluster.etcd() : undefined,
      claims: this.claims,
      staging: this.staging,
      stageResults: this.stageResults,
      rebootsRequested: this.rebootsRequested,
    };
  }

  plan(nowMs: number): RolloutPlan {
    const plan = planRollout(this.input(nowMs));
    this.status = plan.status;
    this.stageResults = [];
    this.last = plan;
    for (const action of plan.actions) {
      switch (action.kind) {
        case 'stage':
          this.staging.add(action.node);
          break;
        case 'reboot':
          if (
            this.cluster.reboot(action.node, action.slot, action.expectedBootTimeMs) !== 'refused'
          ) {
            this.rebootsRequested.set(action.node, action.expectedBootTimeMs);
          }
          break;
        case 'commit':
          this.cluster.commit(action.node);
          break;
        case 'event':
          break;
      }
    }
    return plan;
  }

  /** A StageUpdate call ends: ok writes the inactive slot. */
  finishStage(
    name: string,
    result: { ok: boolean; message?: string; transient?: boolean } = { ok: true },
  ): void {
    this.staging.delete(name);
    const node = this.cluster.node(name);
    if (result.ok) node.slots[node.running === 'A' ? 'B' : 'A'] = this.spec.version;
    this.stageResults.push({
      node: name,
      ok: result.ok,
      message: result.message ?? '',
      ...(result.transient === true ? { transient: true } : {}),
    });
  }

  entry(name: string): OSUpdateNodeStatus {
    const entry = this.status?.nodes?.find((candidate) => candidate.node === name);
    if (entry === undefined) throw new Error(`no entry for ${name}`);
    return entry;
  }

  phases(): Record<string, string> {
    return Object.fromEntries(
      (this.status?.nodes ?? []).map((entry) => [entry.node, entry.phase ?? '?']),
    );
  }
}

function kinds(actions: readonly RolloutAction[], kind: RolloutAction['kind']): RolloutAction[] {
  return actions.filter((action) => action.kind === kind);
}

function nodesOf(actions: readonly RolloutAction[], kind: 'stage' | 'reboot' | 'commit'): string[] {
  return actions.flatMap((action) => (action.kind === kind ? [action.node] : []));
}

function condition(status: OSUpdateStatus | undefined, type: string) {
  return status?.conditions?.find((candidate) => candidate.type === type);
}

function withStrategy(strategy: OSUpdateStrategy): OSUpdateSpec {
  return { ...spec, strategy };
}

/** Stages every selected node; returns the time after. */
function stageAll(engine: Engine, at: number): number {
  const plan = engine.plan(at);
  for (const name of nodesOf(plan.actions, 'stage')) engine.finishStage(name);
  return at + second;
}

/** The node rebooted by the last plan goes down, boots and reports; returns the time after. */
function rebootAndReturn(engine: Engine, name: string, at: number): number {
  engine.cluster.down(name);
  engine.plan(at);
  engine.cluster.boot(name, at + 30 * second);
  return at + 31 * second;
}

// ---- the happy path --------------------------------------------------------------------------

test('three workers: staged together, then rebooted one at a time, committed, Succeeded', (t) => {
  const cluster = new FakeCluster([
    ['w1', worker],
    ['w2', worker],
    ['w3', worker],
  ]);
  const engine = new Engine(cluster, spec);

  const first = engine.plan(t0);
  t.deepEqual(nodesOf(first.actions, 'stage'), ['w1', 'w2', 'w3'], 'every node stages at once');
  t.deepEqual(nodesOf(first.actions, 'reboot'), [], 'nothing reboots while staging');
  t.is(engine.status?.phase, 'Staging');
  t.like(engine.entry('w1'), {
    phase: 'Staging',
    fromVersion: '0.1.0',
    fromSlot: 'A',
    toSlot: 'B',
    toVersion: '0.2.0',
  });

  engine.finishStage('w1');
  engine.plan(t0 + second);
  t.deepEqual(engine.phases(), { w1: 'Staged', w2: 'Staging', w3: 'Staging' });
  t.like(engine.entry('w1'), { reason: 'WaitingForStaging' });
  engine.finishStage('w2');
  engine.finishStage('w3');

  const second1 = engine.plan(t0 + 2 * second);
  t.deepEqual(kinds(second1.actions, 'reboot'), [
    { kind: 'reboot', node: 'w1', slot: 'B', expectedBootTimeMs: t0 - 3_600_000 },
  ]);
  t.is(engine.status?.phase, 'Progressing');
  t.like(engine.entry('w1'), {
    phase: 'Rebooting',
    bootTimeBeforeReboot: new Date(t0 - 3_600_000).toISOString(),
    rebootRequestedAt: '2030-01-01T00:00:02Z',
  });
  t.like(engine.entry('w2'), { phase: 'Staged', reason: 'WaitingForBudget' });
  t.is(engine.status?.summary, '0/3 nodes updated; updating w1 (Rebooting).');
  t.is(
    second1.nextCheckAtMs,
    t0 + 2 * second + 10 * minute,
    'looks again when the boot timeout ends',
  );

  let now = t0 + 3 * second;
  for (const name of ['w1', 'w2', 'w3']) {
    now = rebootAndReturn(engine, name, now);
    const back = engine.plan(now);
    t.deepEqual(nodesOf(back.actions, 'commit'), [name], `${name} is committed once healthy on B`);
    t.like(engine.entry(name), { phase: 'Verifying', reason: 'Committing' });
    now += second;
    const next = engine.plan(now);
    t.like(engine.entry(name), { phase: 'Committed', reason: 'Updated', toSlot: 'B' });
    t.is(nodesOf(next.actions, 'reboot').length, name === 'w3' ? 0 : 1, 'the next node goes');
    now += second;
  }
  t.is(engine.status?.phase, 'Succeeded');
  t.is(engine.status?.updated, '3/3');
  t.is(engine.status?.summary, '3/3 nodes updated to 0.2.0.');
  t.like(engine.status?.counts, { total: 3, committed: 3, failed: 0 });
  t.like(condition(engine.status, 'Complete'), { status: 'True', reason: 'Succeeded' });
  t.like(condition(engine.status, 'Failed'), { status: 'False' });
  t.deepEqual(
    [...cluster.nodes.values()].map((node) => [node.running, node.committed, node.reboots]),
    [
      ['B', 'B', 1],
      ['B', 'B', 1],
      ['B', 'B', 1],
    ],
    'each node rebooted exactly once',
  );
  t.deepEqual(
    engine.last?.actions.filter((action) => action.kind !== 'event'),
    [],
  );
});

test('every node step is an Event, once', (t) => {
  const cluster = new FakeCluster([['w1', worker]]);
  const engine = new Engine(cluster, spec);
  const reasons: string[] = [];
  const record = (plan: RolloutPlan): void => {
    for (const action of plan.actions) if (action.kind === 'event') reasons.push(action.reason);
  };
  record(engine.plan(t0));
  engine.finishStage('w1');
  record(engine.plan(t0 + second));
  record(engine.plan(t0 + 2 * second));
  cluster.down('w1');
  record(engine.plan(t0 + 3 * second));
  cluster.boot('w1', t0 + 10 * second);
  record(engine.plan(t0 + 11 * second));
  record(engine.plan(t0 + 12 * second));
  record(engine.plan(t0 + 13 * second));
  t.deepEqual(reasons, [
    'Staging',
    'RolloutStaging',
    'Staged',
    'RebootRequested',
    'RolloutProgressing',
    'Committing',
    'Updated',
    'RolloutSucceeded',
  ]);
});

test('planning again from the status just written changes nothing and says nothing', (t) => {
  const cluster = new FakeCluster([
    ['w1', worker],
    ['w2', worker],
    ['w3', worker],
  ]);
  const engine = new Engine(cluster, spec);
  let now = t0;
  for (let step = 0; step < 20 && engine.status?.phase !== 'Succeeded'; step += 1) {
    // A second pass over the same world, after the first one's status was written and its
    // calls started: what a trigger arriving in between causes.
    const input = engine.input(now);
    const first = planRollout(input);
    const again = planRollout({
      ...input,
      update: { ...input.update, status: first.status },
      stageResults: [],
      staging: new Set([...input.staging, ...nodesOf(first.actions, 'stage')]),
      rebootsRequested: new Map([
        ...(input.rebootsRequested ?? []),
        ...first.actions.flatMap((action) =>
          action.kind === 'reboot' ? [[action.node, action.expectedBootTimeMs] as const] : [],
        ),
      ]),
    });
    t.deepEqual(again.status, first.status, `step ${String(step)}`);
    t.deepEqual(
      again.actions.filter((action) => action.kind !== 'commit'),
      [],
      'no event, stage or reboot repeats; only the idempotent commit may',
    );
    const plan = engine.plan(now);
    for (const name of nodesOf(plan.actions, 'stage')) engine.finishStage(name);
    for (const name of nodesOf(plan.actions, 'reboot')) cluster.down(name);
    for (const node of cluster.nodes.values()) if (!node.up) cluster.boot(node.name, now);
    now += second;
  }
  t.is(engine.status?.phase, 'Succeeded');
});

// ---- resuming -----------------------------------------------------------------------------------

test('resume: a node recorded as Rebooting on the same boot gets the same guarded reboot again', (t) => {
  const cluster = new FakeCluster([['w1', worker]]);
  let engine = new Engine(cluster, spec);
  stageAll(engine, t0);
  // The status saying Rebooting is written, and the operator dies before calling the agent.
  const plan = planRollout(engine.input(t0 + second));
  engine.status = plan.status;
  t.like(engine.entry('w1'), { phase: 'Rebooting' });
  t.is(cluster.node('w1').reboots, 0);

  engine = engine.restart();
  const resumed = engine.plan(t0 + 20 * second);
  t.deepEqual(
    kinds(resumed.actions, 'reboot'),
    kinds(plan.actions, 'reboot'),
    'same slot, same boot time',
  );
  t.is(cluster.node('w1').reboots, 1);
  t.like(engine.entry('w1'), { phase: 'Rebooting', rebootRequestedAt: '2030-01-01T00:00:01Z' });

  // Another restart before the node went down: asked again, and the agent does not reboot twice.
  engine = engine.restart();
  t.is(nodesOf(engine.plan(t0 + 21 * second).actions, 'reboot').length, 1);
  t.is(cluster.node('w1').reboots, 1, 'the agent ignores a second request while rebooting');
  t.is(
    nodesOf(engine.plan(t0 + 22 * second).actions, 'reboot').length,
    0,
    'this process asked already',
  );
});

test('resume: the operator died right after asking (it ran on that node): Verifying, no second reboot', (t) => {
  const cluster = new FakeCluster([
    ['k1', controller],
    ['k2', controller],
    ['k3', controller],
  ]);
  let engine = new Engine(cluster, spec);
  stageAll(engine, t0);
  engine.plan(t0 + second);
  t.like(engine.entry('k1'), { phase: 'Rebooting' });
  cluster.down('k1');
  cluster.boot('k1', t0 + 40 * second);
  cluster.node('k1').healthy = false; // etcd still catching up

  engine = engine.restart();
  const resumed = engine.plan(t0 + 45 * second);
  t.deepEqual(nodesOf(resumed.actions, 'reboot'), [], 'the boot time moved: it rebooted already');
  t.like(engine.entry('k1'), { phase: 'Verifying', reason: 'WaitingForHealth' });
  t.regex(engine.entry('k1').message ?? '', /kube-apiserver: not running: exited \(exit code 1\)/);
  t.like(engine.entry('k2'), { reason: 'WaitingForConsensusMember' });

  cluster.node('k1').healthy = true;
  t.deepEqual(nodesOf(engine.plan(t0 + 50 * second).actions, 'commit'), ['k1']);
  t.is(cluster.node('k1').reboots, 1);
});

test('resume: an agent that restarted without booting the new slot is asked again, for its new boot', (t) => {
  const cluster = new FakeCluster([['w1', worker]]);
  const engine = new Engine(cluster, spec);
  stageAll(engine, t0);
  // SetNextBoot happened, then the agent process restarted before the reboot.
  const plan = planRollout(engine.input(t0 + second));
  engine.status = plan.status;
  const node = cluster.node('w1');
  node.next = 'B';
  node.bootTimeMs = t0 + 5 * second;

  const again = engine.plan(t0 + 6 * second);
  t.deepEqual(kinds(again.actions, 'reboot'), [
    { kind: 'reboot', node: 'w1', slot: 'B', expectedBootTimeMs: t0 + 5 * second },
  ]);
  t.like(engine.entry('w1'), {
    phase: 'Rebooting',
    reason: 'RebootRepeated',
    bootTimeBeforeReboot: new Date(t0 + 5 * second).toISOString(),
    rebootRequestedAt: '2030-01-01T00:00:01Z',
  });
  t.not(again.status.phase, 'Halted', 'not a rollback: the firmware never tried slot B');
});

// ---- failures -------------------------------------------------------------------------------------

test('a node that falls back while waiting for health keeps why in its RolledBack entry', (t) => {
  const cluster = new FakeCluster([['w1', worker]]);
  const engine = new Engine(cluster, spec);
  let now = stageAll(engine, t0);
  engine.plan(now);
  now = rebootAndReturn(engine, 'w1', now + second);
  cluster.node('w1').healthy = false;
  engine.plan(now);
  t.like(engine.entry('w1'), { phase: 'Verifying', reason: 'WaitingForHealth' });
  // The trial watchdog reboots it: silent for a while, then on the committed slot.
  cluster.down('w1');
  engine.plan(now + 10 * second);
  t.like(engine.entry('w1'), { phase: 'Verifying', reason: 'NodeSilent' });
  cluster.boot('w1', now + 20 * second);
  cluster.node('w1').healthy = true;
  engine.plan(now + 21 * second);
  t.like(engine.entry('w1'), { phase: 'RolledBack', reason: 'CameBackOnOldSlot' });
  t.regex(
    engine.entry('w1').message ?? '',
    /the node fell back\. On slot B it was not healthy: the node agent reports unhealthy: kube-apiserver: not running: exited \(exit code 1\)\.$/,
  );
});

test('a node that comes back on its old slot is RolledBack, and the rollout halts', (t) => {
  const cluster = new FakeCluster([
    ['w1', worker],
    ['w2', worker],
    ['w3', worker],
  ]);
  const engine = new Engine(cluster, spec);
  let now = stageAll(engine, t0);
  engine.plan(now);
  now = rebootAndReturn(engine, 'w1', now + second);
  engine.plan(now);
  engine.plan(now + second);
  t.like(engine.entry('w1'), { phase: 'Committed' });
  cluster.node('w2').badVersions.add('0.2.0');
  now = rebootAndReturn(engine, 'w2', now + 2 * second);

  const halted = engine.plan(now);
  t.like(engine.entry('w2'), {
    phase: 'RolledBack',
    reason: 'CameBackOnOldSlot',
    message:
      'Came back on its old slot A (0.1.0) instead of slot B (0.2.0): the boot of slot B did not last, and the node fell back.',
  });
  t.is(engine.status?.phase, 'Halted');
  t.is(
    engine.status?.summary,
    'Halted after w2 failed (CameBackOnOldSlot): 1/3 nodes updated, the others left as they are.',
  );
  t.like(condition(engine.status, 'Failed'), { status: 'True', reason: 'CameBackOnOldSlot' });
  t.like(engine.entry('w3'), { phase: 'Staged', reason: 'RolloutFailed' });
  t.like(engine.entry('w1'), { phase: 'Committed' }, 'a committed node stays committed');
  t.deepEqual(
    halted.actions.filter((action) => action.kind !== 'event'),
    [],
  );
  t.true(
    halted.actions.some(
      (action) =>
        action.kind === 'event' && action.reason === 'RolloutHalted' && action.type === 'Warning',
    ),
  );

  cluster.node('w2').badVersions.clear();
  engine.spec = { ...spec, paused: false };
  for (let step = 1; step <= 3; step += 1) {
    const later = engine.plan(now + step * minute);
    t.deepEqual(nodesOf(later.actions, 'reboot'), [], 'never retried into the same bundle');
  }
  t.is(cluster.node('w2').reboots, 1);
});

test('a node not back within bootTimeout is Failed (BootTimeout)', (t) => {
  const cluster = new FakeCluster([
    ['w1', worker],
    ['w2', worker],
  ]);
  const engine = new Engine(cluster, withStrategy({ bootTimeout: '5m' }));
  const now = stageAll(engine, t0);
  const asked = engine.plan(now);
  t.is(asked.nextCheckAtMs, now + 5 * minute);
  cluster.down('w1');
  engine.plan(now + 5 * minute - 1);
  t.like(engine.entry('w1'), { phase: 'Rebooting', reason: 'RebootRequested' });
  engine.plan(now + 5 * minute);
  t.like(engine.entry('w1'), {
    phase: 'Failed',
    reason: 'BootTimeout',
    message:
      'Not back on slot B within bootTimeout (5m) of the reboot asked at 2030-01-01T00:00:01Z.',
    finishedAt: '2030-01-01T00:05:01Z',
  });
  t.is(engine.status?.phase, 'Halted');
  t.like(engine.entry('w2'), { phase: 'Staged', reason: 'RolloutFailed' });
});

test('back on the new slot but not healthy within healthTimeout: Failed (HealthTimeout)', (t) => {
  const cluster = new FakeCluster([['w1', worker]]);
  const engine = new Engine(cluster, withStrategy({ healthTimeout: '2m' }));
  const now = stageAll(engine, t0);
  engine.plan(now);
  cluster.down('w1');
  cluster.boot('w1', now + minute);
  cluster.node('w1').healthy = false;
  const waiting = engine.plan(now + minute + second);
  t.like(engine.entry('w1'), { phase: 'Verifying', reason: 'WaitingForHealth' });
  t.deepEqual(nodesOf(waiting.actions, 'commit'), [], 'an unhealthy node is not committed');
  t.is(waiting.nextCheckAtMs, now + 3 * minute, 'two minutes from its new boot');
  engine.plan(now + 3 * minute);
  t.like(engine.entry('w1'), { phase: 'Failed', reason: 'HealthTimeout' });
  t.regex(
    engine.entry('w1').message ?? '',
    /not healthy within healthTimeout \(2m\): the node agent reports unhealthy: kube-apiserver: not running: exited \(exit code 1\)/,
  );
});

test('a stage failure fails the node and nothing reboots anywhere', (t) => {
  const cluster = new FakeCluster([
    ['w1', worker],
    ['w2', worker],
    ['w3', worker],
  ]);
  const engine = new Engine(cluster, spec);
  engine.plan(t0);
  engine.finishStage('w1');
  engine.finishStage('w2', { ok: false, message: 'bundle signature does not verify' });
  engine.finishStage('w3');
  const plan = engine.plan(t0 + second);
  t.like(engine.entry('w2'), {
    phase: 'Failed',
    reason: 'StageFailed',
    message: 'The node agent refused the bundle: bundle signature does not verify',
  });
  t.is(engine.status?.phase, 'Halted');
  t.deepEqual(nodesOf(plan.actions, 'reboot'), []);
  t.like(engine.entry('w1'), { phase: 'Staged', reason: 'RolloutFailed' });
  t.is(
    [...cluster.nodes.values()].reduce((sum, node) => sum + node.reboots, 0),
    0,
  );
});

test('with failurePolicy Revert, a stage failure is Reverted at once: nothing was committed', (t) => {
  const cluster = new FakeCluster([
    ['w1', worker],
    ['w2', worker],
  ]);
  const engine = new Engine(cluster, withStrategy({ failurePolicy: 'Revert' }));
  engine.plan(t0);
  engine.finishStage('w1', { ok: false, message: 'sha256 mismatch' });
  engine.finishStage('w2');
  const plan = engine.plan(t0 + second);
  t.is(engine.status?.phase, 'Reverted');
  t.deepEqual(nodesOf(plan.actions, 'reboot'), []);
  t.like(engine.entry('w2'), { phase: 'Staged' });
});

test('a transient stage error is retried, not a failure', (t) => {
  const cluster = new FakeCluster([['w1', worker]]);
  const engine = new Engine(cluster, spec);
  engine.plan(t0);
  engine.finishStage('w1', { ok: false, transient: true, message: 'another stage is running' });
  const plan = engine.plan(t0 + second);
  t.like(engine.entry('w1'), { phase: 'Staging', reason: 'StageRetrying' });
  t.deepEqual(nodesOf(plan.actions, 'stage'), ['w1']);
  t.is(engine.status?.phase, 'Staging');
});

test('failurePolicy Revert takes committed nodes back to their old slot, one at a time', (t) => {
  const cluster = new FakeCluster([
    ['w1', worker],
    ['w2', worker],
    ['w3', worker],
    ['w4', worker],
  ]);
  const engine = new Engine(cluster, withStrategy({ failurePolicy: 'Revert' }));
  let now = stageAll(engine, t0);
  engine.plan(now);
  for (const name of ['w1', 'w2']) {
    now = rebootAndReturn(engine, name, now + second);
    engine.plan(now);
    engine.plan(now + second);
    now += 2 * second;
  }
  t.deepEqual(engine.phases(), { w1: 'Committed', w2: 'Committed', w3: 'Rebooting', w4: 'Staged' });
  cluster.node('w3').badVersions.add('0.2.0');
  cluster.down('w3');
  cluster.boot('w3', now + 30 * second);
  now += 31 * second;

  const failed = engine.plan(now);
  t.like(engine.entry('w3'), { phase: 'RolledBack' });
  t.is(engine.status?.phase, 'Reverting');
  t.deepEqual(
    kinds(failed.actions, 'reboot'),
    [{ kind: 'reboot', node: 'w2', slot: 'A', expectedBootTimeMs: cluster.node('w2').bootTimeMs }],
    'the last updated goes back first',
  );
  t.like(engine.entry('w2'), { phase: 'Reverting', reason: 'RevertRebooting' });
  t.like(engine.entry('w1'), { phase: 'Committed', reason: 'WaitingForRevert' });
  t.like(
    engine.entry('w4'),
    { phase: 'Staged', reason: 'RolloutFailed' },
    'never touched: stays staged',
  );

  now = rebootAndReturn(engine, 'w2', now + second);
  t.deepEqual(nodesOf(engine.plan(now).actions, 'commit'), ['w2']);
  t.deepEqual(nodesOf(engine.plan(now + second).actions, 'reboot'), ['w1'], 'w2 reverted, then w1');
  t.like(engine.entry('w2'), { phase: 'Reverted', reason: 'Reverted' });
  t.like(cluster.node('w2'), { running: 'A', committed: 'A' });
  t.is(
    engine.status?.summary,
    'Reverting after w3 failed (CameBackOnOldSlot): 1 reverted, 1 to go; reverting w1 (Reverting).',
  );

  now = rebootAndReturn(engine, 'w1', now + 2 * second);
  engine.plan(now);
  const done = engine.plan(now + second);
  t.is(engine.status?.phase, 'Reverted');
  t.deepEqual(engine.phases(), { w1: 'Reverted', w2: 'Reverted', w3: 'RolledBack', w4: 'Staged' });
  t.like(cluster.node('w1'), { running: 'A', committed: 'A', reboots: 2 });
  t.true(
    done.actions.some((action) => action.kind === 'event' && action.reason === 'RolloutReverted'),
  );
  t.is(engine.status?.updated, '0/4');
});

// ---- the guards -----------------------------------------------------------------------------------

test('quorum: with one of three consensus members unhealthy, no consensus member reboots', (t) => {
  const cluster = new FakeCluster([
    ['k1', controller],
    ['k2', controller],
    ['k3', controller],
  ]);
  const engine = new Engine(cluster, withStrategy({ maxUnavailable: 3 }));
  const now = stageAll(engine, t0);
  cluster.node('k3').healthy = false;
  const plan = engine.plan(now);
  t.deepEqual(nodesOf(plan.actions, 'reboot'), []);
  t.like(engine.entry('k1'), {
    phase: 'Staged',
    reason: 'WaitingForQuorum',
    message:
      'etcd has 3 voting members and needs 2; with this node down only 1 healthy would remain (unhealthy: k3).',
  });
  t.like(engine.entry('k3'), { reason: 'NodeUnhealthy' }, 'the sick node is not updated either');
  t.is(
    engine.status?.summary,
    '0/3 nodes updated; waiting: WaitingForQuorum (k1, +1 more), NodeUnhealthy (k3).',
  );

  cluster.node('k3').healthy = true;
  t.deepEqual(nodesOf(engine.plan(now + second).actions, 'reboot'), ['k1'], 'and only one of them');
  t.like(engine.entry('k2'), { reason: 'WaitingForConsensusMember' });
});

test('quorum: when etcd cannot be asked, no consensus member reboots; workers still do', (t) => {
  const cluster = new FakeCluster([
    ['k1', controller],
    ['w1', worker],
  ]);
  const engine = new Engine(cluster, withStrategy({ maxUnavailable: 2 }));
  engine.etcdReadable = false;
  const now = stageAll(engine, t0);
  t.deepEqual(nodesOf(engine.plan(now).actions, 'reboot'), ['w1']);
  t.like(engine.entry('k1'), { reason: 'WaitingForWorkers' });
});

test('order: workers first, then controllers, then consensus members, these one at a time', (t) => {
  const cluster = new FakeCluster([
    ['c1', ['ConsensusMember']],
    ['k1', controller],
    ['k2', controller],
    ['w1', worker],
  ]);
  const engine = new Engine(cluster, withStrategy({ maxUnavailable: '100%' }));
  let now = stageAll(engine, t0);
  const order: string[] = [];
  for (let step = 0; step < 40 && engine.status?.phase !== 'Succeeded'; step += 1) {
    const plan = engine.plan(now);
    const rebooted = nodesOf(plan.actions, 'reboot');
    order.push(...rebooted);
    t.true(rebooted.length <= 1 || rebooted.every((name) => name.startsWith('w')));
    for (const name of rebooted) {
      cluster.down(name);
      cluster.boot(name, now + 10 * second);
    }
    now += 11 * second;
  }
  t.deepEqual(order, ['w1', 'k1', 'k2', 'c1']);
  t.is(engine.status?.phase, 'Succeeded');
});

test('budget: a node unhealthy for other reasons uses up maxUnavailable', (t) => {
  const cluster = new FakeCluster([
    ['w1', worker],
    ['w2', worker],
    ['w3', worker],
  ]);
  const engine = new Engine(cluster, spec);
  let now = stageAll(engine, t0);
  cluster.node('w3').healthy = false;
  const plan = engine.plan(now);
  t.deepEqual(nodesOf(plan.actions, 'reboot'), []);
  t.like(engine.entry('w1'), {
    reason: 'WaitingForBudget',
    message: 'maxUnavailable is 1: none being updated, 1 unavailable for other reasons (w3).',
  });

  engine.spec = withStrategy({ maxUnavailable: 2 });
  now += second;
  t.deepEqual(nodesOf(engine.plan(now).actions, 'reboot'), ['w1'], 'one more may go');
  t.like(engine.entry('w2'), { reason: 'WaitingForBudget' });
});

test('budget: a percentage of the selected nodes, rounded down', (t) => {
  const names = Array.from({ length: 10 }, (_, index) => `w${String(index)}`);
  const reboots = (maxUnavailable: string): number => {
    const cluster = new FakeCluster(names.map((name) => [name, worker]));
    const engine = new Engine(cluster, withStrategy({ maxUnavailable }));
    return nodesOf(engine.plan(stageAll(engine, t0)).actions, 'reboot').length;
  };
  t.is(reboots('25%'), 2);
  t.is(reboots('50%'), 5);
  t.is(reboots('5%'), 1, 'at least one');
});

test('paused: no new step at all', (t) => {
  const cluster = new FakeCluster([
    ['w1', worker],
    ['w2', worker],
  ]);
  const engine = new Engine(cluster, { ...spec, paused: true });
  const plan = engine.plan(t0);
  t.deepEqual(
    plan.actions.filter((action) => action.kind !== 'event'),
    [],
  );
  t.is(engine.status?.phase, 'Paused');
  t.like(engine.entry('w1'), { phase: 'Pending', reason: 'Paused' });
  t.like(condition(engine.status, 'Progressing'), { status: 'False', reason: 'Paused' });

  engine.spec = spec;
  const resumed = engine.plan(t0 + second);
  t.deepEqual(nodesOf(resumed.actions, 'stage'), ['w1', 'w2']);
});

test('paused mid-way: the node being updated is still verified and committed, no other starts', (t) => {
  const cluster = new FakeCluster([
    ['w1', worker],
    ['w2', worker],
  ]);
  const engine = new Engine(cluster, spec);
  const now = stageAll(engine, t0);
  engine.plan(now);
  engine.spec = { ...spec, paused: true };
  cluster.down('w1');
  cluster.boot('w1', now + 20 * second);
  const plan = engine.plan(now + 21 * second);
  t.deepEqual(
    nodesOf(plan.actions, 'commit'),
    ['w1'],
    'left uncommitted, its watchdog would reboot it',
  );
  t.is(engine.status?.phase, 'Paused');
  t.is(engine.status?.summary, 'Paused: 0/2 nodes updated; finishing w1 (Verifying).');
  const later = engine.plan(now + 22 * second);
  t.deepEqual(nodesOf(later.actions, 'reboot'), []);
  t.like(engine.entry('w1'), { phase: 'Committed' });
  t.like(engine.entry('w2'), { phase: 'Staged', reason: 'Paused' });
});

test('an older OSUpdate selecting the same node: this one waits there, and says so', (t) => {
  const cluster = new FakeCluster([
    ['w1', worker],
    ['w2', worker],
  ]);
  const engine = new Engine(cluster, spec);
  engine.claims = new Map([['w2', 'to-0.1.9']]);
  const plan = engine.plan(t0);
  t.deepEqual(nodesOf(plan.actions, 'stage'), ['w1'], 'the other node is not held up');
  t.like(engine.entry('w2'), {
    phase: 'Pending',
    reason: 'WaitingForOtherUpdate',
    message:
      'OSUpdate to-0.1.9 also selects this node and came first (or is working on it); this node waits until it is done.',
  });
  t.like(condition(engine.status, 'Blocked'), {
    status: 'True',
    reason: 'WaitingForOtherUpdate',
    message: 'w2 waits for OSUpdate to-0.1.9',
  });
  t.true(
    plan.actions.some((action) => action.kind === 'event' && action.reason === 'RolloutBlocked'),
  );

  engine.claims = new Map();
  t.deepEqual(nodesOf(engine.plan(t0 + second).actions, 'stage'), ['w2']);
  t.like(condition(engine.status, 'Blocked'), { status: 'False', reason: 'NotBlocked' });
});

test('a node already on the version, committed, counts as updated without a reboot', (t) => {
  const cluster = new FakeCluster([
    ['w1', worker],
    ['w2', worker],
  ]);
  Object.assign(cluster.node('w1'), {
    slots: { A: '0.1.0', B: '0.2.0' },
    running: 'B',
    committed: 'B',
  });
  const engine = new Engine(cluster, spec);
  const plan = engine.plan(t0);
  t.deepEqual(nodesOf(plan.actions, 'stage'), ['w2']);
  t.like(engine.entry('w1'), {
    phase: 'Committed',
    reason: 'AlreadyUpToDate',
    fromSlot: 'B',
    toSlot: 'B',
  });
  t.is(engine.status?.updated, '1/2');
});

test('every node that does not move says why', (t) => {
  const cluster = new FakeCluster([
    ['w1', worker],
    ['w2', worker],
    ['w3', worker],
    ['w4', worker],
  ]);
  cluster.node('w1').up = false;
  cluster.node('w2').next = 'B';
  Object.assign(cluster.node('w3'), { slots: { A: '0.1.0', B: '0.1.5' }, running: 'B' });
  const engine = new Engine(cluster, spec);
  engine.plan(t0);
  t.like(engine.entry('w1'), {
    phase: 'Pending',
    reason: 'NodeUnavailable',
    message:
      'The node agent does not answer (health HEARTBEAT_TIMEOUT). It is staged once it answers.',
  });
  t.like(
    engine.entry('w2'),
    { phase: 'Staging', reason: 'Staging' },
    'a stale BootNext is no obstacle',
  );
  t.like(engine.entry('w3'), { phase: 'Pending', reason: 'NodeInTrial' });
  t.like(engine.entry('w4'), { phase: 'Staging', reason: 'Staging' });
  for (const entry of engine.status?.nodes ?? []) {
    t.truthy(entry.reason, entry.node);
    t.truthy(entry.message, entry.node);
  }
});

test('conditions keep lastTransitionTime while their status stays', (t) => {
  const cluster = new FakeCluster([
    ['w1', worker],
    ['w2', worker],
  ]);
  const engine = new Engine(cluster, spec);
  const now = stageAll(engine, t0);
  engine.plan(now);
  const progressing = condition(engine.status, 'Progressing');
  engine.plan(now + minute);
  t.like(condition(engine.status, 'Progressing'), {
    status: 'True',
    lastTransitionTime: progressing?.lastTransitionTime,
    observedGeneration: 1,
  });
  t.is(engine.status?.observedGeneration, 1);
});

// ---- properties -----------------------------------------------------------------------------------

/**
 * A whole rollout against random clusters and mishaps: nodes whose new version does not boot,
 * nodes that boot too slowly, operator restarts at any point. Whatever happens: no node
 * reboots more than once to update (and once more to revert), never more than maxUnavailable
 * nodes are down, etcd never loses quorum, and the rollout ends Succeeded, Halted or Reverted.
 */
test('property: safe and finishing, whatever happens', (t) => {
  const roleSet = fc.constantFrom<MonogonNodeRole[]>(worker, controller, ['ConsensusMember'], []);
  const steps = 150;
  const scenario = fc.record({
    roles: fc.array(roleSet, { minLength: 1, maxLength: 7 }),
    maxUnavailable: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constantFrom('34%', '50%', '100%')),
    failurePolicy: fc.constantFrom<'Halt' | 'Revert'>('Halt', 'Revert'),
    bad: fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
    slow: fc.array(
      fc.nat({ max: 9 }).map((n) => n === 0),
      { minLength: 7, maxLength: 7 },
    ),
    // A few, anywhere: an operator that restarts all the time loses every stage result it
    // has not written yet, and never gets anywhere (by design: results live in memory).
    restarts: fc.uniqueArray(fc.nat({ max: steps - 1 }), { maxLength: 6 }),
  });
  fc.assert(
    fc.property(scenario, (s) => {
      const names = s.roles.map((_, index) => `n${String(index)}`);
      const cluster = new FakeCluster(names.map((name, index) => [name, s.roles[index] ?? []]));
      const bad = names.map((_, index) => s.bad[index] === true && index % 3 === 0);
      const slow = names.map((_, index) => s.slow[index] === true);
      names.forEach((name, index) => {
        if (bad[index] === true) cluster.node(name).badVersions.add('0.2.0');
      });
      let engine = new Engine(
        cluster,
        withStrategy({
          maxUnavailable: s.maxUnavailable,
          failurePolicy: s.failurePolicy,
          bootTimeout: '2m',
        }),
      );
      const members = cluster.etcd().members.length;
      const quorum = Math.floor(members / 2) + 1;
      const limit =
        typeof s.maxUnavailable === 'number'
          ? s.maxUnavailable
          : Math.max(1, Math.floor((names.length * Number.parseInt(s.maxUnavailable, 10)) / 100));
      const downSince = new Map<string, number>();
      let now = t0;
      for (let step = 0; step < steps; step += 1) {
        if (s.restarts.includes(step)) engine = engine.restart();
        const before = names.map((name) => cluster.node(name).reboots);
        const plan = engine.plan(now);
        for (const name of nodesOf(plan.actions, 'stage')) engine.finishStage(name);
        names.forEach((name, index) => {
          const node = cluster.node(name);
          if (node.reboots > (before[index] ?? 0)) {
            cluster.down(name);
            downSince.set(name, now);
          }
          const since = downSince.get(name);
          if (
            since !== undefined &&
            now - since >= (slow[index] === true ? 3 * minute : 20 * second)
          ) {
            cluster.boot(name, now);
            downSince.delete(name);
          }
        });
        // Nodes that failed stay failed; the others down are the rollout's doing.
        const down = names.filter((name) => {
          const phase = engine.entry(name).phase;
          return !cluster.node(name).up && phase !== 'Failed' && phase !== 'RolledBack';
        });
        if (down.length > limit) return false;
        const etcdDown = cluster.etcd().members.filter((member) => !member.healthy).length;
        // Fewer than three members tolerate no failure: one at a time, when all are healthy.
        if (members >= 3 && members - etcdDown < quorum) return false;
        if (members > 0 && members < 3 && etcdDown > 1) return false;
        if (isTerminalOSUpdatePhase(engine.status?.phase) && downSince.size === 0) break;
        now += 20 * second;
      }
      const maxReboots = s.failurePolicy === 'Revert' ? 2 : 1;
      if ([...cluster.nodes.values()].some((node) => node.reboots > maxReboots)) return false;
      const phase = engine.status?.phase;
      if (!bad.includes(true) && !slow.includes(true)) return phase === 'Succeeded';
      return isTerminalOSUpdatePhase(phase);
    }),
    { numRuns: 200 },
  );
  t.pass();
});
