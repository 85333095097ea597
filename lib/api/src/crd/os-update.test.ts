// The generated OSUpdate types: a complete update type-checks, the enums are closed unions,
// maxUnavailable is int-or-string and the constants name the resource. Mostly checked by tsc -b.
import test from 'ava';
import {
  osUpdateApiVersion,
  osUpdateCrdName,
  osUpdateGroup,
  osUpdateKind,
  osUpdatePlural,
  osUpdateVersion,
  type OSUpdate,
  type OSUpdateFailurePolicy,
  type OSUpdateList,
  type OSUpdateNodePhase,
  type OSUpdateNodeSelectorRequirement,
  type OSUpdatePhase,
  type OSUpdateSlot,
  type OSUpdateStrategy,
} from '../index.js';

/** Every field set, as the owner and the operator would halfway through a rollout. */
const update = {
  apiVersion: osUpdateApiVersion,
  kind: osUpdateKind,
  metadata: { name: 'to-0.2.0', uid: '0b7a1c52-5d1e-4f43-9e0c-3d2f7c1a9e11', generation: 1 },
  spec: {
    version: '0.2.0',
    bundle: {
      url: 'https://releases.example.com/metropolis-0.2.0.bundle',
      sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    },
    nodeSelector: {
      matchLabels: { 'example.com/rack': 'r1' },
      matchExpressions: [{ key: 'example.com/canary', operator: 'Exists' }],
    },
    strategy: {
      maxUnavailable: '50%',
      bootTimeout: '10m',
      healthTimeout: '5m',
      failurePolicy: 'Halt',
    },
    paused: false,
  },
  status: {
    observedGeneration: 1,
    phase: 'Progressing',
    summary: '1/2 nodes updated; updating metropolis-ab12 (Verifying)',
    updated: '1/2',
    counts: {
      total: 2,
      pending: 0,
      staged: 0,
      updating: 1,
      committed: 1,
      rolledBack: 0,
      failed: 0,
      reverted: 0,
    },
    nodes: [
      {
        node: 'metropolis-0123456789abcdef0123456789abcdef',
        phase: 'Verifying',
        fromVersion: '0.1.0',
        toVersion: '0.2.0',
        fromSlot: 'A',
        toSlot: 'B',
        startedAt: '2026-01-01T00:00:00Z',
        bootTimeBeforeReboot: '2025-12-31T08:00:00Z',
        rebootRequestedAt: '2026-01-01T00:01:00Z',
        reason: 'WaitingForHealthy',
        message: 'back on slot B; waiting for its roles to serve',
      },
    ],
    conditions: [
      {
        type: 'Progressing',
        status: 'True',
        reason: 'NodesUpdating',
        message: '',
        lastTransitionTime: '2026-01-01T00:00:00Z',
        observedGeneration: 1,
      },
    ],
  },
} satisfies OSUpdate;

test('a complete OSUpdate and a list of them type-check against the generated types', (t) => {
  const list: OSUpdateList = {
    apiVersion: osUpdateApiVersion,
    kind: 'OSUpdateList',
    metadata: { resourceVersion: '12' },
    items: [
      update,
      {
        apiVersion: update.apiVersion,
        kind: update.kind,
        metadata: { name: 'minimal' },
        spec: { version: '0.2.0', bundle: update.spec.bundle },
      },
    ],
  };
  t.is(list.items.length, 2);
  t.deepEqual(JSON.parse(JSON.stringify(update)), update);
});

test('maxUnavailable is an integer or a string, the enums are closed unions', (t) => {
  const count: OSUpdateStrategy = { maxUnavailable: 2 };
  const percentage: OSUpdateStrategy = { maxUnavailable: '25%' };
  // @ts-expect-error -- Retry is not a failure policy.
  const policy: OSUpdateFailurePolicy = 'Retry';
  // @ts-expect-error -- Done is not a phase of the rollout.
  const phase: OSUpdatePhase = 'Done';
  // @ts-expect-error -- Rebooted is not a phase of a node.
  const nodePhase: OSUpdateNodePhase = 'Rebooted';
  // @ts-expect-error -- there are two slots.
  const slot: OSUpdateSlot = 'C';
  const requirement: OSUpdateNodeSelectorRequirement = {
    key: 'zone',
    // @ts-expect-error -- Near is not a label selector operator.
    operator: 'Near',
  };
  // @ts-expect-error -- a spec needs a version and a bundle.
  const bare: OSUpdate = { ...update, spec: { paused: true } };
  t.deepEqual(
    [
      count.maxUnavailable,
      percentage.maxUnavailable,
      policy,
      phase,
      nodePhase,
      slot,
      requirement.operator,
    ],
    [2, '25%', 'Retry', 'Done', 'Rebooted', 'C', 'Near'],
  );
  t.true(bare.spec.paused);
});

test('the constants name the resource the way API paths and kubectl do', (t) => {
  t.is(osUpdateGroup, 'metropolis.monogon.dev');
  t.is(osUpdateVersion, 'v1alpha1');
  t.is(osUpdateApiVersion, `${osUpdateGroup}/${osUpdateVersion}`);
  t.is(osUpdateKind, 'OSUpdate');
  t.is(osUpdatePlural, 'osupdates');
  t.is(osUpdateCrdName, `${osUpdatePlural}.${osUpdateGroup}`);
});
