// The detail view of `node describe ID`: every check with its state, age and message.
import test from 'ava';
import type { MonogonNode } from '@metropolis/api';
import { renderNodeDetails } from './node-details.js';

const now = new Date('2030-01-01T00:10:00Z');

function node(status: MonogonNode['status']): MonogonNode {
  return {
    apiVersion: 'metropolis.monogon.dev/v1alpha1',
    kind: 'MonogonNode',
    metadata: { name: 'metropolis-0123' },
    spec: {},
    ...(status === undefined ? {} : { status }),
  };
}

test('every health check and condition, failing ones marked, ages as in the table', (t) => {
  const text = renderNodeDetails(
    node({
      health: 'UNHEALTHY',
      healthChecks: [
        {
          name: 'data-partition',
          ok: true,
          since: '2030-01-01T00:00:00Z',
          message: 'writable, 40% free',
        },
        {
          name: 'etcd',
          ok: false,
          since: '2030-01-01T00:09:57Z',
          message: 'not running: exited (signal SIGKILL)',
        },
      ],
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'NodeUnhealthy',
          message: 'etcd: not running: exited (signal SIGKILL)',
          lastTransitionTime: '2030-01-01T00:09:57Z',
        },
      ],
    }),
    now,
  );
  t.is(
    text,
    [
      'Node metropolis-0123: UNHEALTHY',
      'Health checks (1 failing):',
      '  CHECK            STATUS    SINCE   MESSAGE',
      '  data-partition   ok        10m     writable, 40% free',
      '  etcd             FAILING   3s      not running: exited (signal SIGKILL)',
      'Conditions:',
      '  TYPE    STATUS   REASON          SINCE   MESSAGE',
      '  Ready   False    NodeUnhealthy   3s      etcd: not running: exited (signal SIGKILL)',
    ].join('\n'),
  );
});

test('a node that reported nothing says so', (t) => {
  t.is(
    renderNodeDetails(node(undefined), now),
    'Node metropolis-0123: UNKNOWN\nHealth checks: none reported',
  );
});
