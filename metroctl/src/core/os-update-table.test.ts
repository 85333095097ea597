// The `update status` tables against a fixed clock: all updates, and one update's description
// with its notable conditions and node table.
import test from 'ava';
import type { OSUpdate, OSUpdateCondition } from '@metropolis/api';
import { describeOSUpdate, notableConditions } from './os-update-description.js';
import { renderOSUpdateTable } from './os-update-table.js';

const now = new Date('2026-01-01T12:00:00Z');
const envelope = { apiVersion: 'metropolis.monogon.dev/v1alpha1', kind: 'OSUpdate' } as const;
const bundle = {
  url: 'http://10.1.0.1:41234/bundles/e3b0.bundle',
  sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
};
const nodeA = 'metropolis-067651202d00b79fffe92df0001aabff';
const nodeB = 'metropolis-ec101152c48c5f761534c1910cf66200';

const condition = (
  type: string,
  status: OSUpdateCondition['status'],
  reason: string,
  message: string,
): OSUpdateCondition => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2026-01-01T11:00:00Z',
});

// As the wire has it; the generated ObjectMeta leaves creationTimestamp out (lib/api explains).
const metadata = {
  name: 'os-0.2.0-x7k2q',
  generation: 1,
  creationTimestamp: '2026-01-01T11:55:00Z',
};

const progressing: OSUpdate = {
  ...envelope,
  metadata,
  spec: { version: '0.2.0', bundle },
  status: {
    observedGeneration: 1,
    phase: 'Progressing',
    updated: '1/2',
    summary: `1/2 nodes updated; updating ${nodeB} (Verifying)`,
    conditions: [
      condition('Progressing', 'True', 'Progressing', 'restates the summary'),
      condition('Complete', 'False', 'Progressing', 'Not every selected node is updated yet.'),
      condition('Failed', 'False', 'NoFailure', 'No node failed.'),
      condition('Blocked', 'True', 'WaitingForOtherUpdate', `${nodeA} waits for OSUpdate old`),
    ],
    nodes: [
      {
        node: nodeB,
        phase: 'Verifying',
        fromVersion: '0.1.0',
        toVersion: '0.2.0',
        fromSlot: 'A',
        toSlot: 'B',
        startedAt: '2026-01-01T11:58:00Z',
        reason: 'WaitingForHealthy',
        message: 'back on slot B;\nwaiting for its roles',
      },
      {
        node: nodeA,
        phase: 'Committed',
        fromVersion: '0.1.0',
        toVersion: '0.2.0',
        fromSlot: 'B',
        toSlot: 'A',
        startedAt: '2026-01-01T11:56:00Z',
      },
    ],
  },
};

const fresh: OSUpdate = {
  ...envelope,
  metadata: { name: 'to-0.3.0' },
  spec: { version: '0.3.0', bundle, paused: true },
};

test('the table of all updates', (t) => {
  t.is(
    renderOSUpdateTable([progressing, fresh], now),
    [
      'NAME             VERSION   PHASE         UPDATED   AGE   SUMMARY',
      `os-0.2.0-x7k2q   0.2.0     Progressing   1/2       5m    1/2 nodes updated; updating ${nodeB} (Verifying)`,
      'to-0.3.0         0.3.0     -             -         -     -',
    ].join('\n'),
  );
});

test('the first five columns split on whitespace', (t) => {
  for (const line of renderOSUpdateTable([progressing, fresh], now).split('\n').slice(1)) {
    t.true(line.split(/\s+/).length >= 6, line);
  }
});

test('one update: phase, summary, notable conditions, nodes', (t) => {
  t.is(
    describeOSUpdate(progressing, now),
    [
      'Name:     os-0.2.0-x7k2q',
      'Version:  0.2.0',
      'Phase:    Progressing',
      'Updated:  1/2',
      `Summary:  1/2 nodes updated; updating ${nodeB} (Verifying)`,
      `Bundle:   ${bundle.url}`,
      'Age:      5m',
      '',
      'Conditions:',
      `  Blocked=True WaitingForOtherUpdate: ${nodeA} waits for OSUpdate old`,
      '',
      'NODE                                          PHASE       FROM    TO      SLOT   STARTED   REASON/MESSAGE',
      `${nodeA}   Committed   0.1.0   0.2.0   B→A    4m        -`,
      `${nodeB}   Verifying   0.1.0   0.2.0   A→B    2m        WaitingForHealthy: back on slot B; waiting for its roles`,
    ].join('\n'),
  );
});

test('an update the operator has not reported on', (t) => {
  t.is(
    describeOSUpdate(fresh, now),
    [
      'Name:     to-0.3.0',
      'Version:  0.3.0',
      'Phase:    not reported yet (paused)',
      'Updated:  -',
      'Summary:  -',
      `Bundle:   ${bundle.url}`,
      'Age:      -',
      '',
      'No nodes reported yet.',
    ].join('\n'),
  );
});

test('a status older than the spec says so', (t) => {
  const changed: OSUpdate = {
    ...progressing,
    metadata: { ...progressing.metadata, generation: 2 },
  };
  t.regex(
    describeOSUpdate(changed, now),
    /\nNote: {5}the operator has not acted on the latest spec change yet\n/,
  );
});

test('conditions: Progressing and Complete restate the phase; False Failed/Blocked is calm', (t) => {
  const all = [
    condition('Progressing', 'False', 'Halted', 's'),
    condition('Complete', 'True', 'Succeeded', 's'),
    condition('Failed', 'True', 'BootTimeout', 'metropolis-x did not come back'),
    condition('Failed', 'False', 'NoFailure', 'No node failed.'),
    condition('Blocked', 'Unknown', 'Unknown', '?'),
    condition('example.com/Audited', 'False', 'NotYet', 'later'),
  ];
  t.deepEqual(
    notableConditions(all).map((c) => `${c.type}=${c.status}`),
    ['Failed=True', 'Blocked=Unknown', 'example.com/Audited=False'],
  );
});
