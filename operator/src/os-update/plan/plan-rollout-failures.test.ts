// The rollout's decisions when nodes fail: stage failures, boot, health and commit timeouts,
// rollbacks, and failurePolicy Halt and Revert.
import test from 'ava';
import {
  t0,
  second,
  minute,
  worker,
  FakeCluster,
  spec,
  Engine,
  kinds,
  nodesOf,
  condition,
  withStrategy,
  stageAll,
  rebootAndReturn,
} from './fake-cluster.js';

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

test('a revert starts without the unhealthy reason of the update before it', (t) => {
  const cluster = new FakeCluster([
    ['w1', worker],
    ['w2', worker],
  ]);
  const engine = new Engine(cluster, withStrategy({ failurePolicy: 'Revert' }));
  let now = stageAll(engine, t0);
  engine.plan(now);
  now = rebootAndReturn(engine, 'w1', now + second);
  cluster.node('w1').healthy = false;
  engine.plan(now);
  t.truthy(engine.entry('w1').unhealthyOnTarget, 'unhealthy for a while on the new slot');
  cluster.node('w1').healthy = true;
  engine.plan(now + second);
  engine.plan(now + 2 * second);
  t.like(engine.entry('w1'), { phase: 'Committed' });
  cluster.node('w2').badVersions.add('0.2.0');
  now = rebootAndReturn(engine, 'w2', now + 3 * second);
  engine.plan(now);
  t.like(engine.entry('w1'), { phase: 'Reverting', reason: 'RevertRebooting' });
  t.is(engine.entry('w1').unhealthyOnTarget, undefined);
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
