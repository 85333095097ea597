// The describe table against a fixed clock: Monogon's layout (upper-case headers, columns
// padded to the widest cell plus three spaces), placeholders for what nodes have not reported.
import test from 'ava';
import type { MonogonNode } from '@metropolis/api';
import { heartbeatAge, renderNodeTable } from './node-table.js';

const now = new Date('2025-01-01T12:00:00Z');

const envelope = { apiVersion: 'metropolis.monogon.dev/v1alpha1', kind: 'MonogonNode' } as const;

const nodes: MonogonNode[] = [
  {
    ...envelope,
    metadata: { name: 'metropolis-067651202d00b79fffe92df0001aabff' },
    spec: { roles: ['KubernetesWorker'] },
    status: {
      state: 'UP',
      address: '10.1.0.4',
      health: 'HEALTHY',
      tpm: true,
      version: 'v0.1.0',
      lastHeartbeat: '2025-01-01T11:59:59Z',
      bootedSlot: 'B',
    },
  },
  {
    ...envelope,
    metadata: { name: 'metropolis-ec101152c48c5f761534c1910cf66200' },
    spec: { roles: ['KubernetesController', 'ConsensusMember'] },
    status: {
      state: 'UP',
      address: '10.1.0.2',
      health: 'HEARTBEAT_TIMEOUT',
      tpm: false,
      version: 'v0.2.0-dev3',
      lastHeartbeat: '2025-01-01T11:55:00Z',
      bootedSlot: 'A',
    },
  },
  { ...envelope, metadata: { name: 'metropolis-7ccd2437c50696ea9a9b6543dc163f84' }, spec: {} },
];

test('renders the node table', (t) => {
  t.is(
    renderNodeTable(nodes, now),
    [
      'NODE ID                                       STATE   ADDRESS    HEALTH              ROLES                                  TPM   VERSION       HEARTBEAT   SLOT',
      'metropolis-067651202d00b79fffe92df0001aabff   UP      10.1.0.4   HEALTHY             KubernetesWorker                       yes   v0.1.0        1s          B',
      'metropolis-ec101152c48c5f761534c1910cf66200   UP      10.1.0.2   HEARTBEAT_TIMEOUT   ConsensusMember,KubernetesController   no    v0.2.0-dev3   5m          A',
      'metropolis-7ccd2437c50696ea9a9b6543dc163f84   -       unknown    UNKNOWN             -                                      -     -             -           -',
    ].join('\n'),
  );
});

test("HEARTBEAT is the later of the node's Lease renewTime and status.lastHeartbeat", (t) => {
  const heartbeat = (heardAt: Date) =>
    renderNodeTable(nodes.slice(0, 1), now, new Map([[nodes[0]?.metadata.name ?? '', heardAt]]))
      .split('\n')[1]
      ?.split(/\s+/)[7];
  t.is(heartbeat(new Date('2025-01-01T11:59:57Z')), '1s', 'the status is newer');
  t.is(heartbeat(new Date('2025-01-01T12:00:00Z')), '0s', 'the Lease is newer');
});

test('every row splits into the same number of fields', (t) => {
  const lines = renderNodeTable(nodes, now).split('\n');
  for (const line of lines.slice(1)) t.is(line.split(/\s+/).length, 9, line);
});

test('an empty cluster renders the header only', (t) => {
  t.regex(renderNodeTable([], now), /^NODE ID {3}STATE {3}ADDRESS/);
  t.is(renderNodeTable([], now).split('\n').length, 1);
});

test('heartbeat ages read like kubectl ages', (t) => {
  const ago = (seconds: number): string => new Date(now.getTime() - seconds * 1000).toISOString();
  t.is(heartbeatAge(ago(0), now), '0s');
  t.is(heartbeatAge(ago(3), now), '3s');
  t.is(heartbeatAge(ago(119), now), '119s');
  t.is(heartbeatAge(ago(120), now), '2m');
  t.is(heartbeatAge(ago(2 * 3600), now), '2h');
  t.is(heartbeatAge(ago(3 * 86400), now), '3d');
  t.is(heartbeatAge(ago(-30), now), '0s', 'a heartbeat from the future (clock skew)');
  t.is(heartbeatAge('yesterday', now), 'yesterday');
});

test('what a node reports is printed with its control characters escaped', (t) => {
  const hostile: MonogonNode = {
    ...envelope,
    metadata: { name: 'metropolis-0123456789abcdef0123456789abcdef' },
    spec: {},
    status: { state: 'UP', version: '\u001b]0;pwn\u0007v1', lastHeartbeat: '2025-01-01T11:59:59Z' },
  };
  const table = renderNodeTable([hostile], now);
  t.false(table.includes('\u001b'));
  t.regex(table, /\\x1b\]0;pwn\\x07v1/);
});
