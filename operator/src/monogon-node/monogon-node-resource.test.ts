// Parsing API objects into MonogonNode types at the edge.
import test from 'ava';
import { OperatorError } from '../errors.js';
import { parseMonogonNode } from './monogon-node-resource.js';

const raw = {
  apiVersion: 'metropolis.monogon.dev/v1alpha1',
  kind: 'MonogonNode',
  metadata: {
    name: 'metropolis-ab',
    uid: 'u',
    resourceVersion: '7',
    generation: 2,
    labels: { zone: 'a' },
  },
  spec: { roles: ['KubernetesWorker'], approved: true, future: 1 },
  status: {
    state: 'UP',
    address: '10.1.0.2',
    bootOrder: ['B', 'A'],
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'NodeHealthy',
        message: 'ok',
        lastTransitionTime: 'T',
      },
    ],
  },
};

test('an API object parses into our types, unknown fields dropped', (t) => {
  const node = parseMonogonNode(raw);
  t.deepEqual(node.metadata, {
    name: 'metropolis-ab',
    uid: 'u',
    resourceVersion: '7',
    generation: 2,
    labels: { zone: 'a' },
  });
  t.deepEqual(node.spec, { roles: ['KubernetesWorker'], approved: true });
  t.deepEqual(node.status.bootOrder, ['B', 'A']);
  t.is(node.status.conditions?.[0]?.reason, 'NodeHealthy');
  t.false('health' in node.status, 'absent fields stay absent');
});

test('a missing spec or status is empty', (t) => {
  const node = parseMonogonNode({ metadata: raw.metadata });
  t.deepEqual(node.spec, {});
  t.deepEqual(node.status, {});
});

test('a known field of the wrong type is refused with its path', (t) => {
  const error = t.throws(() => parseMonogonNode({ ...raw, status: { state: 'RUNNING' } }), {
    instanceOf: OperatorError,
  });
  t.is(error.code, 'OPERATOR_MALFORMED_RESOURCE');
  t.regex(error.message, /metropolis-ab: status\.state/);
  const roles = t.throws(() => parseMonogonNode({ ...raw, spec: { roles: 'KubernetesWorker' } }), {
    instanceOf: OperatorError,
    message: /metropolis-ab: spec\.roles/,
  });
  t.is(roles.code, 'OPERATOR_MALFORMED_RESOURCE');
  const none = t.throws(() => parseMonogonNode(null), {
    instanceOf: OperatorError,
    message: /expected an object, got null/,
  });
  t.is(none.code, 'OPERATOR_MALFORMED_RESOURCE');
});
