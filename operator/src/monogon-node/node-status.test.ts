// The pure status decisions: state, health, conditions, heartbeat timeout, grace, roles.
import test from 'ava';
import type { MonogonNodeSpec, MonogonNodeStatus } from '@metropolis/api';
import type { AgentReport } from '../node-client/agent-report.js';
import { fakeReport } from '../node-client/fake-agents.js';
import type { NodeResource } from './monogon-node-resource.js';
import {
  desiredNodeStatus,
  liveness,
  needsPromotion,
  rolesToApply,
  type NodeStatusInput,
} from './node-status.js';
import { rfc3339 } from '../kube/rfc3339.js';
import { findCondition } from '../kube/set-condition.js';
import { statusWriteDecision } from './status-write-policy.js';

const t0 = Date.parse('2030-01-01T00:00:00Z');

function node(spec: MonogonNodeSpec, status: MonogonNodeStatus, generation = 1): NodeResource {
  return {
    metadata: { name: 'metropolis-0123', uid: 'u1', resourceVersion: '1', generation },
    spec,
    status,
  };
}

const report: AgentReport = fakeReport('metropolis-0123', { bootTimeMs: t0 - 60_000 });

function input(overrides: Partial<NodeStatusInput>): NodeStatusInput {
  return {
    node: node({ approved: true }, { state: 'STANDBY', address: '10.1.0.2' }),
    observation: undefined,
    trackingSinceMs: t0,
    rolesAttempt: undefined,
    nowMs: t0,
    heartbeatTimeoutMs: 10_000,
    rolesRetryMs: 30_000,
    ...overrides,
  };
}

test('an approved node that reports becomes UP with what its agent says', (t) => {
  const { status, nextCheckAtMs } = desiredNodeStatus(
    input({ observation: { report, receivedAtMs: t0 }, nowMs: t0 + 100 }),
  );
  t.is(status.state, 'UP');
  t.is(status.health, 'HEALTHY');
  t.is(status.version, 'v0.1.0');
  t.is(status.bootedSlot, 'A');
  t.deepEqual(status.bootOrder, ['A', 'B']);
  t.deepEqual(status.runningRoles, []);
  t.is(status.lastHeartbeat, '2030-01-01T00:00:00Z');
  t.is(status.address, '10.1.0.2', 'fields of other writers are kept');
  t.is(status.observedGeneration, 1);
  t.like(findCondition(status.conditions, 'Heartbeat'), {
    status: 'True',
    reason: 'StatusReceived',
  });
  t.like(findCondition(status.conditions, 'Ready'), { status: 'True', reason: 'NodeHealthy' });
  t.like(findCondition(status.conditions, 'RolesApplied'), {
    status: 'True',
    reason: 'RolesRunning',
    observedGeneration: 1,
  });
  t.is(nextCheckAtMs, t0 + 10_001, 'looks again right after the heartbeat would time out');
});

test('rolesSummary is spec.roles sorted and comma-joined for the ROLES column, absent without roles', (t) => {
  const withRoles = node(
    { approved: true, roles: ['KubernetesController', 'ConsensusMember'] },
    { state: 'STANDBY', address: '10.1.0.2' },
  );
  t.is(
    desiredNodeStatus(input({ node: withRoles })).status.rolesSummary,
    'ConsensusMember,KubernetesController',
  );
  const dropped = node(
    { approved: true, roles: [] },
    { state: 'UP', address: '10.1.0.2', rolesSummary: 'KubernetesWorker' },
  );
  t.false('rolesSummary' in desiredNodeStatus(input({ node: dropped })).status);
});

test('an unapproved node stays NEW with unknown health, even when it talks', (t) => {
  const { status } = desiredNodeStatus(
    input({
      node: node({}, { address: '10.1.0.2' }),
      observation: { report, receivedAtMs: t0 },
    }),
  );
  t.is(status.state, 'NEW');
  t.is(status.health, 'UNKNOWN');
  t.like(findCondition(status.conditions, 'Ready'), { status: 'False', reason: 'NotApproved' });
});

test('approval without a report is STANDBY; DECOMMISSIONED is never changed', (t) => {
  t.is(
    desiredNodeStatus(input({ node: node({ approved: true }, { address: '10.1.0.2' }) })).status
      .state,
    'STANDBY',
  );
  const gone = node({ approved: true }, { state: 'DECOMMISSIONED', address: '10.1.0.2' });
  t.is(
    desiredNodeStatus(input({ node: gone, observation: { report, receivedAtMs: t0 } })).status
      .state,
    'DECOMMISSIONED',
  );
});

