// The rollout's decisions, snapshot by snapshot, against a small fake cluster: the happy path
// and resuming after the operator restarts.
import test from 'ava';
import {
  t0,
  second,
  minute,
  worker,
  controller,
  FakeCluster,
  spec,
  Engine,
  kinds,
  nodesOf,
  condition,
  stageAll,
  rebootAndReturn,
} from './fake-cluster.js';
import { planRollout } from './plan-rollout.js';
import type { RolloutPlan } from './rollout-types.js';

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

test("a node's success is no Event of the OSUpdate (its MonogonNode's VersionChanged says it); the steps are in the status only", (t) => {
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
  t.deepEqual(reasons, ['RolloutStaging', 'RolloutProgressing', 'RolloutSucceeded']);
  t.like(engine.entry('w1'), { phase: 'Committed', reason: 'Updated' });
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
