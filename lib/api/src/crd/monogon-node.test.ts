// The generated MonogonNode types: a complete node type-checks, the enums are closed unions and
// the constants name the resource. Most of this test runs in `tsc -b`; ava runs the rest.
import test from 'ava';
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
const node = {
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

test('a complete MonogonNode and a list of them type-check against the generated types', (t) => {
  const list: MonogonNodeList = {
    apiVersion: monogonNodeApiVersion,
    kind: 'MonogonNodeList',
    metadata: { resourceVersion: '229' },
    items: [
      node,
      { apiVersion: node.apiVersion, kind: node.kind, metadata: node.metadata, spec: {} },
    ],
  };
  t.is(list.items.length, 2);
  // The types describe JSON: a node survives the wire unchanged.
  t.deepEqual(JSON.parse(JSON.stringify(node)), node);
});

test('the enums are closed string unions, not string', (t) => {
  // @ts-expect-error -- Janitor is not a role.
  const role: MonogonNodeRole = 'Janitor';
  // @ts-expect-error -- states are upper case, as in Monogon.
  const state: MonogonNodeState = 'Up';
  // @ts-expect-error -- there are two slots.
  const slot: MonogonNodeSlot = 'C';
  // @ts-expect-error -- a condition needs a reason, a message and a lastTransitionTime.
  const condition: MonogonNodeCondition = { type: 'RolesApplied', status: 'True' };
  // @ts-expect-error -- the kind is the literal MonogonNode.
  const wrongKind: MonogonNode = { ...node, kind: 'Node' };
  t.deepEqual(
    [role, state, slot, condition.type, wrongKind.kind],
    ['Janitor', 'Up', 'C', 'RolesApplied', 'Node'],
  );
});

test('the constants name the resource the way API paths and kubectl do', (t) => {
  t.is(monogonNodeGroup, 'metropolis.monogon.dev');
  t.is(monogonNodeVersion, 'v1alpha1');
  t.is(monogonNodeApiVersion, `${monogonNodeGroup}/${monogonNodeVersion}`);
  t.is(monogonNodeKind, 'MonogonNode');
  t.is(monogonNodePlural, 'monogonnodes');
  t.is(monogonNodeCrdName, `${monogonNodePlural}.${monogonNodeGroup}`);
});
