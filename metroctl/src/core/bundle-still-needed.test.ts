// When `update apply FILE` may stop serving: the rollout is over
// or every node is past Staging; never before the operator has reported on the current spec.
import test from 'ava';
import type {
  OSUpdate,
  OSUpdateNodePhase,
  OSUpdateNodeStatus,
  OSUpdateStatus,
} from '@metropolis/api';
import { bundleStillNeeded } from './bundle-still-needed.js';

function update(status?: OSUpdateStatus, generation = 1): OSUpdate {
  return {
    apiVersion: 'metropolis.monogon.dev/v1alpha1',
    kind: 'OSUpdate',
    metadata: { name: 'os-0.2.0-x7k2q', generation },
    spec: { version: '0.2.0', bundle: { url: 'http://10.1.0.1/b', sha256: 'x' } },
    ...(status === undefined ? {} : { status }),
  };
}

const nodes = (...phases: (OSUpdateNodePhase | undefined)[]): OSUpdateNodeStatus[] =>
  phases.map((phase, i) => ({ node: `n${String(i)}`, ...(phase === undefined ? {} : { phase }) }));

test('needed until the operator has reported', (t) => {
  t.like(bundleStillNeeded(update()), { needed: true, reason: 'not-started' });
  t.like(bundleStillNeeded(update({ phase: 'Pending' })), { needed: true, reason: 'not-started' });
});

test('needed while a node is Pending or Staging', (t) => {
  t.like(bundleStillNeeded(update({ phase: 'Staging', nodes: nodes('Staging', 'Staged') })), {
    needed: true,
    reason: 'nodes-to-stage',
    staging: 1,
    pending: 0,
  });
  t.like(
    bundleStillNeeded(
      update({ phase: 'Progressing', nodes: nodes('Committed', undefined, 'Pending') }),
    ),
    { needed: true, staging: 0, pending: 2 },
  );
});

test('not needed once every node is past Staging', (t) => {
  const past: OSUpdateNodePhase[] = [
    'Staged',
    'Rebooting',
    'Verifying',
    'Committed',
    'RolledBack',
    'Failed',
    'Reverting',
    'Reverted',
  ];
  t.like(bundleStillNeeded(update({ phase: 'Progressing', nodes: nodes(...past) })), {
    needed: false,
    reason: 'all-staged',
  });
});

test('not needed once the rollout is over, whatever the nodes say', (t) => {
  for (const phase of ['Succeeded', 'Halted', 'Reverted'] as const) {
    t.like(bundleStillNeeded(update({ phase, nodes: nodes('Pending') })), {
      needed: false,
      reason: 'finished',
    });
  }
  t.like(bundleStillNeeded(update({ phase: 'Succeeded', nodes: [] })), { needed: false });
});

test('paused: still needed while nodes wait to stage, for when it is resumed', (t) => {
  t.like(bundleStillNeeded(update({ phase: 'Paused', nodes: nodes('Pending', 'Committed') })), {
    needed: true,
    reason: 'nodes-to-stage',
    pending: 1,
  });
  t.like(bundleStillNeeded(update({ phase: 'Paused', nodes: nodes('Staging', 'Pending') })), {
    needed: true,
    reason: 'nodes-to-stage',
  });
});

test('a status older than the spec decides nothing', (t) => {
  t.like(
    bundleStillNeeded(
      update({ observedGeneration: 1, phase: 'Paused', nodes: nodes('Pending') }, 2),
    ),
    {
      needed: true,
      reason: 'status-outdated',
    },
  );
  t.like(
    bundleStillNeeded(
      update({ observedGeneration: 2, phase: 'Succeeded', nodes: nodes('Committed') }, 2),
    ),
    { needed: false, reason: 'finished' },
  );
});
