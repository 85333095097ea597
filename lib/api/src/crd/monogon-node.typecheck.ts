// Compile-time checks of the generated MonogonNode types, run by `tsc -b` (npm run typecheck),
// not by ava: at run time they could only compare literals with themselves. A complete node and a
// list type-check, the enums are closed unions, and the constants are the literal names of the
// resource. Every `@ts-expect-error` line must fail to compile, or tsc reports the directive.
import {
  monogonNodeApiVersion,
  monogonNodeCrdName,
  monogonNodeGroup,
  monogonNodeKind,
  monogonNodePlural,
  monogonNodeVersion,
  type MonogonNode,
  type MonogonNodeCondition,
  type MonogonNodeList,
  type MonogonNodeRole,
  type MonogonNodeSlot,
  type MonogonNodeState,
} from '../index.js';

/** Every field set, as the operator and the node agent would after a node came UP. */
export const node = {
  apiVersion: monogonNodeApiVersion,
  kind: monogonNodeKind,
  metadata: {
    name: 'metropolis-0123456789abcdef0123456789abcdef',
    uid: '4588121e-de69-4a58-b17f-485f46fca518',
    resourceVersion: '228',
    generation: 2,
    labels: { 'example.com/rack': 'r1' },
  },
  spec: { roles: ['ConsensusMember', 'KubernetesController'], approved: true },
  status: {
    state: 'UP',
    health: 'HEALTHY',
    address: '10.0.0.3',
    tpm: true,
    version: '0.1.0-dev12.g1234abcd',
    bootedSlot: 'A',
    bootOrder: ['A', 'B'],
    runningRoles: ['ConsensusMember'],
    lastHeartbeat: '2026-01-01T00:00:05Z',
    conditions: [
      {
        type: 'RolesApplied',
        status: 'False',
        reason: 'Starting',
        message: 'KubernetesController is starting',
        lastTransitionTime: '2026-01-01T00:00:00Z',
        observedGeneration: 2,
      },
    ],
    observedGeneration: 2,
  },
} satisfies MonogonNode;

export const list = {
  apiVersion: monogonNodeApiVersion,
  kind: 'MonogonNodeList',
  metadata: { resourceVersion: '229' },
  items: [
    node,
    { apiVersion: node.apiVersion, kind: node.kind, metadata: node.metadata, spec: {} },
  ],
} satisfies MonogonNodeList;

/** Exported, so no line is merely unused: each must be refused for the reason given. */
export const refused: readonly unknown[] = [
  // @ts-expect-error -- Janitor is not a role.
  'Janitor' satisfies MonogonNodeRole,
  // @ts-expect-error -- states are upper case, as in Monogon.
  'Up' satisfies MonogonNodeState,
  // @ts-expect-error -- there are two slots.
  'C' satisfies MonogonNodeSlot,
  // @ts-expect-error -- a condition needs a reason, a message and a lastTransitionTime.
  { type: 'RolesApplied', status: 'True' } satisfies MonogonNodeCondition,
  // @ts-expect-error -- the kind is the literal MonogonNode.
  { ...node, kind: 'Node' } satisfies MonogonNode,
];

/** The names API paths and kubectl use, as literal types. */
export const names = [
  monogonNodeGroup satisfies 'metropolis.monogon.dev',
  monogonNodeVersion satisfies 'v1alpha1',
  monogonNodeApiVersion satisfies 'metropolis.monogon.dev/v1alpha1',
  monogonNodeKind satisfies 'MonogonNode',
  monogonNodePlural satisfies 'monogonnodes',
  monogonNodeCrdName satisfies 'monogonnodes.metropolis.monogon.dev',
] as const;
