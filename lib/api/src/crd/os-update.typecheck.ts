// Compile-time checks of the generated OSUpdate types, run by `tsc -b` (npm run typecheck), not
// by ava: at run time they could only compare literals with themselves. A complete update and a
// list type-check, maxUnavailable is int-or-string, the enums are closed unions, and the
// constants are the literal names of the resource. Every `@ts-expect-error` line must fail to
// compile, or tsc reports the directive.
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
export const update = {
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

export const list = {
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
} satisfies OSUpdateList;

/** maxUnavailable takes a count or a percentage. */
export const strategies = [
  { maxUnavailable: 2 },
  { maxUnavailable: '25%' },
] satisfies OSUpdateStrategy[];

/** Exported, so no line is merely unused: each must be refused for the reason given. */
export const refused: readonly unknown[] = [
  // @ts-expect-error -- Retry is not a failure policy.
  'Retry' satisfies OSUpdateFailurePolicy,
  // @ts-expect-error -- Done is not a phase of the rollout.
  'Done' satisfies OSUpdatePhase,
  // @ts-expect-error -- Rebooted is not a phase of a node.
  'Rebooted' satisfies OSUpdateNodePhase,
  // @ts-expect-error -- there are two slots.
  'C' satisfies OSUpdateSlot,
  {
    key: 'zone',
    // @ts-expect-error -- Near is not a label selector operator.
    operator: 'Near',
  } satisfies OSUpdateNodeSelectorRequirement,
  // @ts-expect-error -- a spec needs a version and a bundle.
  { ...update, spec: { paused: true } } satisfies OSUpdate,
];

/** The names API paths and kubectl use, as literal types. */
export const names = [
  osUpdateGroup satisfies 'metropolis.monogon.dev',
  osUpdateVersion satisfies 'v1alpha1',
  osUpdateApiVersion satisfies 'metropolis.monogon.dev/v1alpha1',
  osUpdateKind satisfies 'OSUpdate',
  osUpdatePlural satisfies 'osupdates',
  osUpdateCrdName satisfies 'osupdates.metropolis.monogon.dev',
] as const;
