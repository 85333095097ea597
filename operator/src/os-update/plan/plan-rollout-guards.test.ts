// What holds a rollout back: etcd quorum, tier order, budget, pauses, claims by other OSUpdates;
// and what the entries and conditions of nodes that do not move say.
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
  nodesOf,
  condition,
  withStrategy,
  stageAll,
} from './fake-cluster.js';

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

test('at 500 nodes every text the status stores stays within its 1024-character field', (t) => {
  const names = Array.from(
    { length: 500 },
    (_, i) => `metropolis-${i.toString(16).padStart(32, '0')}`,
  );
  const cluster = new FakeCluster(names.map((name) => [name, worker]));
  const engine = new Engine(cluster, withStrategy({ maxUnavailable: '10%' }));
  const plan = engine.plan(stageAll(engine, t0));
  t.is(nodesOf(plan.actions, 'reboot').length, 50, 'a tenth of the fleet reboots at once');
  t.is(engine.status?.phase, 'Progressing');
  const summary = engine.status?.summary ?? '';
  t.true(summary.length <= 1024, summary);
  t.regex(summary, /^0\/500 nodes updated; updating 50 nodes: 50 Rebooting \(.+, \+47 more\)\.$/);
  const texts = [
    ...(engine.status?.conditions ?? []).map((entry) => entry.message),
    ...(engine.status?.nodes ?? []).map((entry) => entry.message ?? ''),
  ];
  const longest = texts.reduce((a, b) => (b.length > a.length ? b : a), '');
  t.true(longest.length <= 1024, longest);
});