test('silence beyond the timeout is HEARTBEAT_TIMEOUT, and says since when', (t) => {
  const up = node({ approved: true }, { state: 'UP', health: 'HEALTHY', address: '10.1.0.2' });
  const observation = { report, receivedAtMs: t0 };
  t.is(liveness(input({ node: up, observation, nowMs: t0 + 10_000 })), 'fresh');
  const { status, nextCheckAtMs } = desiredNodeStatus(
    input({ node: up, observation, nowMs: t0 + 10_001 }),
  );
  t.is(status.state, 'UP', 'UP is membership, not liveness');
  t.is(status.health, 'HEARTBEAT_TIMEOUT');
  t.is(status.lastHeartbeat, '2030-01-01T00:00:00Z');
  const heartbeat = findCondition(status.conditions, 'Heartbeat');
  t.like(heartbeat, { status: 'False', reason: 'HeartbeatTimeout' });
  t.regex(heartbeat?.message ?? '', /since 2030-01-01T00:00:00Z \(timeout 10s\)/);
  t.like(findCondition(status.conditions, 'Ready'), {
    status: 'False',
    reason: 'HeartbeatTimeout',
  });
  t.is(nextCheckAtMs, undefined);
});

test('no report during the grace period keeps what the previous leader wrote', (t) => {
  const written = desiredNodeStatus(
    input({
      node: node({ approved: true }, { state: 'UP', address: '10.1.0.2' }),
      observation: { report, receivedAtMs: t0 },
    }),
  ).status;
  const restarted = input({
    node: node({ approved: true }, written),
    trackingSinceMs: t0 + 60_000,
    nowMs: t0 + 65_000,
  });
  t.is(liveness(restarted), 'grace');
  const { status, nextCheckAtMs } = desiredNodeStatus(restarted);
  t.deepEqual(status, written, 'nothing to write after a leader change');
  t.is(nextCheckAtMs, t0 + 70_000);
  const late = desiredNodeStatus({ ...restarted, nowMs: t0 + 70_000 }).status;
  t.is(late.health, 'HEARTBEAT_TIMEOUT');
});

test('a node never heard from times out relative to when watching began', (t) => {
  const up = node({ approved: true }, { state: 'UP', address: '10.1.0.2' });
  const { status } = desiredNodeStatus(input({ node: up, nowMs: t0 + 10_000 }));
  t.is(status.health, 'HEARTBEAT_TIMEOUT');
  t.regex(
    findCondition(status.conditions, 'Heartbeat')?.message ?? '',
    /since the operator began watching it at 2030-01-01T00:00:00Z/,
  );
});

test('without an address there is nothing to watch', (t) => {
  const { status, nextCheckAtMs } = desiredNodeStatus(
    input({ node: node({ approved: true }, { state: 'UP' }) }),
  );
  t.is(status.health, 'UNKNOWN');
  t.like(findCondition(status.conditions, 'Heartbeat'), { status: 'Unknown', reason: 'NoAddress' });
  t.is(nextCheckAtMs, undefined);
});

test('an unhealthy agent is UNHEALTHY with its reason in Ready and every check in status', (t) => {
  const sick: AgentReport = {
    ...report,
    health: 'UNHEALTHY',
    healthMessage: 'etcd: not running: exited (signal SIGKILL)',
    healthChecks: [
      { name: 'data-partition', ok: true, sinceMs: t0 - 60_000, message: 'writable, 40% free' },
      {
        name: 'etcd',
        ok: false,
        sinceMs: t0 - 1_500,
        message: 'not running: exited (signal SIGKILL)',
      },
    ],
  };
  const { status } = desiredNodeStatus(input({ observation: { report: sick, receivedAtMs: t0 } }));
  t.is(status.health, 'UNHEALTHY');
  t.like(findCondition(status.conditions, 'Ready'), {
    status: 'False',
    reason: 'NodeUnhealthy',
    message: 'etcd: not running: exited (signal SIGKILL)',
  });
  t.deepEqual(status.healthChecks, [
    {
      name: 'data-partition',
      ok: true,
      since: '2029-12-31T23:59:00Z',
      message: 'writable, 40% free',
    },
    {
      name: 'etcd',
      ok: false,
      since: '2029-12-31T23:59:58Z',
      message: 'not running: exited (signal SIGKILL)',
    },
  ]);
});

test('a health check message longer than the CRD allows is cut, not refused', (t) => {
  const long: AgentReport = {
    ...report,
    healthChecks: [{ name: 'kube-apiserver', ok: false, sinceMs: t0, message: 'x'.repeat(5000) }],
  };
  const { status } = desiredNodeStatus(input({ observation: { report: long, receivedAtMs: t0 } }));
  t.is(status.healthChecks?.[0]?.message.length, 1024);
});

test('roles: a worker the agent records but does not run is NotBuilt, with the agent words', (t) => {
  const both = node(
    { approved: true, roles: ['ConsensusMember', 'KubernetesWorker'] },
    { state: 'UP', address: '10.1.0.2' },
    3,
  );
  const recorded = {
    report: {
      ...report,
      roles: ['ConsensusMember' as const],
      appliedRoles: ['ConsensusMember' as const, 'KubernetesWorker' as const],
    },
    receivedAtMs: t0,
  };
  const applied = {
    roles: ['ConsensusMember' as const, 'KubernetesWorker' as const],
    bootTimeMs: report.bootTimeMs,
    outcome: 'applied' as const,
    message: '',
    notRunning: [{ role: 'KubernetesWorker', message: 'KubernetesWorker is not built yet' }],
    atMs: t0,
  };
  const now = input({ node: both, observation: recorded, rolesAttempt: applied });
  t.is(rolesToApply(now), undefined, 'the agent recorded them: nothing to apply');
  t.false(needsPromotion(now), 'the consensus member votes already');
  t.like(findCondition(desiredNodeStatus(now).status.conditions, 'RolesApplied'), {
    status: 'False',
    reason: 'NotBuilt',
    message: 'KubernetesWorker is not built yet',
  });
  const learner = { ...recorded, report: { ...recorded.report, roles: [] } };
  const joining = input({ node: both, observation: learner, rolesAttempt: applied });
  t.true(needsPromotion(joining), 'recorded but not voting yet: promote');
  t.like(findCondition(desiredNodeStatus(joining).status.conditions, 'RolesApplied'), {
    reason: 'Applying',
    message:
      'The node agent accepted ConsensusMember, KubernetesWorker; waiting for ConsensusMember to serve.',
  });
});

test('roles: a refused change (quorum) says why and is tried again later', (t) => {
  const leaving = node({ approved: true, roles: [] }, { state: 'UP', address: '10.1.0.2' }, 4);
  const member = {
    report: {
      ...report,
      roles: ['ConsensusMember' as const],
      appliedRoles: ['ConsensusMember' as const],
    },
    receivedAtMs: t0,
  };
  const refused = {
    roles: [],
    bootTimeMs: report.bootTimeMs,
    outcome: 'refused' as const,
    message: 'removing this member would leave 2 voting members of which only 1 are healthy',
    atMs: t0,
  };
  const soon = input({ node: leaving, observation: member, rolesAttempt: refused });
  t.is(rolesToApply(soon), undefined);
  t.like(findCondition(desiredNodeStatus(soon).status.conditions, 'RolesApplied'), {
    reason: 'Refused',
    message: refused.message,
  });
  const later = input({
    node: leaving,
    observation: { ...member, receivedAtMs: t0 + soon.rolesRetryMs },
    rolesAttempt: refused,
    nowMs: t0 + soon.rolesRetryMs,
  });
  t.deepEqual(rolesToApply(later), []);
});

test('roles: asked once per agent boot; UNIMPLEMENTED is NotBuilt with the agent words', (t) => {
  const worker = node(
    { approved: true, roles: ['KubernetesWorker'] },
    { state: 'UP', address: '10.1.0.2' },
    2,
  );
  const observation = { report, receivedAtMs: t0 };
  t.deepEqual(rolesToApply(input({ node: worker, observation })), ['KubernetesWorker']);
  const notBuilt = {
    roles: ['KubernetesWorker' as const],
    bootTimeMs: report.bootTimeMs,
    outcome: 'notBuilt' as const,
    message: 'node roles are not built yet',
    atMs: t0,
  };
  const after = input({ node: worker, observation, rolesAttempt: notBuilt, nowMs: t0 + 999_999 });
  t.is(rolesToApply(after), undefined, 'not asked again of the same boot');
  const { status } = desiredNodeStatus(after);
  t.like(findCondition(status.conditions, 'RolesApplied'), {
    status: 'False',
    reason: 'NotBuilt',
    message: 'node roles are not built yet',
    observedGeneration: 2,
  });
  t.deepEqual(status.runningRoles, [], 'never pretends roles run');
  const rebooted = { report: { ...report, bootTimeMs: t0 + 1 }, receivedAtMs: t0 + 2 };
  t.deepEqual(
    rolesToApply({ ...after, observation: rebooted, nowMs: t0 + 3 }),
    ['KubernetesWorker'],
    'a rebooted agent (maybe a newer version) is asked again',
  );
});

test('roles: a failed call is retried after the retry period; roles matching need no call', (t) => {
  const worker = node(
    { approved: true, roles: ['KubernetesWorker'] },
    { state: 'UP', address: '10.1.0.2' },
  );
  const observation = { report, receivedAtMs: t0 };
  const failed = {
    roles: ['KubernetesWorker' as const],
    bootTimeMs: report.bootTimeMs,
    outcome: 'failed' as const,
    message: 'deadline exceeded',
    atMs: t0,
  };
  const base = input({ node: worker, observation, rolesAttempt: failed, nowMs: t0 + 5_000 });
  t.is(rolesToApply(base), undefined);
  t.is(desiredNodeStatus(base).nextCheckAtMs, t0 + 10_001);
  t.like(findCondition(desiredNodeStatus(base).status.conditions, 'RolesApplied'), {
    reason: 'ApplyFailed',
  });
  const fresh = { report, receivedAtMs: t0 + 29_000 };
  t.deepEqual(rolesToApply({ ...base, observation: fresh, nowMs: t0 + 30_000 }), [
    'KubernetesWorker',
  ]);
  const recorded = {
    report: { ...report, appliedRoles: ['KubernetesWorker' as const] },
    receivedAtMs: t0,
  };
  t.is(rolesToApply(input({ node: worker, observation: recorded })), undefined);
  t.is(
    rolesToApply(
      input({ node: node({ roles: ['KubernetesWorker'] }, { address: '10.1.0.2' }), observation }),
    ),
    undefined,
    'not for unapproved nodes',
  );
});

test('reconciling the same inputs twice writes nothing the second time', (t) => {
  const first = input({ observation: { report, receivedAtMs: t0 } });
  const once = desiredNodeStatus(first).status;
  const again = desiredNodeStatus({
    ...first,
    node: node({ approved: true }, once),
    nowMs: t0 + 500,
  }).status;
  t.deepEqual(statusWriteDecision(once, again, 30_000), { kind: 'none' });
});

test('conditions keep their transition time while their status holds', (t) => {
  const up = node({ approved: true }, { state: 'UP', address: '10.1.0.2' });
  const one = desiredNodeStatus(
    input({ node: up, observation: { report, receivedAtMs: t0 } }),
  ).status;
  const sick = { ...report, health: 'UNHEALTHY' as const, healthMessage: 'disk' };
  const two = desiredNodeStatus(
    input({
      node: node({ approved: true }, one),
      observation: { report: sick, receivedAtMs: t0 + 5_000 },
      nowMs: t0 + 5_000,
    }),
  ).status;
  t.is(findCondition(two.conditions, 'Heartbeat')?.lastTransitionTime, rfc3339(t0));
  t.is(findCondition(two.conditions, 'Ready')?.lastTransitionTime, rfc3339(t0 + 5_000));
});

test('a new leader keeps the stored roles condition until its own attempt says otherwise', (t) => {
  const worker = node(
    { approved: true, roles: ['KubernetesWorker'] },
    { state: 'UP', address: '10.1.0.2' },
    3,
  );
  const observation = { report, receivedAtMs: t0 };
  const notBuilt = {
    roles: ['KubernetesWorker' as const],
    bootTimeMs: report.bootTimeMs,
    outcome: 'notBuilt' as const,
    message: 'not built yet',
    atMs: t0,
  };
  const written = desiredNodeStatus(
    input({ node: worker, observation, rolesAttempt: notBuilt }),
  ).status;
  // The next leader: same object, nothing in memory, first report just in.
  const next = input({ node: node(worker.spec, written, 3), observation, nowMs: t0 + 1_000 });
  t.deepEqual(rolesToApply(next), ['KubernetesWorker'], 'it asks once itself');
  t.deepEqual(
    findCondition(desiredNodeStatus(next).status.conditions, 'RolesApplied'),
    findCondition(written.conditions, 'RolesApplied'),
  );
  // A spec change makes the stored condition stale.
  const changed = { ...next, node: node({ approved: true, roles: [] }, written, 4) };
  t.like(findCondition(desiredNodeStatus(changed).status.conditions, 'RolesApplied'), {
    status: 'True',
    reason: 'RolesRunning',
  });
});

test('a reported version that is not a release version is not written; the last valid one stays', (t) => {
  const valid = desiredNodeStatus(input({ observation: { report, receivedAtMs: t0 } })).status;
  t.is(valid.version, report.version);
  const hostile: AgentReport = { ...report, version: '\u001b]0;pwn\u0007' };
  const { status } = desiredNodeStatus(
    input({
      node: node({ approved: true }, valid),
      observation: { report: hostile, receivedAtMs: t0 + 1000 },
    }),
  );
  t.is(status.version, report.version);
});

test("an unhealthy agent's message in Ready is cut to 1024 characters", (t) => {
  const sick: AgentReport = { ...report, health: 'UNHEALTHY', healthMessage: 'y'.repeat(5000) };
  const { status } = desiredNodeStatus(input({ observation: { report: sick, receivedAtMs: t0 } }));
  t.is(findCondition(status.conditions, 'Ready')?.message.length, 1024);
});
